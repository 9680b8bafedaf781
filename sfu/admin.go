package sfu

import (
	"encoding/json"
	"runtime"
)

// The admin side of the server: what Janus's admin API asks of the plugin
// (handle_info's plugin_specific, and message_plugin requests).

// QuerySession describes a handle for Janus's admin API.
func (s *Server) QuerySession(id SessionID) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.state.sessions[id]
	if sess == nil {
		return []byte(`{}`)
	}
	info := map[string]any{"joined": sess.joined}
	if sess.joined {
		info["room_id"] = sess.roomID
		info["user_id"] = sess.userID
		info["publisher"] = sess.publisher
		if sess.subscription != nil {
			info["subscription"] = map[string]any{
				"notifications": sess.subscription.Notifications,
				"data":          sess.subscription.Data,
				"media":         sess.subscription.Media,
			}
		}
		if sess.publisher {
			info["subscribers"] = len(s.state.subscribers[id])
		}
	}
	info["media_up"] = sess.mediaUp
	info["has_offer"] = sess.subscriberOffer != ""
	b, _ := json.Marshal(info)
	return b
}

// AdminMessage answers Janus admin API "message_plugin" requests with a
// summary of the server and of the plugin's Go runtime (for operators and
// the load test).
func (s *Server) AdminMessage([]byte) []byte {
	s.mu.Lock()
	out := map[string]any{
		"sessions": len(s.state.sessions),
		"rooms":    len(s.state.rooms),
		"users":    len(s.state.publisherUsers()),
	}
	s.mu.Unlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out["runtime"] = map[string]any{
		"goroutines":       runtime.NumGoroutine(),
		"heap_inuse_bytes": ms.HeapInuse,
		"sys_bytes":        ms.Sys,
		"mallocs":          ms.Mallocs,
		"gc_cycles":        ms.NumGC,
	}
	b, _ := json.Marshal(out)
	return b
}
