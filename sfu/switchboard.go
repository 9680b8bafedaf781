package sfu

import (
	"cmp"
	"crypto/subtle"
	"maps"
	"slices"
)

// session is one Janus handle.
type session struct {
	id SessionID

	joined    bool
	publisher bool // joined with subscribe.data = true
	roomID    string
	userID    string

	subscription *Subscription
	media        SessionID // the publisher whose media we receive

	subscriberOffer string     // as a publisher: the offer its subscribers get
	payloads        PayloadMap // as a publisher: which kinds it sends (multistream lines)
	ms              *msSub     // a multistream subscriber's lines (streams.go)
	mediaUp         bool
	// reconnectSecret, for a publisher, lets a later join of the same
	// user and room replace this handle (auth off only).
	reconnectSecret string

	// routes are this session's routes as last published. They are
	// updated in place by each change (never recomputed from the room),
	// so a join or leave costs work for the sessions it changes only.
	// The slices are never written after publication: changes copy.
	routes Routes
	mark   uint64 // switchboard.gen when last added to a change set
}

// switchboard is the room graph. Every method expects Server.mu held.
type switchboard struct {
	sessions map[SessionID]*session
	// rooms maps a room to its publisher sessions.
	rooms map[string]map[SessionID]*session
	// users maps a user to all of its joined sessions, publishers and
	// subscribers, across rooms.
	users map[string]map[SessionID]*session
	// subscribers maps a publisher to the sessions receiving its media.
	subscribers map[SessionID]map[SessionID]*session
	// groups maps a room to its data group (the room's publishers).
	groups    map[string]*dataGroup
	lastGroup GroupID
	// blocks holds (blocker, blocked) user pairs. They outlive sessions, as
	// in the Rust plugin, so a reconnect does not lift a block.
	blocks map[[2]string]struct{}

	// roomPublishers counts publisher handles per room and user: its
	// inner maps' lengths are the room sizes max_room_size limits.
	roomPublishers map[string]map[string]int
	// roomUserList holds the keys of roomPublishers[room], sorted; never
	// written after being handed out (changes copy).
	roomUserList map[string][]string
	// publishingUsers counts publisher handles per user: its length is
	// what max_ccu limits.
	publishingUsers map[string]int

	idx blockIndex // bounds of blocks (blocks.go)

	gen uint64 // change-set generation, see changes

	ms msIndex // multistream subscriptions (streams.go)
}

func newSwitchboard() *switchboard {
	b := &switchboard{
		sessions:        make(map[SessionID]*session),
		rooms:           make(map[string]map[SessionID]*session),
		users:           make(map[string]map[SessionID]*session),
		subscribers:     make(map[SessionID]map[SessionID]*session),
		groups:          make(map[string]*dataGroup),
		blocks:          make(map[[2]string]struct{}),
		roomPublishers:  make(map[string]map[string]int),
		roomUserList:    make(map[string][]string),
		publishingUsers: make(map[string]int),
	}
	b.idx.init()
	return b
}

// dataGroup is a room's shared data-channel recipient list: every
// publisher of the room, each of which sends to all the others through it
// (Routes.DataGroup), except the exceptions.
type dataGroup struct {
	id GroupID
	// members are the room's publishers, sorted; never written after
	// publication (changes copy).
	members []SessionID
	// exceptions are the members with a data route of their own
	// (ownDataRoute): a join or leave edits their lists one by one.
	exceptions map[SessionID]*session
	mark       uint64 // switchboard.gen when last added to a change set
}

// changes collects the sessions whose routes one operation changed, and
// the data groups whose members it changed, each once, without a map.
type changes struct {
	gen    uint64
	list   []*session
	groups []*dataGroup
}

func (b *switchboard) newChanges() *changes {
	b.gen++
	return &changes{gen: b.gen}
}

func (c *changes) add(s *session) {
	if s.mark != c.gen {
		s.mark = c.gen
		c.list = append(c.list, s)
	}
}

func (c *changes) addGroup(g *dataGroup) {
	if g.mark != c.gen {
		g.mark = c.gen
		c.groups = append(c.groups, g)
	}
}

// ownDataRoute reports whether a publisher sends its data through a list
// of its own instead of its room's group: when its user takes part in a
// block (either side; blocks are rare), so that neither side's data
// reaches the other. It does not depend on who is in the room, so joins
// and leaves never change it; block and unblock refresh both sides.
func (b *switchboard) ownDataRoute(s *session) bool {
	return len(b.idx.byUser[s.userID]) > 0
}

// dataRecipients computes from scratch where a publisher's data goes: the
// other publishers of its room, less the blocked ones.
func (b *switchboard) dataRecipients(s *session) []SessionID {
	var out []SessionID
	for _, o := range b.rooms[s.roomID] {
		if o.id != s.id && !b.blocked(s.userID, o.userID) {
			out = append(out, o.id)
		}
	}
	slices.Sort(out)
	return out
}

// insertID returns a copy of the sorted list with id added.
func insertID[T cmp.Ordered](list []T, id T) []T {
	i, found := slices.BinarySearch(list, id)
	if found {
		return list
	}
	out := make([]T, len(list)+1)
	copy(out, list[:i])
	out[i] = id
	copy(out[i+1:], list[i:])
	return out
}

// removeID returns a copy of the sorted list without id.
func removeID[T cmp.Ordered](list []T, id T) []T {
	i, found := slices.BinarySearch(list, id)
	if !found {
		return list
	}
	if len(list) == 1 {
		return nil
	}
	out := make([]T, 0, len(list)-1)
	out = append(out, list[:i]...)
	return append(out, list[i+1:]...)
}

func (b *switchboard) blocked(a, c string) bool {
	if len(b.blocks) == 0 {
		return false
	}
	_, x := b.blocks[[2]string{a, c}]
	_, y := b.blocks[[2]string{c, a}]
	return x || y
}

// roomUsers lists the distinct users publishing in a room, sorted. The
// list is shared: callers must not modify it.
func (b *switchboard) roomUsers(room string) []string {
	if l := b.roomUserList[room]; l != nil {
		return l
	}
	return []string{} // never nil: the join response lists [] for an empty room
}

// publishesIn reports whether a user has a publisher in a room.
func (b *switchboard) publishesIn(user, room string) bool {
	return b.roomPublishers[room][user] > 0
}

// publisherUsers is the set of users publishing anywhere.
func (b *switchboard) publisherUsers() map[string]int { return b.publishingUsers }

// publisherOf finds the publisher that carries a user's media: the oldest
// one, preferring the given room (a user normally has exactly one).
func (b *switchboard) publisherOf(user, room string) *session {
	var best *session
	for _, s := range b.users[user] {
		if !s.publisher {
			continue
		}
		if best == nil || preferred(s, best, room) {
			best = s
		}
	}
	return best
}

// handlesIn returns a user's joined handles in a room, in id order.
func (b *switchboard) handlesIn(user, room string) []*session {
	var out []*session
	for _, s := range byID(b.users[user]) {
		if s.roomID == room {
			out = append(out, s)
		}
	}
	return out
}

// secretMatches reports whether one of the user's publishers in the room
// was handed this reconnect secret.
func (b *switchboard) secretMatches(user, room, secret string) bool {
	for _, s := range b.users[user] {
		if s.publisher && s.roomID == room && s.reconnectSecret != "" &&
			subtle.ConstantTimeCompare([]byte(s.reconnectSecret), []byte(secret)) == 1 {
			return true
		}
	}
	return false
}

// publisherIn finds the publisher of a user in one room: the oldest.
func (b *switchboard) publisherIn(user, room string) *session {
	var best *session
	for _, s := range b.users[user] {
		if s.publisher && s.roomID == room && (best == nil || s.id < best.id) {
			best = s
		}
	}
	return best
}

func preferred(a, b *session, room string) bool {
	if ain, bin := a.roomID == room, b.roomID == room; ain != bin {
		return ain
	}
	return a.id < b.id
}

// publishersIn returns a room's publishers in id order (its data group's
// members are that order already: no sort).
func (b *switchboard) publishersIn(room string) []*session {
	g := b.groups[room]
	if g == nil {
		return nil
	}
	pubs := b.rooms[room]
	out := make([]*session, 0, len(g.members))
	for _, id := range g.members {
		out = append(out, pubs[id])
	}
	return out
}

// byID returns the sessions of m in id order.
func byID(m map[SessionID]*session) []*session {
	return slices.SortedFunc(maps.Values(m), func(a, b *session) int { return cmp.Compare(a.id, b.id) })
}

// routes computes from scratch what the relay path needs for one session:
// the reference that the incrementally kept session.routes must equal.
func (b *switchboard) routes(id SessionID) Routes {
	s := b.sessions[id]
	var r Routes
	if s == nil || !s.joined {
		return r
	}
	if s.publisher {
		for _, sub := range b.subscribers[id] {
			if !b.blocked(s.userID, sub.userID) {
				r.RTP = append(r.RTP, sub.id)
			}
		}
		if b.ownDataRoute(s) {
			r.Data = b.dataRecipients(s)
		} else if g := b.groups[s.roomID]; g != nil {
			r.DataGroup = g.id
		}
	}
	if p := b.sessions[s.media]; p != nil && s.media != 0 && !b.blocked(s.userID, p.userID) {
		r.Keyframe = []SessionID{p.id}
	}
	b.msReference(s, &r)
	slices.Sort(r.RTP)
	return r
}

// refresh recomputes the routes of the given sessions from scratch (blocks
// change routes in ways not worth tracking incrementally; they are rare),
// and which of them are their group's exceptions.
func (b *switchboard) refresh(ids map[SessionID]struct{}) *changes {
	c := b.newChanges()
	for id := range ids {
		if s := b.sessions[id]; s != nil {
			s.routes = b.routes(id)
			c.add(s)
			if g := b.groups[s.roomID]; g != nil && s.joined && s.publisher {
				if b.ownDataRoute(s) {
					g.exceptions[s.id] = s
				} else {
					delete(g.exceptions, s.id)
				}
			}
		}
	}
	b.msRefreshed(ids, c)
	return c
}

// join records a validated join and updates the routes it changes: the
// new session's, its room's data group (one entry), the data routes of
// the group's exceptions (one entry each) and its media publisher's RTP
// route.
func (b *switchboard) join(s *session, room, user string, sub *Subscription, media *session) *changes {
	c := b.newChanges()
	s.joined = true
	s.roomID, s.userID = room, user
	s.subscription = sub
	s.publisher = sub != nil && sub.Data
	if b.users[user] == nil {
		b.users[user] = map[SessionID]*session{}
		b.arrived(user)
	}
	b.users[user][s.id] = s
	if s.publisher {
		if b.rooms[room] == nil {
			b.rooms[room] = map[SessionID]*session{}
			b.roomPublishers[room] = map[string]int{}
			b.lastGroup++
			b.groups[room] = &dataGroup{id: b.lastGroup, exceptions: map[SessionID]*session{}}
		}
		g := b.groups[room]
		for _, o := range g.exceptions {
			if !b.blocked(user, o.userID) {
				o.routes.Data = insertID(o.routes.Data, s.id)
				c.add(o)
			}
		}
		g.members = insertID(g.members, s.id)
		c.addGroup(g)
		if b.ownDataRoute(s) {
			g.exceptions[s.id] = s
		}
		b.rooms[room][s.id] = s
		if b.roomPublishers[room][user] == 0 {
			b.roomUserList[room] = insertID(b.roomUserList[room], user)
		}
		b.roomPublishers[room][user]++
		b.publishingUsers[user]++
	}
	if media != nil {
		s.media = media.id
		if b.subscribers[media.id] == nil {
			b.subscribers[media.id] = map[SessionID]*session{}
		}
		b.subscribers[media.id][s.id] = s
		if !b.blocked(user, media.userID) {
			media.routes.RTP = insertID(media.routes.RTP, s.id)
			c.add(media)
		}
	}
	s.routes = b.routes(s.id)
	c.add(s)
	return c
}

// remove forgets a session and returns the events to send (leave) and the
// sessions whose routes changed.
func (b *switchboard) remove(id SessionID) ([]outgoing, *changes) {
	c := b.newChanges()
	s := b.sessions[id]
	if s == nil {
		return nil, c
	}
	delete(b.sessions, id)
	if !s.joined {
		return nil, c
	}
	if s.publisher {
		delete(b.rooms[s.roomID], id)
		if n := b.roomPublishers[s.roomID][s.userID] - 1; n > 0 {
			b.roomPublishers[s.roomID][s.userID] = n
		} else {
			delete(b.roomPublishers[s.roomID], s.userID)
			b.roomUserList[s.roomID] = removeID(b.roomUserList[s.roomID], s.userID)
		}
		if n := b.publishingUsers[s.userID] - 1; n > 0 {
			b.publishingUsers[s.userID] = n
		} else {
			delete(b.publishingUsers, s.userID)
		}
		g := b.groups[s.roomID]
		g.members = removeID(g.members, id)
		delete(g.exceptions, id)
		c.addGroup(g)
		if len(b.rooms[s.roomID]) == 0 {
			// Its last (empty) members go out with this change.
			delete(b.rooms, s.roomID)
			delete(b.roomPublishers, s.roomID)
			delete(b.roomUserList, s.roomID)
			delete(b.groups, s.roomID)
		}
		for _, o := range g.exceptions {
			if r := removeID(o.routes.Data, id); len(r) != len(o.routes.Data) {
				o.routes.Data = r
				c.add(o)
			}
		}
		for _, sub := range b.subscribers[id] {
			if sub.media == id {
				sub.media = 0
			}
			if sub.routes.Keyframe != nil {
				sub.routes.Keyframe = nil
				c.add(sub)
			}
		}
		delete(b.subscribers, id)
	}
	if s.media != 0 {
		if subs := b.subscribers[s.media]; subs != nil {
			delete(subs, id)
			if len(subs) == 0 {
				delete(b.subscribers, s.media)
			}
		}
		if m := b.sessions[s.media]; m != nil {
			if r := removeID(m.routes.RTP, id); len(r) != len(m.routes.RTP) {
				m.routes.RTP = r
				c.add(m)
			}
		}
	}
	b.msRemove(s, c)
	delete(b.users[s.userID], id)
	var out []outgoing
	if len(b.users[s.userID]) == 0 {
		delete(b.users, s.userID)
		// The user's last handle is gone: now, and only now, they left.
		ev := eventJSON(map[string]any{"event": "leave", "user_id": s.userID, "room_id": s.roomID})
		out = make([]outgoing, 0, len(b.rooms[s.roomID]))
		for _, p := range b.publishersIn(s.roomID) {
			if p.subscription != nil && p.subscription.Notifications {
				out = append(out, outgoing{to: p.id, body: ev})
			}
		}
	}
	return out, c
}

// sessionsOf returns every joined session of the given users.
func (b *switchboard) sessionsOf(users ...string) map[SessionID]struct{} {
	out := map[SessionID]struct{}{}
	for _, u := range users {
		for id := range b.users[u] {
			out[id] = struct{}{}
		}
	}
	return out
}
