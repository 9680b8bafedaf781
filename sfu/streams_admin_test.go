package sfu

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// handle_info (QuerySession), list_users and stats describe multistream
// subscriptions: each m-line with its state, and counts per user and
// for the server.
func TestStreamsAdmin(t *testing.T) {
	h := newHarness(t, msOptions())
	h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	d := h.publisher("r", "d", true)
	h.publisher("r", "c", true)
	s, p := h.streamsSub("r", "c")

	type line = streamLine
	q := h.queryStreams(s)
	want := []line{
		{"0", 0, "audio", "a", StreamPending, false}, {"1", 1, "video", "a", StreamPending, false},
		{"2", 2, "audio", "b", StreamPending, false}, {"3", 3, "video", "b", StreamPending, false},
		{"4", 4, "audio", "d", StreamPending, false}, {"5", 5, "video", "d", StreamPending, false},
	}
	if !reflect.DeepEqual(q.Streams.Lines, want) || !q.Streams.Outstanding || q.Streams.Offers != 1 || q.Streams.ExpiresInMs != nil {
		t.Errorf("before the answer: %s", h.s.QuerySession(s))
	}

	h.ok(s, "", answerFor(t, p.JSEP))
	h.ok(s, `{"kind":"configure","streams":[{"mid":"3","send":false}]}`, "")
	h.destroy(d) // lines 4 and 5 go inactive (in an offer not answered yet)
	h.waitStreamEvents(s, 1)
	q = h.queryStreams(s)
	want = []line{
		{"0", 0, "audio", "a", StreamActive, true}, {"1", 1, "video", "a", StreamActive, true},
		{"2", 2, "audio", "b", StreamActive, true}, {"3", 3, "video", "b", StreamPaused, false},
		{"4", 4, "audio", "", StreamInactive, false}, {"5", 5, "video", "", StreamInactive, false},
	}
	if !reflect.DeepEqual(q.Streams.Lines, want) || !q.Streams.Outstanding || q.Streams.Offers != 2 {
		t.Errorf("after pause and leave: %s", h.s.QuerySession(s))
	}
	raw := string(h.s.QuerySession(s))
	for _, key := range []string{`"joined":true`, `"user_id":"c"`, `"publisher":false`,
		`{"mid":"3","mindex":3,"kind":"video","user_id":"b","state":"paused","routed":false}`} {
		if !strings.Contains(raw, key) {
			t.Errorf("query_session lacks %s: %s", key, raw)
		}
	}

	counts := StreamCounts{Handles: 1, Lines: 6, Active: 3, Paused: 1, Inactive: 2, OffersOutstanding: 1}
	var users struct {
		Rooms []RoomUsers `json:"rooms"`
	}
	rawUsers := h.admin(`{"request":"list_users","room_id":"r"}`, &users)
	var c, a *UserInfo
	for i, u := range users.Rooms[0].Users {
		switch u.UserID {
		case "c":
			c = &users.Rooms[0].Users[i]
		case "a":
			a = &users.Rooms[0].Users[i]
		}
	}
	if c == nil || c.Multistream == nil || *c.Multistream != counts || !reflect.DeepEqual(c.Subscriptions, []string{"a", "b"}) || c.Handles != 2 {
		t.Errorf("list_users: %s", rawUsers)
	}
	if a == nil || a.Multistream != nil {
		t.Errorf("a user without multistream handles: %s", rawUsers)
	}

	var st Stats
	rawStats := h.admin(`{"request":"stats"}`, &st)
	if st.Multistream != (MultistreamStats{StreamCounts: counts}) || st.Subscribers != 1 {
		t.Errorf("stats: %s", rawStats)
	}
	if !strings.Contains(rawStats, `"multistream":{"handles":1,"lines":6,"active":3,"paused":1,"pending":0,"inactive":2,"offers_outstanding":1,"not_offered":0,"offer_timeouts":0}`) {
		t.Errorf("stats JSON: %s", rawStats)
	}

	// A classic handle has no "streams" in query_session.
	var other map[string]json.RawMessage
	if err := json.Unmarshal(h.s.QuerySession(b), &other); err != nil || other["streams"] != nil {
		t.Errorf("classic query_session: %s", h.s.QuerySession(b))
	}
}
