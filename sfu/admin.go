package sfu

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"slices"
)

// The admin side of the server: what Janus's admin API asks of the plugin
// (handle_info's plugin_specific, and message_plugin requests). Janus checks
// the admin secret before any of this runs; the plugin never sees it.

// The message_plugin requests (docs/admin.md), named by the request's
// "request" field. A request without one gets the summary.
const (
	AdminListRooms = "list_rooms"
	AdminListUsers = "list_users"
	AdminKick      = "kick"
	AdminStats     = "stats"
)

// KickedByAdmin is the "by" of a kicked event sent for an admin kick.
const KickedByAdmin = "admin"

// Roles in list_users.
const (
	RolePublisher  = "publisher"  // has a handle that joined with subscribe.data
	RoleSubscriber = "subscriber" // only handles that receive media or notifications
)

// RelayCounts are the relay hot path's packet counters: one handle's in
// query_session, the sum over every handle the plugin has served in stats.
type RelayCounts struct {
	RTPIn              uint64 `json:"rtp_in"`
	RTPOut             uint64 `json:"rtp_out"`
	RTCPIn             uint64 `json:"rtcp_in"`
	DataIn             uint64 `json:"data_in"`
	DataOut            uint64 `json:"data_out"`
	KeyframeRequestsIn uint64 `json:"keyframe_requests_in"`
	KeyframesSent      uint64 `json:"keyframes_sent"`
	KeyframesThrottled uint64 `json:"keyframes_throttled"`
}

// Add returns the sum of two counts.
func (r RelayCounts) Add(o RelayCounts) RelayCounts {
	return RelayCounts{
		RTPIn: r.RTPIn + o.RTPIn, RTPOut: r.RTPOut + o.RTPOut, RTCPIn: r.RTCPIn + o.RTCPIn,
		DataIn: r.DataIn + o.DataIn, DataOut: r.DataOut + o.DataOut,
		KeyframeRequestsIn: r.KeyframeRequestsIn + o.KeyframeRequestsIn,
		KeyframesSent:      r.KeyframesSent + o.KeyframesSent, KeyframesThrottled: r.KeyframesThrottled + o.KeyframesThrottled,
	}
}

// RelayCounter is implemented by a Gateway whose relay counts packets
// (cjanus does; the stats request leaves "relay" out otherwise). It must not
// block on the relay or on a grace period.
type RelayCounter interface {
	// RelayTotals sums the counters of every session since start,
	// including sessions already gone.
	RelayTotals() RelayCounts
}

// AdminRequest is a message_plugin request.
type AdminRequest struct {
	Request string `json:"request"`
	RoomID  string `json:"room_id"` // list_users (optional filter), kick
	UserID  string `json:"user_id"` // kick
}

// RoomInfo is one room in list_rooms.
type RoomInfo struct {
	RoomID      string `json:"room_id"`
	Users       int    `json:"users"`       // distinct users with a handle in the room
	Publishers  int    `json:"publishers"`  // publisher handles
	Subscribers int    `json:"subscribers"` // other joined handles
}

// UserInfo is one user of one room in list_users.
type UserInfo struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
	// Handles counts the user's joined handles in the room.
	Handles int `json:"handles"`
	// Subscriptions lists the users whose media the user receives here.
	Subscriptions []string `json:"subscriptions"`
	// Blocks lists the users this user blocks (blocks are per user, not per
	// room, and outlive the handles).
	Blocks []string `json:"blocks"`
	// Multistream sums the user's multistream subscriber handles in the
	// room; absent when it has none.
	Multistream *StreamCounts `json:"multistream,omitempty"`
}

// StreamCounts counts multistream subscriber handles and their m-lines by
// state (docs/admin.md): in list_users per user, in stats over the server.
type StreamCounts struct {
	Handles int `json:"handles"`
	Lines   int `json:"lines"` // every m-line ever offered
	// Lines by state (StreamActive...): they add up to Lines.
	Active   int `json:"active"`
	Paused   int `json:"paused"`
	Pending  int `json:"pending"`
	Inactive int `json:"inactive"`
	// OffersOutstanding counts handles with an offer out and unanswered.
	OffersOutstanding int `json:"offers_outstanding"`
	// NotOffered counts the streams max_streams_per_subscriber leaves out
	// of the handles' latest offers (each handle's "not_offered").
	NotOffered int `json:"not_offered"`
}

func (c *StreamCounts) add(m *msSub) {
	c.Handles++
	c.Lines += len(m.offered)
	for _, st := range m.lineStates() {
		switch st {
		case StreamActive:
			c.Active++
		case StreamPaused:
			c.Paused++
		case StreamPending:
			c.Pending++
		default:
			c.Inactive++
		}
	}
	if m.outstanding && len(m.offered) > 0 {
		c.OffersOutstanding++
	}
	c.NotOffered += len(m.notOffered)
}

// RoomUsers is one room in list_users.
type RoomUsers struct {
	RoomID string     `json:"room_id"`
	Users  []UserInfo `json:"users"`
}

// KickResult answers a kick.
type KickResult struct {
	RoomID  string `json:"room_id"`
	UserID  string `json:"user_id"`
	Handles int    `json:"handles"` // handles asked to end
}

// Stats answers the stats request; cmd/sfu-exporter reads it.
type Stats struct {
	Rooms       int `json:"rooms"`       // rooms with a joined handle, as in list_rooms
	Users       int `json:"users"`       // distinct joined users
	Publishers  int `json:"publishers"`  // publisher handles
	Subscribers int `json:"subscribers"` // other joined handles
	Handles     int `json:"handles"`     // all handles attached, joined or not
	// Relay is absent when the gateway does not count.
	Relay *RelayCounts `json:"relay,omitempty"`
	// Errors counts failed messages by kind (Error*), RejectedJoins refused
	// joins by reason (Reject*).
	Errors        map[string]uint64 `json:"errors"`
	RejectedJoins map[string]uint64 `json:"rejected_joins"`
	// QueueDepth is the messages waiting for a worker, QueueCapacity what
	// the queues hold before messages are refused.
	QueueDepth    int `json:"queue_depth"`
	QueueCapacity int `json:"queue_capacity"`
	// Multistream counts multistream subscriptions (Subscribers includes
	// their handles) and the offers that expired unanswered.
	Multistream MultistreamStats `json:"multistream"`
	Runtime     RuntimeStats     `json:"runtime"`
}

// MultistreamStats is the multistream part of Stats.
type MultistreamStats struct {
	StreamCounts
	// OfferTimeouts counts the handles ended for an unanswered offer since
	// start.
	OfferTimeouts uint64 `json:"offer_timeouts"`
}

// RuntimeStats are the plugin's Go runtime figures.
type RuntimeStats struct {
	Goroutines     int    `json:"goroutines"`
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"`
	SysBytes       uint64 `json:"sys_bytes"`
	// RetainedBytes is what the runtime holds from the OS and has not
	// returned: an upper bound on Go's share of the process's RSS.
	RetainedBytes uint64 `json:"retained_bytes"`
	Mallocs       uint64 `json:"mallocs"`
	GCCycles      uint32 `json:"gc_cycles"`
}

func readRuntime() RuntimeStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return RuntimeStats{
		Goroutines:     runtime.NumGoroutine(),
		HeapInuseBytes: ms.HeapInuse,
		SysBytes:       ms.Sys,
		RetainedBytes:  ms.Sys - ms.HeapReleased,
		Mallocs:        ms.Mallocs,
		GCCycles:       ms.NumGC,
	}
}

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
		if sess.ms != nil {
			info["streams"] = sess.ms.adminInfo(s.opts.Now())
		}
	}
	info["media_up"] = sess.mediaUp
	info["has_offer"] = sess.subscriberOffer != ""
	b, _ := json.Marshal(info)
	return b
}

// AdminMessage answers Janus admin API "message_plugin" requests. Without a
// "request" it returns the summary the load test reads; a failed request
// answers {"error": "..."}.
func (s *Server) AdminMessage(msg []byte) []byte {
	var req AdminRequest
	if len(msg) > 0 {
		if err := checkObject(msg); err != nil {
			return adminError("the request must be a JSON object")
		}
		if err := json.Unmarshal(msg, &req); err != nil {
			return adminError(fmt.Sprintf("malformed request: %v", err))
		}
	}
	switch req.Request {
	case "":
		return mustJSON(s.summary())
	case AdminListRooms:
		return mustJSON(map[string]any{"rooms": s.listRooms()})
	case AdminListUsers:
		return mustJSON(map[string]any{"rooms": s.listUsers(req.RoomID)})
	case AdminKick:
		if req.RoomID == "" || req.UserID == "" {
			return adminError("kick needs room_id and user_id")
		}
		r, err := s.adminKick(req.RoomID, req.UserID)
		if err != nil {
			return adminError(err.Error())
		}
		return mustJSON(map[string]any{"kicked": r})
	case AdminStats:
		return mustJSON(s.stats())
	}
	return adminError(fmt.Sprintf("unknown request %q (known: %s, %s, %s, %s)",
		req.Request, AdminListRooms, AdminListUsers, AdminKick, AdminStats))
}

func adminError(msg string) []byte { return mustJSON(map[string]string{"error": msg}) }

// summary is the answer to a request without "request".
func (s *Server) summary() map[string]any {
	out := s.stateSummary()
	out["runtime"] = readRuntime()
	return out
}

// stateSummary is the summary without the runtime figures (which stop the
// world to read).
func (s *Server) stateSummary() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{
		"sessions": len(s.state.sessions),
		"rooms":    len(s.state.rooms),
		"users":    len(s.state.publisherUsers()),
	}
}

// joinedSessions returns every joined session. Called with s.mu held.
func (s *Server) joinedSessions() []*session {
	var out []*session
	for _, sess := range s.state.sessions {
		if sess.joined {
			out = append(out, sess)
		}
	}
	return out
}

// listRooms covers every room with a joined handle, publishers or not,
// sorted by room.
func (s *Server) listRooms() []RoomInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := map[string]*RoomInfo{}
	users := map[[2]string]struct{}{}
	for _, sess := range s.joinedSessions() {
		r := rooms[sess.roomID]
		if r == nil {
			r = &RoomInfo{RoomID: sess.roomID}
			rooms[sess.roomID] = r
		}
		if sess.publisher {
			r.Publishers++
		} else {
			r.Subscribers++
		}
		if _, seen := users[[2]string{sess.roomID, sess.userID}]; !seen {
			users[[2]string{sess.roomID, sess.userID}] = struct{}{}
			r.Users++
		}
	}
	out := make([]RoomInfo, 0, len(rooms))
	for _, k := range slices.Sorted(maps.Keys(rooms)) {
		out = append(out, *rooms[k])
	}
	return out
}

// listUsers lists each room's users (one room when room is not ""), rooms
// and users sorted.
func (s *Server) listUsers(room string) []RoomUsers {
	s.mu.Lock()
	defer s.mu.Unlock()
	blocks := map[string][]string{}
	for k := range s.state.blocks {
		blocks[k[0]] = append(blocks[k[0]], k[1])
	}
	byRoom := map[string]map[string]*UserInfo{}
	for _, sess := range s.joinedSessions() {
		if room != "" && sess.roomID != room {
			continue
		}
		if byRoom[sess.roomID] == nil {
			byRoom[sess.roomID] = map[string]*UserInfo{}
		}
		u := byRoom[sess.roomID][sess.userID]
		if u == nil {
			u = &UserInfo{UserID: sess.userID, Role: RoleSubscriber, Subscriptions: []string{}, Blocks: []string{}}
			if b := blocks[sess.userID]; b != nil {
				u.Blocks = slices.Sorted(slices.Values(b))
			}
			byRoom[sess.roomID][sess.userID] = u
		}
		u.Handles++
		if sess.publisher {
			u.Role = RolePublisher
		}
		if p := s.state.sessions[sess.media]; sess.media != 0 && p != nil && !slices.Contains(u.Subscriptions, p.userID) {
			u.Subscriptions = append(u.Subscriptions, p.userID)
		}
		if sess.ms != nil {
			if u.Multistream == nil {
				u.Multistream = &StreamCounts{}
			}
			u.Multistream.add(sess.ms)
			for _, user := range s.state.msReceives(sess) {
				if !slices.Contains(u.Subscriptions, user) {
					u.Subscriptions = append(u.Subscriptions, user)
				}
			}
		}
	}
	out := make([]RoomUsers, 0, len(byRoom))
	for _, r := range slices.Sorted(maps.Keys(byRoom)) {
		ru := RoomUsers{RoomID: r, Users: make([]UserInfo, 0, len(byRoom[r]))}
		for _, u := range byRoom[r] {
			slices.Sort(u.Subscriptions)
			ru.Users = append(ru.Users, *u)
		}
		slices.SortFunc(ru.Users, func(a, b UserInfo) int { return cmp.Compare(a.UserID, b.UserID) })
		out = append(out, ru)
	}
	return out
}

// adminKick ends every handle of user in room through Janus (as the
// protocol's kick, but for one room and without a token: Janus has checked
// the admin secret). Janus then destroys the handles, which tells the room.
func (s *Server) adminKick(room, user string) (KickResult, error) {
	s.mu.Lock()
	var targets []SessionID
	var about SessionID // the event's handle: the user's publisher, if any
	for id, sess := range s.state.users[user] {
		if sess.joined && sess.roomID == room {
			targets = append(targets, id)
			if sess.publisher && (about == 0 || id < about) {
				about = id
			}
		}
	}
	s.mu.Unlock()
	if len(targets) == 0 {
		return KickResult{}, fmt.Errorf("user %q has no handle in room %q", user, room)
	}
	slices.Sort(targets)
	if about == 0 {
		about = targets[0]
	}
	s.log.Infof("admin API kicks user %q from room %q (%d handles)", user, room, len(targets))
	// Before ending them: Janus drops events about a gone handle.
	s.notify(about, EventKicked, map[string]any{"room_id": room, "user_id": user, "by": KickedByAdmin})
	for _, id := range targets {
		s.gw.EndSession(id)
	}
	return KickResult{RoomID: room, UserID: user, Handles: len(targets)}, nil
}

// stats gathers the counters of the whole server.
func (s *Server) stats() Stats {
	var st Stats
	s.mu.Lock()
	st.Handles = len(s.state.sessions)
	users := map[string]struct{}{}
	rooms := map[string]struct{}{}
	for _, sess := range s.joinedSessions() {
		users[sess.userID] = struct{}{}
		rooms[sess.roomID] = struct{}{}
		if sess.publisher {
			st.Publishers++
		} else {
			st.Subscribers++
		}
		if sess.ms != nil {
			st.Multistream.add(sess.ms)
		}
	}
	st.Multistream.OfferTimeouts = s.state.ms.timeouts
	st.Users, st.Rooms = len(users), len(rooms)
	s.mu.Unlock()
	st.RejectedJoins, st.Errors = s.metrics.snapshot()
	// Every known kind and reason, zeros too: a time series that exists
	// before its first increment lets rate() see that increment.
	st.RejectedJoins = withZeros(st.RejectedJoins, RejectRoomFull, RejectServerFull, RejectAnonymous,
		RejectInvalidToken, RejectNoPermission, RejectJoinOnce, RejectNoPublisher)
	st.Errors = withZeros(st.Errors, ErrorBadMessage, ErrorBadJSEP, ErrorRefused, ErrorBusy, ErrorInternal)
	if rc, ok := s.gw.(RelayCounter); ok {
		t := rc.RelayTotals()
		st.Relay = &t
	}
	// The queues are fixed at NewServer, and len and cap of a channel
	// need no lock (qmu may be held by a sender waiting on a full queue).
	for _, q := range s.queues {
		st.QueueDepth += len(q)
		st.QueueCapacity += cap(q)
	}
	st.Runtime = readRuntime()
	return st
}

func withZeros(m map[string]uint64, keys ...string) map[string]uint64 {
	if m == nil {
		m = make(map[string]uint64, len(keys))
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			m[k] = 0
		}
	}
	return m
}
