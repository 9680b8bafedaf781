package sfu

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// countingGateway is the fake gateway with relay counters, as cjanus has.
type countingGateway struct {
	*fakeGateway
	totals RelayCounts
}

func (c countingGateway) RelayTotals() RelayCounts { return c.totals }

// admin sends an admin request and decodes its answer into out.
func (h *harness) admin(req string, out any) string {
	h.t.Helper()
	raw := h.s.AdminMessage([]byte(req))
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("AdminMessage(%s) = %s: %v", req, raw, err)
		}
	}
	return string(raw)
}

// room builds r: publishers a and b, each subscribed to the other, plus a
// notifications-only handle of c; and q: publisher d subscribed to nobody.
// a blocks d (blocks are per user, so they show in any room).
func adminRoom(h *harness) (a, b, as, bs, c, d SessionID) {
	a = h.publisher("r", "a", true)
	b = h.publisher("r", "b", true)
	as = h.subscriber("r", "a", "b")
	bs = h.subscriber("r", "b", "a")
	c = h.session()
	h.ok(c, joinJSON("r", "c", `{"notifications":true}`), "")
	d = h.publisher("q", "d", false)
	h.ok(a, `{"kind":"block","whom":"d"}`, "")
	return
}

func TestAdminListRooms(t *testing.T) {
	h := newHarness(t, Options{})
	var empty struct{ Rooms []RoomInfo }
	if raw := h.admin(`{"request":"list_rooms"}`, &empty); raw != `{"rooms":[]}` {
		t.Errorf("no rooms: %s", raw)
	}
	adminRoom(h)
	h.session() // not joined: in no room
	var got struct{ Rooms []RoomInfo }
	raw := h.admin(`{"request":"list_rooms"}`, &got)
	want := []RoomInfo{
		{RoomID: "q", Users: 1, Publishers: 1, Subscribers: 0},
		{RoomID: "r", Users: 3, Publishers: 2, Subscribers: 3},
	}
	if !reflect.DeepEqual(got.Rooms, want) {
		t.Errorf("list_rooms = %s, want %+v", raw, want)
	}
}

func TestAdminListUsers(t *testing.T) {
	h := newHarness(t, Options{})
	adminRoom(h)
	var got struct{ Rooms []RoomUsers }
	raw := h.admin(`{"request":"list_users"}`, &got)
	want := []RoomUsers{
		{RoomID: "q", Users: []UserInfo{
			{UserID: "d", Role: RolePublisher, Handles: 1, Subscriptions: []string{}, Blocks: []string{}},
		}},
		{RoomID: "r", Users: []UserInfo{
			{UserID: "a", Role: RolePublisher, Handles: 2, Subscriptions: []string{"b"}, Blocks: []string{"d"}},
			{UserID: "b", Role: RolePublisher, Handles: 2, Subscriptions: []string{"a"}, Blocks: []string{}},
			{UserID: "c", Role: RoleSubscriber, Handles: 1, Subscriptions: []string{}, Blocks: []string{}},
		}},
	}
	if !reflect.DeepEqual(got.Rooms, want) {
		t.Errorf("list_users = %s\nwant %+v", raw, want)
	}
	if !strings.Contains(raw, `"subscriptions":[]`) || strings.Contains(raw, "null") {
		t.Errorf("empty lists must be [], not null: %s", raw)
	}

	got.Rooms = nil
	raw = h.admin(`{"request":"list_users","room_id":"q"}`, &got)
	if !reflect.DeepEqual(got.Rooms, want[:1]) {
		t.Errorf("list_users room q = %s", raw)
	}
	if raw := h.admin(`{"request":"list_users","room_id":"nowhere"}`, nil); raw != `{"rooms":[]}` {
		t.Errorf("list_users of an empty room = %s", raw)
	}
}

func TestAdminKick(t *testing.T) {
	h := newHarness(t, Options{})
	a, b, _, bs, _, _ := adminRoom(h)
	// b also sits in room q: a kick from r leaves that handle alone.
	bq := h.subscriber("q", "b", "d")

	var got struct{ Kicked KickResult }
	raw := h.admin(`{"request":"kick","room_id":"r","user_id":"b"}`, &got)
	if want := (KickResult{RoomID: "r", UserID: "b", Handles: 2}); got.Kicked != want {
		t.Errorf("kick = %s, want %+v", raw, want)
	}
	if ended := h.gw.endedSessions(); !sameIDs(ended, ids(b, bs)) {
		t.Errorf("EndSession calls %v, want %v (not %d in room q)", ended, ids(b, bs), bq)
	}
	var kicked []notified
	for _, n := range h.gw.notifications() {
		if strings.Contains(n.Raw, `"event":"kicked"`) {
			kicked = append(kicked, n)
		}
	}
	if len(kicked) != 1 || kicked[0].ID != b ||
		kicked[0].Raw != `{"by":"admin","event":"kicked","room_id":"r","user_id":"b"}` {
		t.Errorf("kicked events %+v, want one about handle %d", kicked, b)
	}

	// Failures end nothing more.
	for req, want := range map[string]string{
		`{"request":"kick","room_id":"r","user_id":"nobody"}`: `{"error":"user \"nobody\" has no handle in room \"r\""}`,
		`{"request":"kick","room_id":"q","user_id":"a"}`:      `{"error":"user \"a\" has no handle in room \"q\""}`,
		`{"request":"kick","room_id":"r"}`:                    `{"error":"kick needs room_id and user_id"}`,
		`{"request":"kick","user_id":"a"}`:                    `{"error":"kick needs room_id and user_id"}`,
	} {
		if raw := h.admin(req, nil); raw != want {
			t.Errorf("%s = %s, want %s", req, raw, want)
		}
	}
	if ended := h.gw.endedSessions(); len(ended) != 2 {
		t.Errorf("failed kicks ended handles: %v", ended)
	}
	_ = a
}

func TestAdminStats(t *testing.T) {
	fg := newFakeGateway()
	totals := RelayCounts{RTPIn: 10, RTPOut: 20, RTCPIn: 3, DataIn: 4, DataOut: 5, KeyframeRequestsIn: 6, KeyframesSent: 7, KeyframesThrottled: 1}
	h := &harness{t: t, gw: fg, log: &testLogger{t: t, quiet: true}}
	h.s = NewServer(countingGateway{fg, totals}, Options{Negotiator: fakeNegotiator{}, Log: h.log, Workers: 2, QueueLength: 8})
	t.Cleanup(func() { h.s.Destroy(); fg.checkInvariants(t) })
	adminRoom(h)
	h.session()
	h.s.metrics.rejectJoin(RejectRoomFull)
	h.s.metrics.rejectJoin(RejectRoomFull)
	h.s.metrics.countError(ErrorBadJSEP)

	var got Stats
	raw := h.admin(`{"request":"stats"}`, &got)
	if got.Runtime.Goroutines < 1 || got.Runtime.HeapInuseBytes == 0 {
		t.Errorf("runtime figures: %s", raw)
	}
	got.Runtime = RuntimeStats{}
	want := Stats{
		Rooms: 2, Users: 4, Publishers: 3, Subscribers: 3, Handles: 7,
		Relay:  &totals,
		Errors: map[string]uint64{ErrorBadMessage: 0, ErrorBadJSEP: 1, ErrorRefused: 0, ErrorBusy: 0, ErrorInternal: 0},
		RejectedJoins: map[string]uint64{RejectRoomFull: 2, RejectServerFull: 0, RejectAnonymous: 0, RejectInvalidToken: 0,
			RejectNoPermission: 0, RejectJoinOnce: 0, RejectNoPublisher: 0},
		QueueDepth: 0, QueueCapacity: 16,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats = %s\nwant %+v", raw, want)
	}
	for _, key := range []string{`"relay":{"rtp_in":10,"rtp_out":20,`, `"keyframes_sent":7,"keyframes_throttled":1}`, `"queue_depth":0`} {
		if !strings.Contains(raw, key) {
			t.Errorf("stats lacks %s: %s", key, raw)
		}
	}
}

func TestAdminStatsWithoutRelayCounter(t *testing.T) {
	h := newHarness(t, Options{})
	raw := h.admin(`{"request":"stats"}`, nil)
	if strings.Contains(raw, `"relay"`) {
		t.Errorf("relay totals from a gateway that does not count: %s", raw)
	}
	if !strings.Contains(raw, `"errors":{"bad_jsep":0,`) || !strings.Contains(raw, `"rejected_joins":{"anonymous":0,`) {
		t.Errorf("counters must list every kind and reason, zeros too: %s", raw)
	}
}

func TestAdminBadRequests(t *testing.T) {
	h := newHarness(t, Options{})
	h.publisher("r", "a", true)
	before := h.snapshot()
	for req, want := range map[string]string{
		`{"request":"list_everything"}`: `{"error":"unknown request \"list_everything\" (known: list_rooms, list_users, kick, stats)"}`,
		`garbage`:                       `{"error":"the request must be a JSON object"}`,
		`[1]`:                           `{"error":"the request must be a JSON object"}`,
		`{"request":"stats"`:            `{"error":"the request must be a JSON object"}`,
	} {
		if raw := h.admin(req, nil); raw != want {
			t.Errorf("%s = %s, want %s", req, raw, want)
		}
	}
	if raw := h.admin(`{"request":7}`, nil); !strings.HasPrefix(raw, `{"error":"malformed request: `) {
		t.Errorf("non-string request = %s", raw)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("bad admin requests changed state:\n%s\n%s", before, after)
	}
	// No request: the summary, as before there were requests.
	for _, req := range []string{"", `{}`, `{"request":""}`} {
		var m map[string]any
		h.admin(req, &m)
		if _, ok := m["runtime"]; !ok || m["sessions"] != 1.0 || m["users"] != 1.0 || m["rooms"] != 1.0 {
			t.Errorf("summary for %q = %v", req, m)
		}
	}
}

// Any admin request answers a JSON object and changes no room state (a
// kick only asks Janus to end handles, which the fake gateway records).
func FuzzAdminMessage(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"request":"list_rooms"}`, `{"request":"list_users","room_id":"r"}`,
		`{"request":"kick","room_id":"r","user_id":"a"}`, `{"request":"stats"}`, `{"request":7}`, `[`, `{"request":"x"}`,
		// Hostile: deep JSON, an oversized id, duplicate keys, trailing data.
		`{"request":"list_users","room_id":` + strings.Repeat("[", 100000) + `}`,
		`{"request":"list_users","room_id":"` + strings.Repeat("r", MaxIDBytes+1) + `"}`,
		`{"request":"list_rooms","request":"kick","room_id":"r","user_id":"a"}`,
		`{"request":"list_rooms"} {"request":"kick"}`} {
		f.Add([]byte(s))
	}
	h := newHarness(f, Options{})
	adminRoom(h)
	before := string(mustJSON(h.s.stateSummary()))
	f.Fuzz(func(t *testing.T, req []byte) {
		out := h.s.AdminMessage(req)
		if checkObject(out) != nil {
			t.Fatalf("AdminMessage(%q) = %q: not a JSON object", req, out)
		}
		if after := string(mustJSON(h.s.stateSummary())); after != before {
			t.Fatalf("AdminMessage(%q) changed state: %s -> %s", req, before, after)
		}
	})
}
