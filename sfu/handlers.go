package sfu

import (
	"encoding/json"
	"errors"
	"sort"
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

// errGone reports that the handle was destroyed while its message was
// being handled: nobody is left to answer.
var errGone = errors.New("session is gone")

// reply is what one message produces for its sender.
type reply struct {
	response any    // the "response" object; nil for none
	jsep     []byte // optional jsep for the sender
}

func (s *Server) handle(t task) {
	s.mu.Lock()
	sess := s.state.sessions[t.id]
	s.mu.Unlock()
	if sess == nil {
		s.log.Warnf("message (transaction %q) for destroyed session %d; discarding", t.transaction, t.id)
		return
	}
	msg, merr := ParseMessage(t.body)
	jsep, jerr := ParseJSEP(t.jsep)
	var err error
	switch {
	case merr != nil:
		err = merr
	case jerr != nil:
		err = jerr
	}
	if err != nil {
		s.respondError(t, err)
		return
	}
	// Negotiate first: it is pure, so a bad SDP fails before the message
	// changes any state.
	var neg *negotiation
	if jsep != nil {
		if neg, err = s.negotiate(jsep); err != nil {
			s.respondError(t, err)
			return
		}
	}
	var msgReply, jsepReply *reply
	var out []outgoing
	if msg != nil {
		msgReply, out, err = s.process(t.id, msg)
		s.send(out)
		if err != nil {
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
}

func (s *Server) respondError(t task, err error) {
	if errors.Is(err, errGone) {
		s.log.Verbosef("session %d destroyed while handling transaction %q; no reply", t.id, t.transaction)
		return
	}
	var ie *inputError
	if !errors.As(err, &ie) {
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
	}
	return nil, nil, badInput("Unknown message kind %q.", m.Kind)
}

func (s *Server) authorizeJoin(m *Message) error {
	if s.opts.Verify == nil {
		return nil
	}
	if !m.HasToken {
		s.log.Warnf("rejecting anonymous join to room %q as user %q", m.RoomID, m.UserID)
		return badInput(ErrAnonymous)
	}
	g, err := s.opts.Verify(m.Token)
	if err != nil {
		s.log.Warnf("rejecting join to room %q as user %q: %v", m.RoomID, m.UserID, err)
		return badInput(ErrInvalidToken)
	}
	if !g.MayJoin(m.RoomID) {
		s.log.Warnf("rejecting join to room %q as user %q: no permission", m.RoomID, m.UserID)
		return badInput(ErrNoPermission)
	}
	return nil
}

func (s *Server) join(id SessionID, m *Message) (*reply, []outgoing, error) {
	// Token checks are CPU work: do them before taking the lock.
	if err := s.authorizeJoin(m); err != nil {
		return nil, nil, err
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
	users := b.roomUsers(m.RoomID)
	publisher := m.Subscribe != nil && m.Subscribe.Data
	if publisher && !contains(users, m.UserID) {
		if s.opts.MaxRoomSize > 0 && len(users) >= s.opts.MaxRoomSize {
			return nil, nil, badInput(ErrRoomFull)
		}
		if all := b.publisherUsers(); s.opts.MaxCCU > 0 && len(all) >= s.opts.MaxCCU {
			if _, here := all[m.UserID]; !here {
				return nil, nil, badInput(ErrServerFull)
			}
		}
	}
	if sess.joined {
		return nil, nil, badInput(ErrJoinOnce)
	}
	var media *session
	if m.Subscribe != nil && m.Subscribe.HasMedia {
		media = b.publisherOf(m.Subscribe.Media, m.RoomID)
		if media == nil {
			return nil, nil, badInput(ErrNoPublisher)
		}
		if media.subscriberOffer == "" {
			return nil, nil, badInput(ErrPublisherNoOffer)
		}
	}
	// Validated: from here on nothing fails.
	admitted = true
	dirty := b.join(sess, m.RoomID, m.UserID, m.Subscribe, media)
	var out []outgoing
	if publisher {
		ev := eventJSON(map[string]any{"event": "join", "user_id": m.UserID, "room_id": m.RoomID})
		for _, p := range b.publishersIn(m.RoomID) {
			if p.userID != m.UserID && p.subscription != nil && p.subscription.Notifications {
				out = append(out, outgoing{to: p.id, body: ev})
			}
		}
	}
	s.publishLocked(dirty, nil)
	r := &reply{response: map[string]any{"users": map[string][]string{m.RoomID: users}}}
	if media != nil {
		r.jsep = offerJSEP(media.subscriberOffer)
	}
	s.log.Verbosef("session %d joined room %q as user %q (publisher %v)", id, m.RoomID, m.UserID, publisher)
	s.notify(id, EventJoined, map[string]any{"room_id": m.RoomID, "user_id": m.UserID, "publisher": publisher})
	return r, out, nil
}

func (s *Server) kick(id SessionID, m *Message) (*reply, []outgoing, error) {
	ok := &reply{response: map[string]any{}}
	if s.opts.Verify == nil {
		s.log.Warnf("session %d: ignoring kick: no auth_key configured", id)
		return ok, nil, nil
	}
	g, err := s.opts.Verify(m.Token)
	if err != nil {
		s.log.Warnf("session %d: ignoring kick with invalid token: %v", id, err)
		return ok, nil, nil
	}
	if !g.KickUsers {
		s.log.Warnf("session %d: ignoring kick without kick_users permission", id)
		return ok, nil, nil
	}
	s.mu.Lock()
	targets := s.state.sessionsOf(m.UserID)
	s.mu.Unlock()
	s.log.Infof("session %d kicks user %q from room %q (%d handles)", id, m.UserID, m.RoomID, len(targets))
	for _, t := range sortedIDs(targets) {
		s.gw.EndSession(t)
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
	var out []outgoing
	if p := b.publisherOf(whom, sess.roomID); p != nil && p.subscription != nil && p.subscription.Notifications {
		out = append(out, outgoing{to: p.id, body: eventJSON(map[string]any{"event": "blocked", "by": sess.userID})})
	}
	b.blocks[[2]string{sess.userID, whom}] = struct{}{}
	s.publishLocked(b.sessionsOf(sess.userID, whom), nil)
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
	delete(b.blocks, [2]string{sess.userID, whom})
	s.publishLocked(b.sessionsOf(sess.userID, whom), nil)
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
	return &negotiation{offer: true, Negotiation: n}, nil
}

// applyJSEP stores a publisher's new subscriber offer and pushes it to the
// publisher's current subscribers (renegotiation).
func (s *Server) applyJSEP(id SessionID, n *negotiation) (*reply, []outgoing) {
	if !n.offer {
		return &reply{}, nil
	}
	s.mu.Lock()
	var out []outgoing
	if sess := s.state.sessions[id]; sess != nil {
		sess.subscriberOffer = n.SubscriberOffer
		// Before anyone sees the answer: the publisher may send with its
		// new payload types as soon as it has it.
		s.gw.SetPayloadMap(id, n.Payloads)
		offer := offerJSEP(n.SubscriberOffer)
		for _, sub := range sortedSessions(s.state.subscribers[id]) {
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedIDs(m map[SessionID]struct{}) []SessionID {
	out := make([]SessionID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sortIDs(out)
	return out
}

func sortedSessions(m map[SessionID]*session) []*session {
	out := make([]*session, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
