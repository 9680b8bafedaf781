package sfu

import (
	"slices"
)

// Placement over many hosts: with Options.Rooms set, a room is served by
// one host only (docs/deploy.md, "Many hosts"); the placement package
// implements RoomDirectory over Redis.

// RoomDirectory records which host serves a live room.
type RoomDirectory interface {
	// Claim is called before a session joins room, on sfu's worker
	// goroutines (never on Janus's threads, never with Server.mu held); it
	// may wait a short, bounded time, only for the first join of a room on
	// this host. An empty owner admits the join and the session then holds
	// one reference, given back with Release; a non-empty owner is the URL
	// of the host that serves the room. An error refuses the join.
	Claim(room string) (owner string, err error)
	// Release gives back one admitted join's reference. It never blocks.
	Release(room string)
}

// ErrWrongHost and CodeWrongHost make the refusal of a join that reached a
// host not serving its room (docs/protocol.md, "Rooms on many hosts").
const (
	ErrWrongHost  = "Room is served by another host."
	CodeWrongHost = "wrong_host"
)

// wrongHostError refuses a join; it is a client-facing input error.
type wrongHostError struct{ owner string }

func (e *wrongHostError) Error() string { return ErrWrongHost }
func (e *wrongHostError) Unwrap() error { return &inputError{msg: ErrWrongHost} }

// errorBody is the error response for err: a wrong_host refusal carries its
// code and the owner's URL besides the message.
func errorBody(err error) []byte {
	if wh, ok := err.(*wrongHostError); ok {
		return mustJSON(map[string]any{"success": false, "error": map[string]string{
			"msg": ErrWrongHost, "code": CodeWrongHost, "owner": wh.owner}})
	}
	return errorJSON(err.Error())
}

// claimRoom asks the directory whether this host may admit a join to room.
// On nil the join holds a reference: releaseRoom it unless admitted.
func (s *Server) claimRoom(room string) error {
	if s.opts.Rooms == nil {
		return nil
	}
	owner, err := s.opts.Rooms.Claim(room)
	if err != nil {
		return err
	}
	if owner != "" {
		s.log.Verbosef("join to room %q refused: served by %s", room, owner)
		return &wrongHostError{owner: owner}
	}
	return nil
}

// releaseClaim gives back a claim whose join was not admitted.
func (s *Server) releaseClaim(admitted *bool, room string) {
	if !*admitted {
		s.releaseRoom(room)
	}
}

func (s *Server) releaseRoom(room string) {
	if s.opts.Rooms != nil {
		s.opts.Rooms.Release(room)
	}
}

// joinedRoomLocked returns the room a session has joined, if any. Called
// with s.mu held.
func (s *Server) joinedRoomLocked(id SessionID) (string, bool) {
	sess := s.state.sessions[id]
	if sess == nil || !sess.joined {
		return "", false
	}
	return sess.roomID, true
}

// EvictRoom ends this host's sessions in room, telling each first where
// the room is served: another host turned out to own it (the directory
// found so when Redis came back after an outage), and a room must not
// split. The clients reconnect to owner.
func (s *Server) EvictRoom(room, owner string) {
	s.mu.Lock()
	var ids []SessionID
	for id, sess := range s.state.sessions {
		if sess.joined && sess.roomID == room {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	slices.Sort(ids)
	s.log.Warnf("room %q is served by %s: ending its %d handles here", room, owner, len(ids))
	ev := eventJSON(map[string]any{"event": CodeWrongHost, "room_id": room, "owner": owner})
	for _, id := range ids {
		s.push(id, "", ev, nil)
		s.gw.EndSession(id)
	}
}
