package sfu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
)

// The error texts of the Rust plugin, kept verbatim: clients match on them.
const (
	ErrRoomFull         = "Room is full."
	ErrServerFull       = "Server is full."
	ErrAnonymous        = "Rejecting anonymous join!"
	ErrNoPermission     = "Rejecting join without permission!"
	ErrInvalidToken     = "Rejecting join with invalid token!"
	ErrJoinOnce         = "Handles may only join once!"
	ErrNoPublisher      = "Can't subscribe to a nonexistent publisher."
	ErrBlockNotJoined   = "Cannot block when not in a room."
	ErrUnblockNotJoined = "Cannot unblock when not in a room."
	ErrDataNotJoined    = "Cannot send data when not in a room."
	ErrPublisherNoOffer = "Can't subscribe to a publisher that has not negotiated media yet."
)

// Error texts of limits the Rust plugin did not have.
const (
	ErrUserPublishers  = "Too many publisher handles for this user in this room."
	ErrUserRooms       = "This user is in too many rooms."
	ErrUserSubscribers = "Too many subscriber handles for this user in this room."
	ErrBadSecret       = "Invalid reconnect secret."
	ErrBusy            = "Server is busy, try again later."
	ErrTooManyInFlight = "Too many messages in flight for this handle, wait for the answers."
)

// errGone reports that the handle was destroyed while its message was
// being handled: nobody is left to answer.
var errGone = errors.New("session is gone")

// reply is what one message produces for its sender.
type reply struct {
	response any    // the "response" object; nil for none
	jsep     []byte // optional jsep for the sender
	// streams, when set, is a multistream offer to build into jsep after
	// the lock is released; after runs once the reply is pushed.
	streams *streamOffer
	after   func()
}

func (s *Server) handle(t task) {
	s.mu.Lock()
	sess := s.state.sessions[t.id]
	s.mu.Unlock()
	if sess == nil {
		s.log.Verbosef("message (transaction %q) for destroyed session %d; discarding", t.transaction, t.id)
		return
	}
	msg, merr := ParseMessage(t.body)
	jsep, jerr := ParseJSEP(t.jsep)
	if merr != nil {
		s.badMessage(t, ErrorBadMessage, merr)
		return
	}
	if jerr != nil {
		s.badMessage(t, ErrorBadJSEP, jerr)
		return
	}
	// Negotiate first: it is pure, so a bad SDP fails before the message
	// changes any state.
	var neg *negotiation
	var err error
	if jsep != nil {
		if neg, err = s.negotiate(jsep); err != nil {
			s.badMessage(t, ErrorBadJSEP, err)
			return
		}
		if err = s.checkStreamJSEP(t.id, jsep, neg); err != nil {
			s.badMessage(t, ErrorBadJSEP, err)
			return
		}
	}
	var msgReply, jsepReply *reply
	var out []outgoing
	if msg != nil {
		msgReply, out, err = s.process(t.id, msg)
		s.send(out)
		if err != nil {
			var ie *inputError
			if errors.As(err, &ie) {
				s.metrics.countError(ErrorRefused)
			}
			s.respondError(t, err)
			return
		}
	}
	if neg != nil {
		jsepReply, out = s.applyJSEP(t.id, neg)
		s.send(out)
	}
	body := map[string]any{"success": true}
	var j []byte
	if msgReply != nil {
		if msgReply.response != nil {
			body["response"] = msgReply.response
		}
		j = msgReply.jsep
		if msgReply.streams != nil {
			j, _ = s.renderStreamOffer(msgReply.streams)
		}
	}
	if jsepReply != nil && jsepReply.jsep != nil {
		j = jsepReply.jsep
	}
	s.mu.Lock()
	_, alive := s.state.sessions[t.id]
	s.mu.Unlock()
	if !alive {
		s.respondError(t, errGone)
		return
	}
	s.push(t.id, t.transaction, mustJSON(body), j)
	for _, r := range []*reply{msgReply, jsepReply} {
		if r != nil && r.after != nil {
			r.after()
		}
	}
}

// badMessage answers a malformed message or jsep, counted by kind and
// logged at most once per LogInterval per kind (the text is ours; the
// client's input is not echoed into the log).
func (s *Server) badMessage(t task, kind string, err error) {
	var ie *inputError
	if errors.As(err, &ie) {
		s.metrics.countError(kind)
		s.logLimited(kind, "session %d: %s: %v", t.id, kind, err)
	}
	s.respondError(t, err)
}

func (s *Server) respondError(t task, err error) {
	if errors.Is(err, errGone) {
		s.log.Verbosef("session %d destroyed while handling transaction %q; no reply", t.id, t.transaction)
		return
	}
	var ie *inputError
	if !errors.As(err, &ie) {
		s.metrics.countError(ErrorInternal)
		s.log.Errorf("session %d: %v", t.id, err)
	}
	s.push(t.id, t.transaction, errorBody(err), nil)
}

func (s *Server) push(id SessionID, txn string, body, jsep []byte) {
	if err := s.gw.PushEvent(id, txn, body, jsep); err != nil {
		s.log.Verbosef("session %d: push_event: %v", id, err)
	}
}

func (s *Server) process(id SessionID, m *Message) (*reply, []outgoing, error) {
	switch m.Kind {
	case KindJoin:
		return s.join(id, m)
	case KindKick:
		return s.kick(id, m)
	case KindBlock:
		return s.block(id, m.Whom)
	case KindUnblock:
		return s.unblock(id, m.Whom)
	case KindData:
		return s.data(id, m)
	case KindConfigure:
		return s.configure(id, m)
	}
	return nil, nil, badInput("Unknown message kind %q.", m.Kind)
}

// refuseJoin counts and logs a refused join (rate-limited; never the
// token) and returns the client's error.
func (s *Server) refuseJoin(id SessionID, m *Message, reason, msg string) error {
	s.metrics.rejectJoin(reason)
	s.logLimited("join:"+reason, "session %d: join to room %q as user %q refused: %s", id, m.RoomID, m.UserID, reason)
	return badInput("%s", msg)
}

// authorizeJoin checks the token: signature and expiry, join_hub, the
// room against room_ids and the user_id against a user_id claim.
func (s *Server) authorizeJoin(id SessionID, m *Message) (Grant, error) {
	if s.opts.Verify == nil {
		return Grant{}, nil
	}
	if !m.HasToken {
		return Grant{}, s.refuseJoin(id, m, RejectAnonymous, ErrAnonymous)
	}
	g, err := s.opts.Verify(m.Token)
	if err != nil {
		return Grant{}, s.refuseJoin(id, m, RejectInvalidToken, ErrInvalidToken)
	}
	if !g.MayJoin(m.RoomID) {
		return Grant{}, s.refuseJoin(id, m, RejectNoPermission, ErrNoPermission)
	}
	if g.UserID != "" && g.UserID != m.UserID {
		return Grant{}, s.refuseJoin(id, m, RejectUserMismatch, ErrNoPermission)
	}
	return g, nil
}

func (s *Server) join(id SessionID, m *Message) (*reply, []outgoing, error) {
	if err := s.checkStreamsJoin(m); err != nil {
		return nil, nil, err
	}
	// Token checks are CPU work: do them before taking the lock.
	g, err := s.authorizeJoin(id, m)
	if err != nil {
		return nil, nil, err
	}
	var secret string
	publisher := m.Subscribe != nil && m.Subscribe.Data
	if publisher && s.opts.Verify == nil && s.opts.ReconnectSecrets {
		secret = newSecret()
	}
	if err := s.claimRoom(m.RoomID); err != nil { // placement: may wait briefly, so before the lock
		return nil, nil, err
	}
	admitted := false
	defer s.releaseClaim(&admitted, m.RoomID)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.state
	sess := b.sessions[id]
	if sess == nil {
		return nil, nil, errGone
	}
	if sess.joined {
		return nil, nil, s.refuseJoin(id, m, RejectJoinOnce, ErrJoinOnce)
	}
	// A publisher join that proves to be the same client replaces the
	// user's stale handles in the room (docs/protocol.md, Reconnecting).
	var stale []*session
	if publisher {
		switch {
		case g.UserID != "":
			stale = b.handlesIn(m.UserID, m.RoomID)
		case m.ReconnectSecret != "":
			if !s.opts.ReconnectSecrets || s.opts.Verify != nil || !b.secretMatches(m.UserID, m.RoomID, m.ReconnectSecret) {
				return nil, nil, s.refuseJoin(id, m, RejectBadSecret, ErrBadSecret)
			}
			stale = b.handlesIn(m.UserID, m.RoomID)
		}
	}
	users := b.roomUsers(m.RoomID)
	if publisher && !b.publishesIn(m.UserID, m.RoomID) {
		if s.opts.MaxRoomSize > 0 && len(users) >= s.opts.MaxRoomSize {
			return nil, nil, s.refuseJoin(id, m, RejectRoomFull, ErrRoomFull)
		}
		if all := b.publisherUsers(); s.opts.MaxCCU > 0 && len(all) >= s.opts.MaxCCU {
			if _, here := all[m.UserID]; !here {
				return nil, nil, s.refuseJoin(id, m, RejectServerFull, ErrServerFull)
			}
		}
	}
	if reason, msg := s.overCap(m, publisher, stale); reason != "" {
		return nil, nil, s.refuseJoin(id, m, reason, msg)
	}
	var media *session
	if m.Subscribe != nil && m.Subscribe.HasMedia {
		// Only in the join's room: a token for one room must not reach
		// media published in another.
		media = b.publisherIn(m.Subscribe.Media, m.RoomID)
		if media == nil {
			return nil, nil, s.refuseJoin(id, m, RejectNoPublisher, ErrNoPublisher)
		}
		if media.subscriberOffer == "" {
			return nil, nil, s.refuseJoin(id, m, RejectNoOffer, ErrPublisherNoOffer)
		}
	}
	if media != nil && slices.Contains(stale, media) {
		return nil, nil, s.refuseJoin(id, m, RejectNoPublisher, ErrNoPublisher)
	}
	// Validated: from here on nothing fails.
	admitted = true
	var out []outgoing
	if len(stale) > 0 {
		out = s.replaceLocked(id, stale)
		users = b.roomUsers(m.RoomID)
	}
	sess.reconnectSecret = secret
	c := b.join(sess, m.RoomID, m.UserID, m.Subscribe, media)
	if publisher {
		b.msRestream(m.RoomID) // its streams, if it has offered already
	}
	if publisher {
		ev := eventJSON(map[string]any{"event": "join", "user_id": m.UserID, "room_id": m.RoomID})
		out = slices.Grow(out, len(b.rooms[m.RoomID]))
		for _, p := range b.publishersIn(m.RoomID) {
			if p.userID != m.UserID && p.subscription != nil && p.subscription.Notifications {
				out = append(out, outgoing{to: p.id, body: ev})
			}
		}
	}
	s.publishLocked(c, nil)
	resp := map[string]any{"users": map[string][]string{m.RoomID: users}}
	if secret != "" {
		resp["reconnect_secret"] = secret
	}
	r := &reply{response: resp}
	if m.Subscribe != nil && m.Subscribe.Streams {
		r.streams = b.msJoin(sess)
		streamsBody(resp, sess.ms.streamList(), sess.ms.notOffered)
		gen := sess.ms.gen
		r.after = func() { s.streamsReleased(id, gen) }
	}
	if publisher && m.Subscribe.Notifications && s.talk != nil {
		// Who is talking already: the events only tell changes.
		room, user := m.RoomID, m.UserID
		r.after = func() { s.talkingSnapshot(id, room, user) }
	}
	if media != nil {
		r.jsep = offerJSEP(media.subscriberOffer)
	}
	s.notify(id, EventJoined, map[string]any{"room_id": m.RoomID, "user_id": m.UserID, "publisher": publisher})
	if media != nil {
		s.notify(id, EventSubscribed, map[string]any{"room_id": m.RoomID, "user_id": m.UserID, "media": media.userID})
	}
	s.log.Verbosef("session %d joined room %q as user %q (publisher %v)", id, m.RoomID, m.UserID, publisher)
	return r, out, nil
}

// overCap checks the caps per identity for a join as m.UserID to m.RoomID.
// Called with s.mu held, in the same critical section as the join, so no
// interleaving of joins gets past a cap.
func (s *Server) overCap(m *Message, publisher bool, replaced []*session) (reason, msg string) {
	b := s.state
	pubs, subs := 0, 0
	rooms := map[string]struct{}{}
	for _, o := range b.users[m.UserID] {
		if slices.Contains(replaced, o) {
			continue
		}
		rooms[o.roomID] = struct{}{}
		if o.roomID != m.RoomID {
			continue
		}
		if o.publisher {
			pubs++
		} else {
			subs++
		}
	}
	if _, in := rooms[m.RoomID]; !in && s.opts.MaxRoomsPerUser > 0 && len(rooms) >= s.opts.MaxRoomsPerUser {
		return RejectUserRooms, ErrUserRooms
	}
	if publisher {
		if s.opts.MaxPublishersPerUser > 0 && pubs >= s.opts.MaxPublishersPerUser {
			return RejectUserPublishers, ErrUserPublishers
		}
	} else if s.opts.LimitSubscribers && subs >= len(b.rooms[m.RoomID])-countPublishers(replaced)+s.opts.SubscriberSlack {
		return RejectUserSubscribers, ErrUserSubscribers
	}
	return "", ""
}

func countPublishers(ss []*session) int {
	n := 0
	for _, s := range ss {
		if s.publisher {
			n++
		}
	}
	return n
}

// replaceLocked removes a reconnecting user's stale handles from the room
// at once (the room sees their leave now, then the new join) and asks
// Janus to end them; their routes are cleared until Janus destroys them.
func (s *Server) replaceLocked(id SessionID, stale []*session) []outgoing {
	var out []outgoing
	cleared := make([]RouteUpdate, 0, len(stale))
	for _, o := range stale {
		ev, c := s.state.remove(o.id)
		out = append(out, ev...)
		s.publishLocked(c, nil)
		cleared = append(cleared, RouteUpdate{Session: o.id})
	}
	s.gw.Publish(cleared, nil, nil)
	for _, o := range stale {
		s.log.Infof("session %d replaces stale session %d of user %q in room %q", id, o.id, o.userID, o.roomID)
		// EndSession only queues Janus's teardown; it does not call back
		// into us synchronously.
		s.gw.EndSession(o.id)
	}
	return out
}

// newSecret returns a random reconnect secret.
func newSecret() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// kick ends the target user's handles in the kick's room, when the token
// has kick_users and covers that room (room_ids). It answers success in
// every case, as the Rust plugin does, and logs why it did nothing.
func (s *Server) kick(id SessionID, m *Message) (*reply, []outgoing, error) {
	ok := &reply{response: map[string]any{}}
	if s.opts.Verify == nil {
		s.logLimited("kick:no_auth", "session %d: ignoring kick: no auth_key configured", id)
		return ok, nil, nil
	}
	g, err := s.opts.Verify(m.Token)
	if err != nil {
		s.logLimited("kick:"+RejectInvalidToken, "session %d: ignoring kick with an invalid token", id)
		return ok, nil, nil
	}
	if !g.KickUsers || !g.covers(m.RoomID) {
		s.logLimited("kick:"+RejectNoPermission, "session %d: ignoring kick in room %q: token lacks kick_users for it", id, m.RoomID)
		return ok, nil, nil
	}
	s.mu.Lock()
	var targets []SessionID
	for tid, t := range s.state.users[m.UserID] {
		if t.roomID == m.RoomID {
			targets = append(targets, tid)
		}
	}
	by := ""
	if k := s.state.sessions[id]; k != nil {
		by = k.userID
	}
	s.mu.Unlock()
	slices.Sort(targets)
	s.log.Infof("session %d kicks user %q from room %q (%d handles)", id, m.UserID, m.RoomID, len(targets))
	for _, t := range targets {
		s.gw.EndSession(t)
	}
	if len(targets) > 0 {
		s.notify(targets[0], EventKicked, map[string]any{"room_id": m.RoomID, "user_id": m.UserID, "by": by})
	}
	return ok, nil, nil
}

// joined returns the session if it has joined a room: errGone when the
// handle was destroyed meanwhile, notJoined (a client error) when it has not
// joined. Called with s.mu held.
func (s *Server) joined(id SessionID, notJoined string) (*session, error) {
	sess := s.state.sessions[id]
	if sess == nil {
		return nil, errGone
	}
	if !sess.joined {
		return nil, badInput("%s", notJoined)
	}
	return sess, nil
}

func (s *Server) block(id SessionID, whom string) (*reply, []outgoing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.state
	sess, err := s.joined(id, ErrBlockNotJoined)
	if err != nil {
		return nil, nil, err
	}
	now := s.opts.Now()
	b.expire(now, s.opts.BlockExpiry)
	if _, exists := b.blocks[[2]string{sess.userID, whom}]; !exists {
		if !b.known(whom, now, s.opts.BlockExpiry) {
			return nil, nil, badInput("%s", ErrUnknownUser)
		}
		if b.idx.byBlocker[sess.userID] >= s.opts.MaxBlocksPerUser {
			return nil, nil, badInput("%s", ErrTooManyBlocks)
		}
	}
	var out []outgoing
	if p := b.publisherOf(whom, sess.roomID); p != nil && p.subscription != nil && p.subscription.Notifications {
		out = append(out, outgoing{to: p.id, body: eventJSON(map[string]any{"event": "blocked", "by": sess.userID})})
	}
	b.addBlock(sess.userID, whom)
	s.publishLocked(b.refresh(b.sessionsOf(sess.userID, whom)), nil)
	s.notify(id, EventBlocked, map[string]any{"room_id": sess.roomID, "user_id": sess.userID, "whom": whom})
	return &reply{response: map[string]any{}}, out, nil
}

func (s *Server) unblock(id SessionID, whom string) (*reply, []outgoing, error) {
	s.mu.Lock()
	b := s.state
	sess, err := s.joined(id, ErrUnblockNotJoined)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	b.removeBlock(sess.userID, whom)
	s.publishLocked(b.refresh(b.sessionsOf(sess.userID, whom)), nil)
	s.notify(id, EventUnblocked, map[string]any{"room_id": sess.roomID, "user_id": sess.userID, "whom": whom})
	var out []outgoing
	var keyframe SessionID
	if p := b.publisherOf(whom, sess.roomID); p != nil {
		keyframe = p.id
		if p.subscription != nil && p.subscription.Notifications {
			out = append(out, outgoing{to: p.id, body: eventJSON(map[string]any{"event": "unblocked", "by": sess.userID})})
		}
	}
	s.mu.Unlock()
	if keyframe != 0 {
		// Media flows again: the unblocked side needs a fresh keyframe.
		s.gw.RequestKeyframe(keyframe)
	}
	return &reply{response: map[string]any{}}, out, nil
}

func (s *Server) data(id SessionID, m *Message) (*reply, []outgoing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.state
	sess, err := s.joined(id, ErrDataNotJoined)
	if err != nil {
		return nil, nil, err
	}
	ev := eventJSON(map[string]any{"event": "data", "body": m.Body})
	var out []outgoing
	for _, p := range b.publishersIn(sess.roomID) {
		if p.subscription == nil || !p.subscription.Data {
			continue
		}
		if m.HasWhom && p.userID != m.Whom || !m.HasWhom && p.userID == sess.userID {
			continue
		}
		out = append(out, outgoing{to: p.id, body: ev})
	}
	return &reply{response: map[string]any{}}, out, nil
}

// negotiation is a checked JSEP, ready to apply.
type negotiation struct {
	offer bool
	Negotiation
	audioLevel int    // an offer's RFC 6464 extension id in our answer
	streamGen  uint64 // an answer's: the multistream offer it answers
}

func (s *Server) negotiate(j *JSEP) (*negotiation, error) {
	if j.Type == "answer" {
		if s.opts.Negotiator != nil {
			if err := s.opts.Negotiator.ValidateAnswer(j.SDP); err != nil {
				return nil, badInput("Invalid SDP answer: %v", err)
			}
		}
		return &negotiation{}, nil
	}
	if s.opts.Negotiator == nil {
		return nil, errors.New("no SDP negotiator configured")
	}
	n, err := s.opts.Negotiator.Negotiate(j.SDP)
	if err != nil {
		return nil, badInput("Invalid SDP offer: %v", err)
	}
	neg := &negotiation{offer: true, Negotiation: n}
	if s.opts.Streams != nil {
		neg.audioLevel = s.opts.Streams.AudioLevelExtension(n.Answer)
	}
	return neg, nil
}

// applyJSEP stores a publisher's new subscriber offer and pushes it to the
// publisher's current subscribers (renegotiation).
func (s *Server) applyJSEP(id SessionID, n *negotiation) (*reply, []outgoing) {
	if !n.offer {
		return s.streamAnswer(id, n), nil
	}
	s.mu.Lock()
	var out []outgoing
	if sess := s.state.sessions[id]; sess != nil {
		sess.subscriberOffer = n.SubscriberOffer
		sess.payloads = n.Payloads
		// Before anyone sees the answer: the publisher may send with its
		// new payload types as soon as it has it.
		s.gw.SetPayloadMap(id, n.Payloads)
		s.gw.SetAudioLevelExtension(id, n.audioLevel)
		if sess.publisher {
			s.state.msRestream(sess.roomID)
			s.takeStreamOffers()
		}
		s.notify(id, EventPublished, map[string]any{"room_id": sess.roomID, "user_id": sess.userID,
			"audio": n.Payloads.AudioFrom >= 0, "video": n.Payloads.VideoFrom >= 0})
		offer := offerJSEP(n.SubscriberOffer)
		for _, sub := range byID(s.state.subscribers[id]) {
			out = append(out, outgoing{to: sub.id, body: []byte(`{}`), jsep: offer})
		}
	}
	s.mu.Unlock()
	return &reply{jsep: mustJSON(map[string]string{"type": "answer", "sdp": n.Answer})}, out
}

func offerJSEP(sdp string) []byte {
	return mustJSON(map[string]string{"type": "offer", "sdp": sdp})
}

func eventJSON(v map[string]any) []byte { return mustJSON(v) }

func errorJSON(msg string) []byte {
	return mustJSON(map[string]any{"success": false, "error": map[string]string{"msg": msg}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own maps of strings and bools get here
	}
	return b
}
