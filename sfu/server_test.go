package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestJoinPublisher(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.session()
	h.offer(a, "offer-a")
	p := h.ok(a, `{"kind":"join","room_id":"r","user_id":"a","subscribe":{"notifications":true,"data":true}}`, "")
	if p.RawBody != `{"response":{"users":{"r":[]}},"success":true}` {
		t.Errorf("first join: %s", p.RawBody)
	}
	if p.RawJSEP != "" {
		t.Errorf("publisher join carries jsep %s", p.RawJSEP)
	}

	b := h.session()
	h.offer(b, "offer-b")
	p = h.ok(b, joinJSON("r", "b", `{"notifications":true,"data":true}`), "")
	if p.RawBody != `{"response":{"users":{"r":["a"]}},"success":true}` {
		t.Errorf("second join: %s", p.RawBody)
	}
	if got := h.gw.eventBodies(a); !slices.Equal(got, []string{`{"event":"join","room_id":"r","user_id":"b"}`}) {
		t.Errorf("a's events: %v", got)
	}
	for _, e := range h.gw.events(a) {
		if e.RawJSEP != "" {
			t.Errorf("join event carries jsep %s", e.RawJSEP)
		}
	}
	if got := h.gw.events(b); len(got) != 0 {
		t.Errorf("b got events: %+v", got)
	}

	// A third user lists both, sorted; publishers without notifications
	// get no events.
	c := h.publisher("r", "c", false)
	d := h.publisher("r", "d", true)
	if got := h.gw.events(c); len(got) != 0 {
		t.Errorf("c (no notifications) got events: %+v", got)
	}
	if got := h.gw.eventBodies(b); !slices.Equal(got, []string{
		`{"event":"join","room_id":"r","user_id":"c"}`,
		`{"event":"join","room_id":"r","user_id":"d"}`,
	}) {
		t.Errorf("b's events: %v", got)
	}

	// Same user publishing twice (a reconnect): no notification to itself,
	// and the users list contains it.
	a2 := h.session()
	h.offer(a2, "offer-a2")
	p = h.ok(a2, joinJSON("r", "a", `{"notifications":true,"data":true}`), "")
	if p.RawBody != `{"response":{"users":{"r":["a","b","c","d"]}},"success":true}` {
		t.Errorf("reconnect join: %s", p.RawBody)
	}
	if got := h.gw.eventBodies(a); len(got) != 3 {
		t.Errorf("a notified of its own second publisher: %v", got)
	}
	if got := h.gw.eventBodies(d); !slices.Equal(got, []string{`{"event":"join","room_id":"r","user_id":"a"}`}) {
		t.Errorf("d's events: %v", got)
	}
	// Other rooms are not told.
	e := h.publisher("other", "e", true)
	if got := h.gw.eventBodies(e); len(got) != 0 {
		t.Errorf("e in another room got %v", got)
	}
	if got := h.gw.eventBodies(a); len(got) != 3 {
		t.Errorf("a got events from another room: %v", got)
	}
}

func TestJoinSubscriberNotificationsOnly(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	// A join with notifications but no data is a subscriber: it is not in
	// the users list and triggers no join event.
	s := h.session()
	p := h.ok(s, joinJSON("r", "s", `{"notifications":true}`), "")
	if p.RawBody != `{"response":{"users":{"r":["a"]}},"success":true}` {
		t.Errorf("subscriber join: %s", p.RawBody)
	}
	// No subscribe at all.
	s2 := h.session()
	h.ok(s2, joinJSON("r", "s2", ""), "")
	if got := h.gw.events(a); len(got) != 0 {
		t.Errorf("subscriber joins notified a: %+v", got)
	}
	p = h.ok(h.session(), joinJSON("r", "x", `{"data":true}`), "")
	if p.RawBody != `{"response":{"users":{"r":["a"]}},"success":true}` {
		t.Errorf("subscribers listed as users: %s", p.RawBody)
	}
}

func TestJoinSubscriberMedia(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	c := h.publisher("r2", "c", true)

	sub := h.session()
	p := h.ok(sub, joinJSON("r", "b", `{"media":"a"}`), "")
	if p.RawBody != `{"response":{"users":{"r":["a","b"]}},"success":true}` {
		t.Errorf("subscriber join body: %s", p.RawBody)
	}
	want := map[string]any{"type": "offer", "sdp": "suboffer-for:offer-a"}
	if !reflect.DeepEqual(p.JSEP, want) {
		t.Errorf("subscriber join jsep %s, want %v", p.RawJSEP, want)
	}
	if got := h.gw.events(a); len(got) != 1 { // only b's join
		t.Errorf("a's events: %v", h.gw.eventBodies(a))
	}

	checkRoutes(t, h.gw, a, Routes{RTP: ids(sub), Data: ids(b)})
	checkRoutes(t, h.gw, b, Routes{Data: ids(a)})
	checkRoutes(t, h.gw, sub, Routes{Keyframe: ids(a)})
	checkRoutes(t, h.gw, c, Routes{})

	// A second subscriber of a, from user a itself (it may watch itself).
	sub2 := h.subscriber("r", "c", "a")
	checkRoutes(t, h.gw, a, Routes{RTP: ids(sub, sub2), Data: ids(b)})
	checkRoutes(t, h.gw, sub2, Routes{Keyframe: ids(a)})
	// Data routes never include subscribers or other rooms.
	for _, id := range []SessionID{a, b} {
		for _, x := range h.gw.routesOf(id).Data {
			if x == sub || x == sub2 || x == c {
				t.Errorf("data route of %d names %d", id, x)
			}
		}
	}
}

func TestJoinErrors(t *testing.T) {
	type step struct {
		body, jsep, msg string
	}
	tests := []struct {
		name  string
		opts  Options
		setup func(h *harness) SessionID // returns the handle that sends
		steps []step
		// then: a valid join on the same handle still works
		thenJoin string
	}{
		{
			name: "join twice",
			setup: func(h *harness) SessionID {
				h.publisher("r", "a", true)
				return h.publisher("r", "b", true)
			},
			steps: []step{
				{joinJSON("r", "b", `{"notifications":true,"data":true}`), "", ErrJoinOnce},
				{joinJSON("r2", "z", `{"data":true}`), "", ErrJoinOnce},
				{joinJSON("r", "b", `{"media":"a"}`), "", ErrJoinOnce},
			},
		},
		{
			name: "nonexistent publisher",
			setup: func(h *harness) SessionID {
				h.publisher("r", "a", true)
				h.subscriber("r", "s", "a")
				return h.session()
			},
			steps: []step{
				{joinJSON("r", "s", `{"media":"nobody"}`), "", ErrNoPublisher},
				// A subscriber is not a publisher.
				{joinJSON("r", "x", `{"media":"s"}`), "", ErrNoPublisher},
			},
			thenJoin: joinJSON("r", "s", `{"media":"a"}`),
		},
		{
			name: "publisher without offer",
			setup: func(h *harness) SessionID {
				a := h.session()
				h.ok(a, joinJSON("r", "a", `{"notifications":true,"data":true}`), "")
				return h.session()
			},
			steps:    []step{{joinJSON("r", "s", `{"notifications":true,"media":"a"}`), "", ErrPublisherNoOffer}},
			thenJoin: joinJSON("r", "s", `{"notifications":true,"data":true}`),
		},
		{
			name: "room full",
			opts: Options{MaxRoomSize: 1},
			setup: func(h *harness) SessionID {
				h.publisher("r", "a", true)
				return h.session()
			},
			steps: []step{
				{joinJSON("r", "b", `{"notifications":true,"data":true}`), "", ErrRoomFull},
				// The error wins over the jsep, which is not applied.
				{joinJSON("r", "b", `{"data":true}`), jsepJSON("offer", "o"), ErrRoomFull},
			},
			// Subscribers are not limited.
			thenJoin: joinJSON("r", "b", `{"notifications":true,"media":"a"}`),
		},
		{
			name: "server full",
			opts: Options{MaxCCU: 1},
			setup: func(h *harness) SessionID {
				h.publisher("r", "a", true)
				return h.session()
			},
			steps: []step{
				{joinJSON("r2", "b", `{"notifications":true,"data":true}`), "", ErrServerFull},
				{joinJSON("r", "b", `{"data":true}`), "", ErrServerFull},
			},
			thenJoin: joinJSON("r2", "b", `{"notifications":true}`),
		},
		{
			name: "anonymous",
			opts: Options{Verify: testVerify},
			setup: func(h *harness) SessionID {
				return h.session()
			},
			steps: []step{
				{joinJSON("r", "a", `{"data":true}`), "", ErrAnonymous},
				{`{"kind":"join","room_id":"r","user_id":"a","token":null}`, "", ErrAnonymous},
			},
			thenJoin: `{"kind":"join","room_id":"r","user_id":"a","token":"join","subscribe":{"data":true}}`,
		},
		{
			name:  "invalid token",
			opts:  Options{Verify: testVerify},
			setup: func(h *harness) SessionID { return h.session() },
			steps: []step{
				{`{"kind":"join","room_id":"r","user_id":"a","token":"garbage"}`, "", ErrInvalidToken},
				{`{"kind":"join","room_id":"r","user_id":"a","token":""}`, "", ErrInvalidToken},
			},
			thenJoin: `{"kind":"join","room_id":"r","user_id":"a","token":"room-r","subscribe":{"data":true}}`,
		},
		{
			name:  "no permission",
			opts:  Options{Verify: testVerify},
			setup: func(h *harness) SessionID { return h.session() },
			steps: []step{
				{`{"kind":"join","room_id":"r","user_id":"a","token":"nojoin"}`, "", ErrNoPermission},
				{`{"kind":"join","room_id":"r","user_id":"a","token":"kickonly"}`, "", ErrNoPermission},
				{`{"kind":"join","room_id":"r2","user_id":"a","token":"room-r"}`, "", ErrNoPermission},
				{`{"kind":"join","room_id":"r","user_id":"a","token":"norooms"}`, "", ErrNoPermission},
			},
			thenJoin: `{"kind":"join","room_id":"r","user_id":"a","token":"room-r","subscribe":{"data":true}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			id := tc.setup(h)
			for _, st := range tc.steps {
				h.fail(id, st.body, st.jsep, st.msg)
			}
			if tc.thenJoin != "" {
				h.ok(id, tc.thenJoin, "")
			}
		})
	}
}

// testVerify accepts a few well-known tokens.
func testVerify(token string) (Grant, error) {
	switch token {
	case "join":
		return Grant{JoinHub: true}, nil
	case "kick":
		return Grant{JoinHub: true, KickUsers: true}, nil
	case "kickonly":
		return Grant{KickUsers: true}, nil
	case "nojoin":
		return Grant{}, nil
	case "room-r":
		return Grant{JoinHub: true, RoomIDs: []string{"x", "r"}}, nil
	case "norooms":
		return Grant{JoinHub: true, RoomIDs: []string{}}, nil
	}
	return Grant{}, errors.New("invalid token")
}

func TestAuthAnyRoom(t *testing.T) {
	h := newHarness(t, Options{Verify: testVerify})
	for i, room := range []string{"r", "r2", "anything"} {
		h.ok(h.session(), fmt.Sprintf(`{"kind":"join","room_id":%q,"user_id":"u%d","token":"join","subscribe":{"data":true}}`, room, i), "")
	}
	// Auth off: no token needed, and a token is not checked.
	h2 := newHarness(t, Options{})
	h2.ok(h2.session(), `{"kind":"join","room_id":"r","user_id":"a","token":"garbage"}`, "")
}

func TestLimits(t *testing.T) {
	t.Run("room", func(t *testing.T) {
		h := newHarness(t, Options{MaxRoomSize: 1})
		a := h.publisher("r", "a", true)
		// The same user may publish again in a full room.
		a2 := h.publisher("r", "a", true)
		// Another room is not full.
		h.publisher("r2", "b", true)
		h.fail(h.session(), joinJSON("r", "c", `{"data":true}`), "", ErrRoomFull)
		// Subscribers are not limited.
		h.subscriber("r", "c", "a")
		h.subscriber("r", "d", "a")
		// When the user is gone the room has space again.
		h.destroy(a)
		h.destroy(a2)
		h.publisher("r", "c", true)
	})
	t.Run("server", func(t *testing.T) {
		h := newHarness(t, Options{MaxCCU: 2})
		h.publisher("r1", "a", true)
		h.publisher("r2", "b", true)
		h.fail(h.session(), joinJSON("r3", "c", `{"data":true}`), "", ErrServerFull)
		// Users already on the server may publish in other rooms.
		h.publisher("r3", "a", true)
		h.publisher("r1", "b", true)
		h.subscriber("r3", "c", "a")
	})
	t.Run("room before server", func(t *testing.T) {
		h := newHarness(t, Options{MaxRoomSize: 1, MaxCCU: 1})
		h.publisher("r", "a", true)
		h.fail(h.session(), joinJSON("r", "b", `{"data":true}`), "", ErrRoomFull)
		h.fail(h.session(), joinJSON("r2", "b", `{"data":true}`), "", ErrServerFull)
	})
}

func TestKick(t *testing.T) {
	tests := []struct {
		name   string
		verify func(string) (Grant, error)
		token  string
		kicked bool
	}{
		{"kick_users", testVerify, "kick", true},
		{"kick_users without join_hub", testVerify, "kickonly", true},
		{"no kick_users", testVerify, "join", false},
		{"invalid token", testVerify, "garbage", false},
		{"auth off", nil, "kick", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{Verify: tc.verify})
			tok := `,"token":"join"`
			if tc.verify == nil {
				tok = ""
			}
			join := func(room, user, sub string) SessionID {
				id := h.session()
				h.offer(id, "o-"+user)
				h.ok(id, fmt.Sprintf(`{"kind":"join","room_id":%q,"user_id":%q,"subscribe":%s%s}`, room, user, sub, tok), "")
				return id
			}
			a := join("r", "a", `{"notifications":true,"data":true}`)
			b := join("r", "b", `{"notifications":true,"data":true}`)
			bs := join("r", "b", `{"media":"a"}`)
			as := join("r", "a", `{"media":"b"}`)
			_ = as
			kicker := h.session() // need not have joined
			p := h.ok(kicker, fmt.Sprintf(`{"kind":"kick","room_id":"r","user_id":"b","token":%q}`, tc.token), "")
			if p.RawBody != `{"response":{},"success":true}` {
				t.Errorf("kick response %s", p.RawBody)
			}
			got := h.gw.endedSessions()
			var want []SessionID
			if tc.kicked {
				want = ids(b, bs)
			}
			if !sameIDs(got, want) {
				t.Errorf("EndSession calls %v, want %v", got, want)
			}
			// Unknown users: success, nothing ended.
			h.ok(a, `{"kind":"kick","room_id":"r","user_id":"nobody","token":"kick"}`, "")
			if got2 := h.gw.endedSessions(); !sameIDs(got2, want) {
				t.Errorf("kicking nobody ended %v", got2)
			}
		})
	}
}

func TestBlockUnblock(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	c := h.publisher("r", "c", false)
	aSubB := h.subscriber("r", "a", "b")
	bSubA := h.subscriber("r", "b", "a")
	cSubA := h.subscriber("r", "c", "a")
	cSubB := h.subscriber("r", "c", "b")

	full := func() {
		t.Helper()
		checkRoutes(t, h.gw, a, Routes{RTP: ids(bSubA, cSubA), Data: ids(b, c)})
		checkRoutes(t, h.gw, b, Routes{RTP: ids(aSubB, cSubB), Data: ids(a, c)})
		checkRoutes(t, h.gw, c, Routes{Data: ids(a, b)})
		checkRoutes(t, h.gw, aSubB, Routes{Keyframe: ids(b)})
		checkRoutes(t, h.gw, bSubA, Routes{Keyframe: ids(a)})
		checkRoutes(t, h.gw, cSubA, Routes{Keyframe: ids(a)})
		checkRoutes(t, h.gw, cSubB, Routes{Keyframe: ids(b)})
	}
	blocked := func() {
		t.Helper()
		checkRoutes(t, h.gw, a, Routes{RTP: ids(cSubA), Data: ids(c)})
		checkRoutes(t, h.gw, b, Routes{RTP: ids(cSubB), Data: ids(c)})
		checkRoutes(t, h.gw, c, Routes{Data: ids(a, b)})
		checkRoutes(t, h.gw, aSubB, Routes{})
		checkRoutes(t, h.gw, bSubA, Routes{})
		checkRoutes(t, h.gw, cSubA, Routes{Keyframe: ids(a)})
		checkRoutes(t, h.gw, cSubB, Routes{Keyframe: ids(b)})
	}
	full()

	bEvents := len(h.gw.events(b))
	p := h.ok(a, `{"kind":"block","whom":"b"}`, "")
	if p.RawBody != `{"response":{},"success":true}` {
		t.Errorf("block response %s", p.RawBody)
	}
	if got := h.gw.eventBodies(b)[bEvents:]; !slices.Equal(got, []string{`{"by":"a","event":"blocked"}`}) {
		t.Errorf("b's events after block: %v", got)
	}
	blocked()
	// SetupMedia of a blocked subscriber asks for no keyframe.
	kf := len(h.gw.keyframeRequests())
	h.setupMedia(aSubB)
	h.setupMedia(bSubA)
	if got := h.gw.keyframeRequests(); len(got) != kf {
		t.Errorf("keyframe requested for blocked subscriber: %v", got[kf:])
	}
	// A subscriber (not a publisher) can block too; whom without
	// notifications gets no event.
	cEvents := len(h.gw.events(c))
	h.ok(aSubB, `{"kind":"block","whom":"c"}`, "")
	h.ok(aSubB, `{"kind":"unblock","whom":"c"}`, "")
	if got := h.gw.events(c); len(got) != cEvents {
		t.Errorf("c without notifications got %v", h.gw.eventBodies(c))
	}
	blocked()

	aEvents, bEvents := len(h.gw.events(a)), len(h.gw.events(b))
	kf = len(h.gw.keyframeRequests())
	p = h.ok(a, `{"kind":"unblock","whom":"b"}`, "")
	if p.RawBody != `{"response":{},"success":true}` {
		t.Errorf("unblock response %s", p.RawBody)
	}
	if got := h.gw.eventBodies(b)[bEvents:]; !slices.Equal(got, []string{`{"by":"a","event":"unblocked"}`}) {
		t.Errorf("b's events after unblock: %v", got)
	}
	if got := h.gw.events(a); len(got) != aEvents {
		t.Errorf("blocker got events: %v", h.gw.eventBodies(a)[aEvents:])
	}
	if got := h.gw.keyframeRequests()[kf:]; !slices.Equal(got, ids(b)) {
		t.Errorf("keyframe requests after unblock %v, want [%d]", got, b)
	}
	full()

	// Blocking from the other side works the same; blocking a user who
	// never had a handle is refused (blocks are bounded, blocks.go).
	h.ok(b, `{"kind":"block","whom":"a"}`, "")
	blocked()
	h.ok(b, `{"kind":"unblock","whom":"a"}`, "")
	full()
	h.fail(a, `{"kind":"block","whom":"nobody"}`, "", ErrUnknownUser)
	full()
	h.ok(a, `{"kind":"unblock","whom":"nobody"}`, "")
}

func TestBlockNotJoined(t *testing.T) {
	h := newHarness(t, Options{})
	h.publisher("r", "b", true)
	x := h.session()
	h.fail(x, `{"kind":"block","whom":"b"}`, "", ErrBlockNotJoined)
	h.fail(x, `{"kind":"unblock","whom":"b"}`, "", ErrUnblockNotJoined)
	h.fail(x, `{"kind":"data","body":"hi"}`, "", ErrDataNotJoined)
	h.fail(x, `{"kind":"data","body":"hi","whom":"b"}`, "", ErrDataNotJoined)
	h.ok(x, joinJSON("r", "x", `{"data":true}`), "")
}

func TestBlockSurvivesReconnect(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	bSubA := h.subscriber("r", "b", "a")
	h.ok(a, `{"kind":"block","whom":"b"}`, "")

	// b reconnects: every handle goes, new ones come.
	h.destroy(b)
	h.destroy(bSubA)
	b2 := h.publisher("r", "b", true)
	b2SubA := h.subscriber("r", "b", "a")
	aSubB := h.subscriber("r", "a", "b")
	checkRoutes(t, h.gw, a, Routes{})
	checkRoutes(t, h.gw, b2, Routes{})
	checkRoutes(t, h.gw, b2SubA, Routes{})
	checkRoutes(t, h.gw, aSubB, Routes{})
	kf := len(h.gw.keyframeRequests())
	h.setupMedia(b2SubA)
	if got := h.gw.keyframeRequests(); len(got) != kf {
		t.Errorf("keyframe for blocked reconnected subscriber: %v", got[kf:])
	}
	h.ok(a, `{"kind":"unblock","whom":"b"}`, "")
	checkRoutes(t, h.gw, a, Routes{RTP: ids(b2SubA), Data: ids(b2)})
	checkRoutes(t, h.gw, b2, Routes{RTP: ids(aSubB), Data: ids(a)})
	checkRoutes(t, h.gw, b2SubA, Routes{Keyframe: ids(a)})
	checkRoutes(t, h.gw, aSubB, Routes{Keyframe: ids(b2)})
}

func TestData(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	a2 := h.publisher("r", "a", false) // a second publisher of a
	b := h.publisher("r", "b", false)
	c := h.publisher("r", "c", true)
	other := h.publisher("r2", "d", true)
	subA := h.subscriber("r", "e", "a")
	// A joined handle without data subscription.
	nodata := h.session()
	h.ok(nodata, joinJSON("r", "f", `{"notifications":true}`), "")

	count := func() map[SessionID]int {
		m := map[SessionID]int{}
		for _, id := range []SessionID{a, a2, b, c, other, subA, nodata} {
			m[id] = len(h.gw.events(id))
		}
		return m
	}
	const ev = `{"body":"x","event":"data"}`
	tests := []struct {
		name string
		from SessionID
		body string
		to   []SessionID
	}{
		{"broadcast", a, `{"kind":"data","body":"x"}`, ids(b, c)},
		{"broadcast from second handle", a2, `{"kind":"data","body":"x"}`, ids(b, c)},
		{"broadcast from subscriber", subA, `{"kind":"data","body":"x"}`, ids(a, a2, b, c)},
		{"whom", a, `{"kind":"data","body":"x","whom":"c"}`, ids(c)},
		{"whom with two handles", c, `{"kind":"data","body":"x","whom":"a"}`, ids(a, a2)},
		{"whom absent", a, `{"kind":"data","body":"x","whom":"nobody"}`, nil},
		{"whom null", b, `{"kind":"data","body":"x","whom":null}`, ids(a, a2, c)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := count()
			p := h.ok(tc.from, tc.body, "")
			if p.RawBody != `{"response":{},"success":true}` {
				t.Errorf("data response %s", p.RawBody)
			}
			after := count()
			for id, n := range after {
				want := 0
				if slices.Contains(tc.to, id) {
					want = 1
				}
				if n-before[id] != want {
					t.Errorf("session %d got %d events, want %d", id, n-before[id], want)
				}
				if want == 1 {
					if got := h.gw.events(id)[n-1]; got.RawBody != ev || got.RawJSEP != "" {
						t.Errorf("session %d event %s %s", id, got.RawBody, got.RawJSEP)
					}
				}
			}
		})
	}
	// Blocks do not filter kind:data signalling (as in the Rust plugin).
	h.ok(a, `{"kind":"block","whom":"c"}`, "")
	n := len(h.gw.events(c))
	h.ok(a, `{"kind":"data","body":"x"}`, "")
	if got := len(h.gw.events(c)); got != n+1 {
		t.Errorf("blocked user got %d data events, want 1", got-n)
	}
	// Bodies are decoded once and re-encoded: what the client sent is
	// what the others get.
	for body, want := range map[string]string{
		`"{\"a\":\"\\u00e9\\n\"}"`: `{"a":"\u00e9\n"}`,
		`"\u00e9\n\u0000<>&"`:      "\u00e9\n\x00<>&",
	} {
		h.ok(a, `{"kind":"data","whom":"c","body":`+body+`}`, "")
		evs := h.gw.events(c)
		if got := evs[len(evs)-1].Body["body"]; got != want {
			t.Errorf("body %s arrived as %q, want %q", body, got, want)
		}
	}
}

func TestLeave(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	c := h.publisher("r", "c", false)
	other := h.publisher("r2", "d", true)
	b := h.publisher("r", "b", true)
	bSubA := h.subscriber("r", "b", "a")
	aSubB := h.subscriber("r", "a", "b")
	evA, evOther := len(h.gw.events(a)), len(h.gw.events(other))

	h.destroy(b)
	if got := h.gw.eventBodies(a)[evA:]; len(got) != 0 {
		t.Errorf("leave while b still has a handle: %v", got)
	}
	checkRoutes(t, h.gw, a, Routes{RTP: ids(bSubA), Data: ids(c)})
	checkRoutes(t, h.gw, c, Routes{Data: ids(a)})
	checkRoutes(t, h.gw, aSubB, Routes{})
	// A subscriber whose publisher is gone gets no keyframe on setup.
	kf := len(h.gw.keyframeRequests())
	h.setupMedia(aSubB)
	if got := h.gw.keyframeRequests(); len(got) != kf {
		t.Errorf("keyframe for orphaned subscriber: %v", got[kf:])
	}
	// b is not a publisher any more: not listed.
	p := h.ok(h.session(), joinJSON("r", "x", ""), "")
	if p.RawBody != `{"response":{"users":{"r":["a","c"]}},"success":true}` {
		t.Errorf("users after b's publisher left: %s", p.RawBody)
	}

	h.destroy(bSubA)
	if got := h.gw.eventBodies(a)[evA:]; !slices.Equal(got, []string{`{"event":"leave","room_id":"r","user_id":"b"}`}) {
		t.Errorf("a's events after b's last handle: %v", got)
	}
	if got := h.gw.events(c); len(got) != 0 {
		t.Errorf("c without notifications got %v", h.gw.eventBodies(c))
	}
	if got := h.gw.events(other); len(got) != evOther {
		t.Errorf("other room got %v", h.gw.eventBodies(other)[evOther:])
	}
	checkRoutes(t, h.gw, a, Routes{Data: ids(c)})

	// Destroying twice, or destroying a handle that never joined, is
	// harmless and sends nothing.
	n := len(h.gw.allPushes())
	h.destroy(bSubA)
	x := h.session()
	h.destroy(x)
	h.destroy(9999)
	if got := h.gw.allPushes(); len(got) != n {
		t.Errorf("pushes after no-op destroys: %+v", got[n:])
	}

	// The last publisher leaving empties the room.
	h.destroy(aSubB)
	h.destroy(c)
	h.destroy(a)
	h.destroy(other)
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for _, id := range []SessionID{a, b, c, other, aSubB, bSubA} {
		if _, ok := h.s.state.sessions[id]; ok {
			t.Errorf("session %d still known", id)
		}
	}
	if len(h.s.state.rooms) != 0 {
		t.Errorf("rooms left behind: %v", h.s.state.rooms)
	}
	if len(h.s.state.subscribers) != 0 {
		t.Errorf("subscribers left behind: %v", h.s.state.subscribers)
	}
}

// The relay learns the publisher's payload types with each offer, and a
// bad offer leaves them alone.
func TestPayloadMapFollowsOffers(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	if m, ok := h.gw.payloadMap(a); !ok || m != NoPayloadMap {
		t.Errorf("payload map after plain offer: %+v %v", m, ok)
	}
	h.offer(a, "pt:126")
	want := PayloadMap{AudioFrom: 109, AudioTo: 111, VideoFrom: 126, VideoTo: 107}
	if m, _ := h.gw.payloadMap(a); m != want {
		t.Errorf("payload map %+v, want %+v", m, want)
	}
	h.fail(a, "", jsepJSON("offer", "bad"), "Invalid SDP offer: bad offer")
	if m, _ := h.gw.payloadMap(a); m != want {
		t.Errorf("bad offer changed the payload map to %+v", m)
	}
}

func TestJSEP(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	s1 := h.subscriber("r", "s1", "a")
	s2 := h.subscriber("r", "s2", "a")
	h.publisher("r", "b", true)
	sb := h.subscriber("r", "s3", "b")

	// Renegotiation: the new subscriber offer goes to a's subscribers.
	h.offer(a, "offer-a-2")
	for _, id := range []SessionID{s1, s2} {
		evs := h.gw.events(id)
		if len(evs) != 1 {
			t.Fatalf("subscriber %d events %d, want 1", id, len(evs))
		}
		want := map[string]any{"type": "offer", "sdp": "suboffer-for:offer-a-2"}
		if evs[0].RawBody != `{}` || !reflect.DeepEqual(evs[0].JSEP, want) {
			t.Errorf("renegotiation to %d: %s %s", id, evs[0].RawBody, evs[0].RawJSEP)
		}
	}
	if got := h.gw.events(sb); len(got) != 0 {
		t.Errorf("b's subscriber got %+v", got)
	}
	// New subscribers get the latest offer.
	p := h.ok(h.session(), joinJSON("r", "s4", `{"media":"a"}`), "")
	if p.JSEP["sdp"] != "suboffer-for:offer-a-2" {
		t.Errorf("subscriber after renegotiation got %s", p.RawJSEP)
	}

	// A bad offer fails and keeps the stored offer.
	h.fail(a, "", jsepJSON("offer", "bad"), "Invalid SDP offer: bad offer")
	h.fail(a, `{"kind":"data","body":"x"}`, jsepJSON("offer", "bad"), "Invalid SDP offer: bad offer")
	p = h.ok(h.session(), joinJSON("r", "s5", `{"media":"a"}`), "")
	if p.JSEP["sdp"] != "suboffer-for:offer-a-2" {
		t.Errorf("subscriber after bad offer got %s", p.RawJSEP)
	}
	if got := h.gw.events(s1); len(got) != 1 {
		t.Errorf("bad offer renegotiated: %v", got)
	}

	// Answers.
	p = h.ok(s1, "", jsepJSON("answer", "v=0"))
	if p.RawBody != `{"success":true}` || p.RawJSEP != "" {
		t.Errorf("answer response %s %s", p.RawBody, p.RawJSEP)
	}
	h.fail(s1, "", jsepJSON("answer", "bad"), "Invalid SDP answer: bad answer")

	// Message and jsep together: both processed; the jsep answer is sent.
	c := h.session()
	p = h.ok(c, joinJSON("r", "c", `{"notifications":true,"data":true}`), jsepJSON("offer", "offer-c"))
	if p.RawBody != `{"response":{"users":{"r":["a","b"]}},"success":true}` {
		t.Errorf("join+offer body %s", p.RawBody)
	}
	if want := (map[string]any{"type": "answer", "sdp": "answer-for:offer-c"}); !reflect.DeepEqual(p.JSEP, want) {
		t.Errorf("join+offer jsep %s", p.RawJSEP)
	}
	p = h.ok(h.session(), joinJSON("r", "s6", `{"media":"c"}`), "")
	if p.JSEP["sdp"] != "suboffer-for:offer-c" {
		t.Errorf("subscriber of c got %s", p.RawJSEP)
	}
	p = h.ok(s2, `{"kind":"data","body":"x"}`, jsepJSON("answer", "v=0"))
	if p.RawBody != `{"response":{},"success":true}` || p.RawJSEP != "" {
		t.Errorf("data+answer response %s %s", p.RawBody, p.RawJSEP)
	}
	// A valid message with a bad offer changes nothing: the join is not
	// applied, so a later join works.
	d := h.session()
	h.fail(d, joinJSON("r", "d", `{"notifications":true,"data":true}`), jsepJSON("offer", "bad"), "Invalid SDP offer: bad offer")
	// A failing message with a good offer does not store the offer.
	h.fail(d, `{"kind":"block","whom":"a"}`, jsepJSON("offer", "offer-d"), ErrBlockNotJoined)
	h.ok(d, joinJSON("r", "d", `{"notifications":true,"data":true}`), "")
	h.fail(h.session(), joinJSON("r", "s7", `{"media":"d"}`), "", ErrPublisherNoOffer)

	// Malformed jseps; a message error wins over a jsep error.
	bad := []struct{ jsep, msg string }{
		{`{"type":"pranswer","sdp":"x"}`, `Malformed jsep: "type" must be "offer" or "answer".`},
		{`{"type":"rollback","sdp":""}`, `Malformed jsep: "type" must be "offer" or "answer".`},
		{`{"sdp":"x"}`, `Malformed jsep: missing "type".`},
		{`{"type":"offer"}`, `Malformed jsep: missing "sdp".`},
		{`{"type":"offer","sdp":null}`, `Malformed jsep: "sdp" must be a string.`},
		{`{"type":"offer","sdp":5}`, `Malformed jsep: "sdp" must be a string.`},
		{`{"type":1,"sdp":"x"}`, `Malformed jsep: "type" must be a string.`},
		{`{"type":"offeroffer-offeroffer","sdp":"x"}`, `Malformed jsep: "type" is longer than 16 bytes.`},
		{`[]`, `Malformed jsep: it must be a JSON object.`},
		{`"offer"`, `Malformed jsep: it must be a JSON object.`},
		{`{"type":"offer","sdp":"x"`, `Malformed jsep: it must be a JSON object.`},
		{jsepJSON("offer", strings.Repeat("a", MaxSDPBytes+1)), fmt.Sprintf(`Malformed jsep: "sdp" is longer than %d bytes.`, MaxSDPBytes)},
	}
	for _, tc := range bad {
		h.fail(a, "", tc.jsep, tc.msg)
		h.fail(a, `{"kind":"data","body":"x"}`, tc.jsep, tc.msg)
		h.fail(a, `{"kind":"nope"}`, tc.jsep, `Unknown message kind "nope".`)
	}
	if got := h.gw.events(s1); len(got) != 1 {
		t.Errorf("failed jseps renegotiated: %d events", len(got))
	}
}

func TestNoNegotiator(t *testing.T) {
	gw := newFakeGateway()
	log := &testLogger{t: t, quiet: true}
	s := NewServer(gw, Options{Log: log})
	s.CreateSession(1)
	s.HandleMessage(1, "t", nil, []byte(jsepJSON("offer", "x")))
	s.HandleMessage(1, "u", nil, []byte(jsepJSON("answer", "x")))
	gw.waitResponse(t, 1, "u")
	s.Destroy()
	if r := gw.findResponses(1, "t"); len(r) != 1 || r[0].Body["success"] != false {
		t.Errorf("offer without negotiator: %+v", r)
	}
	if r := gw.findResponses(1, "u"); len(r) != 1 || r[0].RawBody != `{"success":true}` {
		t.Errorf("answer without negotiator: %+v", r)
	}
	gw.checkInvariants(t)
}

func TestMalformed(t *testing.T) {
	long := strings.Repeat("x", MaxIDBytes+1)
	tests := []struct{ name, body, msg string }{
		{"array", `[]`, "Malformed message: the body must be a JSON object."},
		{"string", `"join"`, "Malformed message: the body must be a JSON object."},
		{"number", `1`, "Malformed message: the body must be a JSON object."},
		{"null", `null`, "Malformed message: the body must be a JSON object."},
		{"truncated", `{"kind":"join"`, "Malformed message: the body must be a JSON object."},
		{"trailing garbage", `{"kind":"data","body":"x"} x`, "Malformed message: the body must be a JSON object."},
		{"two objects", `{}{}`, "Malformed message: the body must be a JSON object."},
		{"bad inside", `{"kind":"data","body":"x","y":[1,}`, "Malformed message: the body must be a JSON object."},
		{"oversize", `{"kind":"data","body":"` + strings.Repeat("x", MaxMessageBytes) + `"}`, fmt.Sprintf("Malformed message: larger than %d bytes.", MaxMessageBytes)},
		{"missing kind", `{"room_id":"r"}`, `Malformed message: missing "kind".`},
		{"kind number", `{"kind":1}`, `Malformed message: "kind" must be a string.`},
		{"kind null", `{"kind":null}`, `Malformed message: "kind" must be a string.`},
		{"kind object", `{"kind":{"a":1}}`, `Malformed message: "kind" must be a string.`},
		{"unknown kind", `{"kind":"subscribe"}`, `Unknown message kind "subscribe".`},
		{"kind case", `{"kind":"Join"}`, `Unknown message kind "Join".`},
		{"kind empty", `{"kind":""}`, `Unknown message kind "".`},
		{"kind long", `{"kind":"` + strings.Repeat("k", 100) + `"}`, `Unknown message kind "` + strings.Repeat("k", 64) + `…".`},
		{"kind of bytes that quote long", `{"kind":"` + strings.Repeat("\x91", 70) + `"}`, `Unknown message kind "` + strings.Repeat(`\x91`, 23) + `…".`},
		{"room_id number", `{"kind":"join","room_id":1,"user_id":"u"}`, `Malformed join: "room_id" must be a string.`},
		{"room_id null", `{"kind":"join","room_id":null,"user_id":"u"}`, `Malformed join: "room_id" must be a string.`},
		{"room_id missing", `{"kind":"join","user_id":"u"}`, `Malformed join: missing "room_id".`},
		{"user_id missing", `{"kind":"join","room_id":"r"}`, `Malformed join: missing "user_id".`},
		{"user_id empty", `{"kind":"join","room_id":"r","user_id":""}`, `Malformed join: "user_id" must not be empty.`},
		{"room_id empty", `{"kind":"join","room_id":"","user_id":"u"}`, `Malformed join: "room_id" must not be empty.`},
		{"room_id oversize", `{"kind":"join","room_id":"` + long + `","user_id":"u"}`, fmt.Sprintf(`Malformed join: "room_id" is longer than %d bytes.`, MaxIDBytes)},
		{"room_id oversize escaped", `{"kind":"join","room_id":"` + strings.Repeat(`\u0078`, MaxIDBytes+1) + `","user_id":"u"}`, fmt.Sprintf(`Malformed join: "room_id" is longer than %d bytes.`, MaxIDBytes)},
		{"token oversize", `{"kind":"join","room_id":"r","user_id":"u","token":"` + strings.Repeat("t", MaxTokenBytes+1) + `"}`, fmt.Sprintf(`Malformed join: "token" is longer than %d bytes.`, MaxTokenBytes)},
		{"token number", `{"kind":"join","room_id":"r","user_id":"u","token":1}`, `Malformed join: "token" must be a string.`},
		{"subscribe string", `{"kind":"join","room_id":"r","user_id":"u","subscribe":"all"}`, `Malformed join: "subscribe" must be an object.`},
		{"subscribe array", `{"kind":"join","room_id":"r","user_id":"u","subscribe":[]}`, `Malformed join: "subscribe" must be an object.`},
		{"subscribe.data string", `{"kind":"join","room_id":"r","user_id":"u","subscribe":{"data":"true"}}`, `Malformed join: "subscribe.data" must be a boolean.`},
		{"subscribe.notifications number", `{"kind":"join","room_id":"r","user_id":"u","subscribe":{"notifications":1}}`, `Malformed join: "subscribe.notifications" must be a boolean.`},
		{"subscribe.media number", `{"kind":"join","room_id":"r","user_id":"u","subscribe":{"media":1}}`, `Malformed join: "subscribe.media" must be a string.`},
		{"subscribe.media empty", `{"kind":"join","room_id":"r","user_id":"u","subscribe":{"media":""}}`, `Malformed join: "subscribe.media" must not be empty.`},
		{"subscribe.media oversize", `{"kind":"join","room_id":"r","user_id":"u","subscribe":{"media":"` + long + `"}}`, fmt.Sprintf(`Malformed join: "subscribe.media" is longer than %d bytes.`, MaxIDBytes)},
		{"kick token missing", `{"kind":"kick","room_id":"r","user_id":"u"}`, `Malformed kick: missing "token".`},
		{"kick token null", `{"kind":"kick","room_id":"r","user_id":"u","token":null}`, `Malformed kick: "token" must be a string.`},
		{"kick user missing", `{"kind":"kick","room_id":"r","token":"kick"}`, `Malformed kick: missing "user_id".`},
		{"block whom missing", `{"kind":"block"}`, `Malformed block: missing "whom".`},
		{"block whom empty", `{"kind":"block","whom":""}`, `Malformed block: "whom" must not be empty.`},
		{"unblock whom number", `{"kind":"unblock","whom":2}`, `Malformed unblock: "whom" must be a string.`},
		{"data body missing", `{"kind":"data"}`, `Malformed data: missing "body".`},
		{"data body object", `{"kind":"data","body":{"a":1}}`, `Malformed data: "body" must be a string.`},
		{"data body oversize", `{"kind":"data","body":"` + strings.Repeat("b", MaxDataBytes+1) + `"}`, fmt.Sprintf(`Malformed data: "body" is longer than %d bytes.`, MaxDataBytes)},
		{"data whom number", `{"kind":"data","body":"x","whom":1}`, `Malformed data: "whom" must be a string.`},
		{"data whom oversize", `{"kind":"data","body":"x","whom":"` + long + `"}`, fmt.Sprintf(`Malformed data: "whom" is longer than %d bytes.`, MaxIDBytes)},
	}
	h := newHarness(t, Options{Verify: testVerify})
	a := h.publisher2("r", "a")
	b := h.publisher2("r", "b")
	fresh := h.session()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, id := range []SessionID{a, fresh} {
				h.fail(id, tc.body, "", tc.msg)
			}
			// ParseMessage agrees, with an *inputError.
			_, err := ParseMessage([]byte(tc.body))
			var ie *inputError
			if !errors.As(err, &ie) || err.Error() != tc.msg {
				t.Errorf("ParseMessage: %v", err)
			}
		})
	}
	// Empty bodies are "no message".
	for _, body := range []string{`{}`, ` { } `, "{\n}"} {
		p := h.ok(a, body, "")
		if p.RawBody != `{"success":true}` || p.RawJSEP != "" {
			t.Errorf("%q: %s %s", body, p.RawBody, p.RawJSEP)
		}
	}
	p := h.ok(fresh, "", "")
	if p.RawBody != `{"success":true}` {
		t.Errorf("nothing: %s", p.RawBody)
	}
	// Unknown fields are ignored; escapes in values are decoded.
	h.ok(fresh, `{"kind":"join","room_id":"r","user_id":"\u0063","token":"join","extra":[1,{"x":null}],"subscribe":{"notifications":null,"data":true,"more":1}}`, "")
	if got := h.gw.eventBodies(b); !slices.Contains(got, `{"event":"join","room_id":"r","user_id":"c"}`) {
		t.Errorf("b's events: %v", got)
	}
}

// publisher2 is publisher for a Server with testVerify.
func (h *harness) publisher2(room, user string) SessionID {
	h.t.Helper()
	id := h.session()
	h.offer(id, "offer-"+user)
	h.ok(id, fmt.Sprintf(`{"kind":"join","room_id":%q,"user_id":%q,"token":"join","subscribe":{"notifications":true,"data":true}}`, room, user), "")
	return id
}

func TestDestroyedSessionDropped(t *testing.T) {
	h := newHarness(t, Options{Workers: 1})
	a := h.publisher("r", "a", true)
	x := h.session()
	h.destroy(x)
	h.s.HandleMessage(x, "dropped", []byte(joinJSON("r", "x", `{"data":true}`)), nil)
	h.s.HandleMessage(9999, "dropped", []byte(`{"kind":"data","body":"x"}`), nil)

	// A message queued before its handle is destroyed is dropped too: hold
	// the single worker inside a push while the handle goes.
	y := h.session()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.gw.mu.Lock()
	h.gw.pushHook = func(p pushed) {
		if p.Txn == "hold" {
			once.Do(func() { close(entered) })
			<-release
		}
	}
	h.gw.mu.Unlock()
	h.s.HandleMessage(a, "hold", []byte(`{}`), nil)
	<-entered
	h.s.HandleMessage(y, "dropped", []byte(`{"kind":"data","body":"x"}`), nil)
	h.destroy(y)
	close(release)
	// Single worker: once this is answered, everything before it was
	// handled.
	h.ok(a, `{}`, "")
	for _, p := range h.gw.allPushes() {
		if p.Txn == "dropped" || p.ID == x || p.ID == y || p.ID == 9999 {
			t.Errorf("push for destroyed session: %+v", p)
		}
	}
}

func TestOrdering(t *testing.T) {
	h := newHarness(t, Options{Workers: 4, MaxInFlight: 1000})
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	const n = 200
	var wg sync.WaitGroup
	for _, id := range []SessionID{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				body := `{"kind":"data","body":"x"}`
				if i%3 == 0 {
					body = `{}`
				}
				h.s.HandleMessage(id, fmt.Sprintf("o%d-%d", id, i), []byte(body), nil)
			}
		}()
	}
	wg.Wait()
	h.gw.waitResponse(t, a, fmt.Sprintf("o%d-%d", a, n-1))
	h.gw.waitResponse(t, b, fmt.Sprintf("o%d-%d", b, n-1))
	for _, id := range []SessionID{a, b} {
		var got []string
		for _, p := range h.gw.allPushes() {
			if p.ID == id && strings.HasPrefix(p.Txn, "o") {
				got = append(got, p.Txn)
			}
		}
		if len(got) != n {
			t.Fatalf("session %d: %d responses, want %d", id, len(got), n)
		}
		for i, txn := range got {
			if want := fmt.Sprintf("o%d-%d", id, i); txn != want {
				t.Fatalf("session %d: response %d is %s, want %s", id, i, txn, want)
			}
		}
	}
}

func TestSetupMedia(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	sub := h.subscriber("r", "s", "a")
	h.setupMedia(a)   // a publisher subscribes to nothing
	h.setupMedia(777) // unknown
	if got := h.gw.keyframeRequests(); len(got) != 0 {
		t.Errorf("keyframes %v", got)
	}
	h.setupMedia(sub)
	if got := h.gw.keyframeRequests(); !slices.Equal(got, ids(a)) {
		t.Errorf("keyframes %v, want [%d]", got, a)
	}
	if q := h.s.QuerySession(sub); !strings.Contains(string(q), `"media_up":true`) {
		t.Errorf("query after setup: %s", q)
	}
	h.hangupMedia(sub)
	h.hangupMedia(777)
	h.s.SlowLink(sub, 1, true, false)
	if q := h.s.QuerySession(sub); !strings.Contains(string(q), `"media_up":false`) {
		t.Errorf("query after hangup: %s", q)
	}
	h.ok(sub, `{"kind":"block","whom":"a"}`, "")
	h.setupMedia(sub)
	if got := h.gw.keyframeRequests(); len(got) != 1 {
		t.Errorf("keyframe while blocked: %v", got)
	}
}

func TestQueryAndAdmin(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	sub := h.subscriber("r", "s", "a")
	fresh := h.session()
	tests := []struct {
		id   SessionID
		want map[string]any
	}{
		{a, map[string]any{"joined": true, "room_id": "r", "user_id": "a", "publisher": true, "subscribers": 1.0,
			"subscription": map[string]any{"notifications": true, "data": true, "media": ""}, "media_up": false, "has_offer": true}},
		{sub, map[string]any{"joined": true, "room_id": "r", "user_id": "s", "publisher": false,
			"subscription": map[string]any{"notifications": false, "data": false, "media": "a"}, "media_up": false, "has_offer": false}},
		{fresh, map[string]any{"joined": false, "media_up": false, "has_offer": false}},
		{12345, map[string]any{}},
	}
	for _, tc := range tests {
		raw := h.s.QuerySession(tc.id)
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("QuerySession(%d) = %s: %v", tc.id, raw, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("QuerySession(%d) = %s", tc.id, raw)
		}
	}
	for _, in := range [][]byte{nil, []byte(`{}`)} {
		raw := h.s.AdminMessage(in)
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("AdminMessage = %s: %v", raw, err)
		}
		rt, ok := got["runtime"].(map[string]any)
		if !ok || rt["goroutines"].(float64) < 1 || rt["heap_inuse_bytes"].(float64) <= 0 {
			t.Errorf("AdminMessage runtime figures: %s", raw)
		}
		delete(got, "runtime")
		if want := (map[string]any{"sessions": 3.0, "rooms": 1.0, "users": 1.0}); !reflect.DeepEqual(got, want) {
			t.Errorf("AdminMessage = %s", raw)
		}
	}
}

func TestLifecycle(t *testing.T) {
	gw := newFakeGateway()
	s := NewServer(gw, Options{Negotiator: fakeNegotiator{}})
	if err := s.CreateSession(1); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(1); err == nil {
		t.Error("CreateSession twice succeeded")
	}
	s.HandleMessage(1, "a", []byte(`{}`), nil)
	gw.waitResponse(t, 1, "a")
	s.Destroy()
	if r := gw.findResponses(1, "a"); len(r) != 1 {
		t.Errorf("message answered before Destroy: %d responses", len(r))
	}
	s.Destroy() // idempotent
	s.HandleMessage(1, "b", []byte(`{}`), nil)
	if err := s.CreateSession(2); err == nil {
		t.Error("CreateSession after Destroy succeeded")
	}
	if r := gw.findResponses(1, "b"); len(r) != 0 {
		t.Errorf("message after Destroy answered: %+v", r)
	}
	gw.checkInvariants(t)
}

// TestConcurrency runs joins, leaves, blocks, data and renegotiations from
// many goroutines, then destroys everything and checks nothing is left.
func TestConcurrency(t *testing.T) {
	h := newHarness(t, Options{Workers: 4, MaxRoomSize: 8})
	const goroutines = 20
	const rounds = 150
	rooms := []string{"r0", "r1", "r2"}
	var wg sync.WaitGroup
	var live sync.Map // SessionID -> struct{}
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			var mine []SessionID
			user := func() string { return fmt.Sprintf("u%d", rng.IntN(goroutines)) }
			room := func() string { return rooms[rng.IntN(len(rooms))] }
			for range rounds {
				switch op := rng.IntN(10); {
				case op < 3 || len(mine) == 0:
					id := h.session()
					live.Store(id, struct{}{})
					mine = append(mine, id)
					u := fmt.Sprintf("u%d", g)
					if rng.IntN(2) == 0 {
						h.s.HandleMessage(id, "", nil, []byte(jsepJSON("offer", fmt.Sprintf("o%d", id))))
						h.s.HandleMessage(id, "", []byte(joinJSON(room(), u, `{"notifications":true,"data":true}`)), nil)
					} else {
						h.s.HandleMessage(id, "", []byte(joinJSON(room(), u, fmt.Sprintf(`{"notifications":true,"media":%q}`, user()))), nil)
					}
				case op < 5:
					i := rng.IntN(len(mine))
					h.destroy(mine[i])
					live.Delete(mine[i])
					mine = slices.Delete(mine, i, i+1)
				case op < 6:
					kind := "block"
					if rng.IntN(2) == 0 {
						kind = "unblock"
					}
					h.s.HandleMessage(mine[rng.IntN(len(mine))], "", []byte(fmt.Sprintf(`{"kind":%q,"whom":%q}`, kind, user())), nil)
				case op < 8:
					h.s.HandleMessage(mine[rng.IntN(len(mine))], "", []byte(`{"kind":"data","body":"hello"}`), nil)
				case op < 9:
					h.s.HandleMessage(mine[rng.IntN(len(mine))], "", nil, []byte(jsepJSON("offer", "again")))
				default:
					id := mine[rng.IntN(len(mine))]
					h.setupMedia(id)
					h.s.QuerySession(id)
					h.s.AdminMessage(nil)
				}
			}
		}()
	}
	wg.Wait()
	// Let the queues drain with a marker message per worker, then check
	// the routes against a fresh computation.
	// Consecutive ids land on every one of the 4 queues.
	var markers []SessionID
	for range 4 {
		markers = append(markers, h.session())
	}
	for _, m := range markers {
		h.s.HandleMessage(m, "marker", []byte(`{}`), nil)
	}
	for _, m := range markers {
		h.gw.waitResponse(t, m, "marker")
	}
	// Routes as published match what the switchboard computes now.
	h.s.mu.Lock()
	nonEmpty := 0
	for id := range h.s.state.sessions {
		want := h.s.state.routes(id)
		if sess := h.s.state.sessions[id]; sess != nil && sess.joined && sess.publisher {
			want.Data = h.s.state.dataRecipients(sess) // what the group resolves to
		}
		if len(want.RTP)+len(want.Data)+len(want.Keyframe) > 0 {
			nonEmpty++
		}
		got := h.gw.routesOf(id)
		if !sameIDs(got.RTP, want.RTP) || !sameIDs(got.Data, want.Data) || !sameIDs(got.Keyframe, want.Keyframe) {
			t.Errorf("session %d: published %+v, computed %+v", id, got, want)
		}
	}
	t.Logf("%d sessions, %d with routes, %d publishes, %d pushes", len(h.s.state.sessions), nonEmpty, h.gw.publishCount(), len(h.gw.allPushes()))
	if nonEmpty == 0 {
		t.Error("no session has routes: the test exercised nothing")
	}
	h.s.mu.Unlock()

	live.Range(func(k, _ any) bool {
		h.destroy(k.(SessionID))
		return true
	})
	for _, m := range markers {
		h.destroy(m)
	}
	h.s.Destroy()
	h.gw.mu.Lock()
	for id, r := range h.gw.routes {
		if len(r.RTP)+len(r.Data)+len(r.Keyframe) != 0 || r.DataGroup != 0 {
			t.Errorf("session %d still has routes %+v", id, r)
		}
	}
	for g, members := range h.gw.groups {
		t.Errorf("data group %d still has members %v", g, members)
	}
	h.gw.mu.Unlock()
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	st := h.s.state
	if len(st.sessions)+len(st.rooms)+len(st.users)+len(st.subscribers) != 0 {
		t.Errorf("state left: %d sessions, %d rooms, %d users, %d subscriber sets",
			len(st.sessions), len(st.rooms), len(st.users), len(st.subscribers))
	}
	if n := h.log.errors.Load(); n != 0 {
		t.Logf("%d errors logged (sessions destroyed mid-message)", n)
	}
}

// TestDestroyDuringJoin destroys a handle while its join is being handled
// (held in token verification): the join must leave no trace.
func TestDestroyDuringJoin(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := newHarness(t, Options{Workers: 1, Verify: func(tok string) (Grant, error) {
		if tok == "slow" {
			close(entered)
			<-release
		}
		return Grant{JoinHub: true}, nil
	}})
	a := h.publisher2("r", "a")
	x := h.session()
	h.s.HandleMessage(x, "j", []byte(`{"kind":"join","room_id":"r","user_id":"x","token":"slow","subscribe":{"notifications":true,"data":true}}`), nil)
	<-entered
	h.destroy(x)
	close(release)
	h.ok(a, `{}`, "") // single worker: the join has been handled
	// Nobody is left to answer: no response at all.
	if rs := h.gw.findResponses(x, "j"); len(rs) != 0 {
		t.Errorf("responses to destroyed handle: %+v", rs)
	}
	if got := h.gw.eventBodies(a); len(got) != 0 {
		t.Errorf("a told about a destroyed handle: %v", got)
	}
	checkRoutes(t, h.gw, a, Routes{})
	if q := h.s.QuerySession(x); string(q) != `{}` {
		t.Errorf("destroyed handle still known: %s", q)
	}
}

func TestGrantMayJoin(t *testing.T) {
	tests := []struct {
		g    Grant
		room string
		want bool
	}{
		{Grant{JoinHub: true}, "any", true},
		{Grant{JoinHub: false}, "any", false},
		{Grant{JoinHub: true, RoomIDs: []string{"a", "b"}}, "b", true},
		{Grant{JoinHub: true, RoomIDs: []string{"a", "b"}}, "c", false},
		{Grant{JoinHub: true, RoomIDs: []string{}}, "a", false},
		{Grant{JoinHub: false, RoomIDs: []string{"a"}}, "a", false},
		{Grant{JoinHub: true, KickUsers: true}, "", true},
	}
	for _, tc := range tests {
		if got := tc.g.MayJoin(tc.room); got != tc.want {
			t.Errorf("%+v.MayJoin(%q) = %v, want %v", tc.g, tc.room, got, tc.want)
		}
	}
}
