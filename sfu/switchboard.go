package sfu

import (
	"cmp"
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

	subscriberOffer string // as a publisher: the offer its subscribers get
	mediaUp         bool
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
	// blocks holds (blocker, blocked) user pairs. They outlive sessions, as
	// in the Rust plugin, so a reconnect does not lift a block.
	blocks map[[2]string]struct{}
}

func newSwitchboard() *switchboard {
	return &switchboard{
		sessions:    make(map[SessionID]*session),
		rooms:       make(map[string]map[SessionID]*session),
		users:       make(map[string]map[SessionID]*session),
		subscribers: make(map[SessionID]map[SessionID]*session),
		blocks:      make(map[[2]string]struct{}),
	}
}

func (b *switchboard) blocked(a, c string) bool {
	if len(b.blocks) == 0 {
		return false
	}
	_, x := b.blocks[[2]string{a, c}]
	_, y := b.blocks[[2]string{c, a}]
	return x || y
}

// roomUsers lists the distinct users publishing in a room, sorted.
func (b *switchboard) roomUsers(room string) []string {
	seen := map[string]struct{}{}
	for _, p := range b.rooms[room] {
		seen[p.userID] = struct{}{}
	}
	// Never nil: the join response lists [] for an empty room.
	out := slices.AppendSeq(make([]string, 0, len(seen)), maps.Keys(seen))
	slices.Sort(out)
	return out
}

func (b *switchboard) publisherUsers() map[string]struct{} {
	all := map[string]struct{}{}
	for _, r := range b.rooms {
		for _, p := range r {
			all[p.userID] = struct{}{}
		}
	}
	return all
}

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

func preferred(a, b *session, room string) bool {
	if ain, bin := a.roomID == room, b.roomID == room; ain != bin {
		return ain
	}
	return a.id < b.id
}

// publishersIn returns a room's publishers in id order.
func (b *switchboard) publishersIn(room string) []*session {
	return byID(b.rooms[room])
}

// byID returns the sessions of m in id order.
func byID(m map[SessionID]*session) []*session {
	return slices.SortedFunc(maps.Values(m), func(a, b *session) int { return cmp.Compare(a.id, b.id) })
}

// routes computes what the relay path needs for one session.
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
		for _, o := range b.rooms[s.roomID] {
			if o.id != id && !b.blocked(s.userID, o.userID) {
				r.Data = append(r.Data, o.id)
			}
		}
	}
	if p := b.sessions[s.media]; p != nil && s.media != 0 && !b.blocked(s.userID, p.userID) {
		r.Keyframe = []SessionID{p.id}
	}
	slices.Sort(r.RTP)
	slices.Sort(r.Data)
	return r
}

// join records a validated join. It returns the sessions whose routes
// changed.
func (b *switchboard) join(s *session, room, user string, sub *Subscription, media *session) map[SessionID]struct{} {
	dirty := map[SessionID]struct{}{s.id: {}}
	s.joined = true
	s.roomID, s.userID = room, user
	s.subscription = sub
	s.publisher = sub != nil && sub.Data
	if b.users[user] == nil {
		b.users[user] = map[SessionID]*session{}
	}
	b.users[user][s.id] = s
	if s.publisher {
		if b.rooms[room] == nil {
			b.rooms[room] = map[SessionID]*session{}
		}
		for id := range b.rooms[room] {
			dirty[id] = struct{}{}
		}
		b.rooms[room][s.id] = s
	}
	if media != nil {
		s.media = media.id
		if b.subscribers[media.id] == nil {
			b.subscribers[media.id] = map[SessionID]*session{}
		}
		b.subscribers[media.id][s.id] = s
		dirty[media.id] = struct{}{}
	}
	return dirty
}

// remove forgets a session and returns the events to send (leave) and the
// sessions whose routes changed.
func (b *switchboard) remove(id SessionID) ([]outgoing, map[SessionID]struct{}) {
	s := b.sessions[id]
	if s == nil {
		return nil, nil
	}
	delete(b.sessions, id)
	dirty := map[SessionID]struct{}{}
	if !s.joined {
		return nil, dirty
	}
	if s.publisher {
		delete(b.rooms[s.roomID], id)
		if len(b.rooms[s.roomID]) == 0 {
			delete(b.rooms, s.roomID)
		}
		for oid := range b.rooms[s.roomID] {
			dirty[oid] = struct{}{}
		}
		for sid, sub := range b.subscribers[id] {
			if sub.media == id {
				sub.media = 0
			}
			dirty[sid] = struct{}{}
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
		dirty[s.media] = struct{}{}
	}
	delete(b.users[s.userID], id)
	var out []outgoing
	if len(b.users[s.userID]) == 0 {
		delete(b.users, s.userID)
		// The user's last handle is gone: now, and only now, they left.
		ev := eventJSON(map[string]any{"event": "leave", "user_id": s.userID, "room_id": s.roomID})
		for _, p := range b.publishersIn(s.roomID) {
			if p.subscription != nil && p.subscription.Notifications {
				out = append(out, outgoing{to: p.id, body: ev})
			}
		}
	}
	return out, dirty
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
