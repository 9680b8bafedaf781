package sfu

// Event kinds sent to Janus's event handlers (docs/admin.md). Each event is a
// JSON object with "event" set to one of these and the fields of that kind.
const (
	EventJoined       = "joined"       // room_id, user_id, publisher
	EventLeft         = "left"         // room_id, user_id
	EventKicked       = "kicked"       // room_id, user_id, by
	EventBlocked      = "blocked"      // room_id, user_id (blocker), whom
	EventUnblocked    = "unblocked"    // room_id, user_id (blocker), whom
	EventPublished    = "published"    // room_id, user_id, audio, video (offer accepted)
	EventSubscribed   = "subscribed"   // room_id, user_id, media (publisher's user_id)
	EventUnsubscribed = "unsubscribed" // room_id, user_id, media
)

// notify sends an event about handle id to Janus's event handlers, when any
// are enabled. It never blocks, so it may be called with s.mu held, but
// prefer calling it after the lock is released.
func (s *Server) notify(id SessionID, kind string, fields map[string]any) {
	if !s.gw.EventsEnabled() {
		return
	}
	ev := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		ev[k] = v
	}
	ev["event"] = kind
	s.gw.NotifyEvent(id, mustJSON(ev))
}
