package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Janus's loop threads call destroy_session, setup_media and hangup_media;
// they must return while the switchboard lock is held by a long join.
func TestLoopCallbacksDoNotWaitForTheLock(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	h.offer(a, "v=0 a")
	sub := h.subscriber("r", "c", "a")

	h.s.mu.Lock()
	done := make(chan struct{})
	go func() {
		h.s.SetupMedia(sub)
		h.s.HangupMedia(sub)
		h.s.DestroySession(b)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		h.s.mu.Unlock()
		t.Fatal("a loop-thread callback waited for the switchboard lock")
	}
	h.s.mu.Unlock()
	h.s.settle()
	if got := h.gw.keyframeRequests(); len(got) != 1 || got[0] != a {
		t.Errorf("setup_media after the lock was released: keyframe requests %v, want [%d]", got, a)
	}
	if ev := h.gw.eventBodies(a); len(ev) == 0 || !slices.Contains(ev, `{"event":"leave","room_id":"r","user_id":"b"}`) {
		t.Errorf("destroy_session after the lock was released: events to a %v", ev)
	}
}

// errMsg returns a response's error text ("" for success).
func errMsg(p pushed) string {
	e, _ := p.Body["error"].(map[string]any)
	m, _ := e["msg"].(string)
	return m
}

// stall holds the switchboard lock so that the workers block on their
// current message; the returned func releases it.
func stall(h *harness) func() {
	h.s.mu.Lock()
	var once sync.Once
	return func() { once.Do(h.s.mu.Unlock) }
}

func TestFullQueueAnswersBusyWithoutBlocking(t *testing.T) {
	h := newHarness(t, Options{Workers: 1, QueueLength: 2, MaxInFlight: 100})
	var ids []SessionID
	for i := 0; i < 6; i++ {
		ids = append(ids, h.session())
	}
	release := stall(h)
	defer release()
	done := make(chan struct{})
	go func() {
		for i, id := range ids {
			h.s.HandleMessage(id, fmt.Sprint("m", i), []byte(`{"kind":"data","body":"x"}`), nil)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("HandleMessage blocked on a full queue")
	}
	// One message is with the worker, two are queued: the other three
	// were answered busy at once.
	busy := 0
	for i, id := range ids {
		for _, p := range h.gw.findResponses(id, fmt.Sprint("m", i)) {
			if errMsg(p) == ErrBusy {
				busy++
			}
		}
	}
	if busy < 3 {
		t.Errorf("%d busy answers, want at least 3", busy)
	}
	if depth := h.s.queueDepth(); depth > 2 {
		t.Errorf("queue depth %d beyond its length 2", depth)
	}
	release()
	_, errs := h.s.metrics.snapshot()
	if errs[ErrorBusy] < 3 {
		t.Errorf("busy errors counted %d, want >= 3", errs[ErrorBusy])
	}
}

func TestInFlightCapPerHandle(t *testing.T) {
	h := newHarness(t, Options{Workers: 1, MaxInFlight: 2})
	a := h.publisher("r", "a", true)
	other := h.publisher("r", "b", true)
	release := stall(h)
	h.s.HandleMessage(a, "m0", []byte(`{"kind":"data","body":"x"}`), nil)
	for { // the worker takes m0 and waits for the lock
		h.s.qmu.Lock()
		n := h.s.inflight[a]
		h.s.qmu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 5; i++ {
		h.s.HandleMessage(a, fmt.Sprint("m", i), []byte(`{"kind":"data","body":"x"}`), nil)
	}
	h.s.HandleMessage(other, "o", []byte(`{"kind":"data","body":"x"}`), nil)
	release()
	for i := 0; i < 5; i++ {
		p := h.gw.waitResponse(t, a, fmt.Sprint("m", i))
		if wantBusy := i >= 3; (errMsg(p) == ErrTooManyInFlight) != wantBusy {
			t.Errorf("message %d: answer %s (busy expected: %v)", i, p.RawBody, wantBusy)
		}
	}
	if p := h.gw.waitResponse(t, other, "o"); errMsg(p) != "" {
		t.Errorf("another handle was refused: %s", p.RawBody)
	}
	// Answered messages leave the count: the handle can send again.
	if p := h.send(a, `{"kind":"data","body":"x"}`, ""); errMsg(p) != "" {
		t.Errorf("after the answers: %s", p.RawBody)
	}
}

func TestDestroyedHandleQueuedMessagesDropped(t *testing.T) {
	h := newHarness(t, Options{Workers: 1})
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	release := stall(h)
	for i := 0; i < 5; i++ {
		h.s.HandleMessage(a, fmt.Sprint("m", i), []byte(`{"kind":"data","body":"x"}`), nil)
	}
	h.s.DestroySession(a)
	release()
	h.s.settle()
	h.send(b, `{"kind":"data","body":"y"}`, "") // after a's queue on the one worker
	// m0 may have been with the worker already; the rest were queued.
	for i := 1; i < 5; i++ {
		if rs := h.gw.findResponses(a, fmt.Sprint("m", i)); len(rs) != 0 {
			t.Errorf("destroyed handle got answer %s", rs[0].RawBody)
		}
	}
	n := 0
	for _, e := range h.gw.eventBodies(b) {
		if strings.Contains(e, `"body":"x"`) {
			n++
		}
	}
	if n > 1 {
		t.Errorf("%d of a destroyed handle's queued data messages reached b", n)
	}
	h.s.qmu.Lock()
	left := len(h.s.inflight) + len(h.s.dropped)
	h.s.qmu.Unlock()
	if left != 0 {
		t.Errorf("queue bookkeeping left %d entries", left)
	}
}

func TestShutdownDropsQueuedMessages(t *testing.T) {
	h := newHarness(t, Options{Workers: 1})
	a := h.publisher("r", "a", true)
	release := stall(h)
	for i := 0; i < 50; i++ {
		h.s.HandleMessage(a, fmt.Sprint("m", i), []byte(`{"kind":"data","body":"x"}`), nil)
	}
	done := make(chan struct{})
	go func() { h.s.Destroy(); close(done) }()
	for !h.s.closed.Load() {
		time.Sleep(time.Millisecond)
	}
	release()
	<-done
	n := 0
	for i := 0; i < 50; i++ {
		for _, p := range h.gw.findResponses(a, fmt.Sprint("m", i)) {
			if errMsg(p) != ErrTooManyInFlight {
				n++
			}
		}
	}
	if n > 1 {
		t.Errorf("%d queued messages were handled during shutdown, want at most the one in progress", n)
	}
}

func TestRefuseMessage(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.session()
	h.s.RefuseMessage(a, "big", "Malformed message: larger than 1048576 bytes.")
	if p := h.gw.waitResponse(t, a, "big"); !strings.Contains(errMsg(p), "larger than") {
		t.Errorf("answer %s", p.RawBody)
	}
}

func TestRateLimitedLog(t *testing.T) {
	now := time.Unix(1000, 0)
	r := rateLog{every: 10 * time.Second, now: func() time.Time { return now }}
	if ok, _ := r.allow("x"); !ok {
		t.Fatal("first line held back")
	}
	for i := 0; i < 5; i++ {
		if ok, _ := r.allow("x"); ok {
			t.Fatal("line inside the interval let through")
		}
	}
	if ok, _ := r.allow("y"); !ok {
		t.Fatal("another reason held back")
	}
	now = now.Add(11 * time.Second)
	if ok, held := r.allow("x"); !ok || held != 5 {
		t.Fatalf("after the interval: ok %v held %d, want true 5", ok, held)
	}
}

// scopedVerify: "kick-x" kicks in room x only; "as-<user>" joins any room
// as that user only; "any" joins anything as anyone.
func scopedVerify(token string) (Grant, error) {
	switch {
	case token == "any":
		return Grant{JoinHub: true}, nil
	case token == "kick-x":
		return Grant{KickUsers: true, RoomIDs: []string{"x"}}, nil
	case token == "kick-any":
		return Grant{KickUsers: true}, nil
	case strings.HasPrefix(token, "as-"):
		return Grant{JoinHub: true, UserID: strings.TrimPrefix(token, "as-")}, nil
	}
	return Grant{}, errors.New("invalid token")
}

func tokenJoin(room, user, token, subscribe string) string {
	return fmt.Sprintf(`{"kind":"join","room_id":%q,"user_id":%q,"token":%q,"subscribe":%s}`, room, user, token, subscribe)
}

func TestSubscribeMediaOnlyInTheJoinsRoom(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.publisher("x", "a", true)
	_ = a
	h.fail(h.session(), joinJSON("y", "eve", `{"media":"a"}`), "", ErrNoPublisher)
	h.subscriber("x", "bob", "a")
}

func TestKickOnlyInRoomsTheTokenCovers(t *testing.T) {
	h := newHarness(t, Options{Verify: scopedVerify})
	vx := h.session()
	h.offer(vx, "o")
	h.ok(vx, tokenJoin("x", "v", "any", `{"notifications":true,"data":true}`), "")
	vy := h.session()
	h.offer(vy, "o2")
	h.ok(vy, tokenJoin("y", "v", "any", `{"notifications":true,"data":true}`), "")
	kicker := h.session()
	// A token for room x cannot kick in room y ...
	h.ok(kicker, `{"kind":"kick","room_id":"y","user_id":"v","token":"kick-x"}`, "")
	if got := h.gw.endedSessions(); len(got) != 0 {
		t.Fatalf("kick in a room the token does not cover ended %v", got)
	}
	// ... and in room x it ends v's handles in x only.
	h.ok(kicker, `{"kind":"kick","room_id":"x","user_id":"v","token":"kick-x"}`, "")
	if got := h.gw.endedSessions(); !slices.Equal(got, []SessionID{vx}) {
		t.Fatalf("kick in x ended %v, want [%d]", got, vx)
	}
	// A token without room_ids kicks in any room, still one room per kick.
	h.ok(kicker, `{"kind":"kick","room_id":"y","user_id":"v","token":"kick-any"}`, "")
	if got := h.gw.endedSessions(); !slices.Equal(got, []SessionID{vx, vy}) {
		t.Fatalf("kick-any in y ended %v, want [%d %d]", got, vx, vy)
	}
}

func TestJoinUserIDMustMatchTheTokensClaim(t *testing.T) {
	h := newHarness(t, Options{Verify: scopedVerify})
	victim := h.session()
	h.ok(victim, tokenJoin("r", "victim", "as-victim", `{"notifications":true,"data":true}`), "")
	before := h.snapshot()
	h.fail(h.session(), tokenJoin("r", "victim", "as-eve", `{"notifications":true,"data":true}`), "", ErrNoPermission)
	if after := h.snapshot(); strings.Count(after, "joined\":true") != strings.Count(before, "joined\":true") {
		t.Error("a refused join changed state")
	}
	rejected, _ := h.s.metrics.snapshot()
	if rejected[RejectUserMismatch] != 1 {
		t.Errorf("rejected %v, want one %s", rejected, RejectUserMismatch)
	}
	// A token without the claim joins as any user (as the Rust plugin).
	h.ok(h.session(), tokenJoin("r", "someone", "any", `{"data":true}`), "")
}

func TestEventHandlerNotifications(t *testing.T) {
	h := newHarness(t, Options{Verify: func(tok string) (Grant, error) {
		return Grant{JoinHub: true, KickUsers: true}, nil
	}})
	a := h.session()
	h.ok(a, tokenJoin("r", "a", "t", `{"notifications":true,"data":true}`), "")
	h.offer(a, "pt:126")
	b := h.session()
	h.ok(b, tokenJoin("r", "b", "t", `{"notifications":true,"data":true}`), "")
	sub := h.session()
	h.ok(sub, tokenJoin("r", "b", "t", `{"media":"a"}`), "")
	h.ok(a, `{"kind":"block","whom":"b"}`, "")
	h.ok(a, `{"kind":"unblock","whom":"b"}`, "")
	h.ok(a, `{"kind":"kick","room_id":"r","user_id":"b","token":"t"}`, "")
	h.destroy(sub)
	h.destroy(b)
	var got []string
	for _, n := range h.gw.notifications() {
		var ev map[string]any
		if err := json.Unmarshal([]byte(n.Raw), &ev); err != nil {
			t.Fatalf("event %q: %v", n.Raw, err)
		}
		got = append(got, fmt.Sprintf("%d:%s", n.ID, ev["event"]))
	}
	want := []string{
		fmt.Sprintf("%d:%s", a, EventJoined), fmt.Sprintf("%d:%s", a, EventPublished),
		fmt.Sprintf("%d:%s", b, EventJoined),
		fmt.Sprintf("%d:%s", sub, EventJoined), fmt.Sprintf("%d:%s", sub, EventSubscribed),
		fmt.Sprintf("%d:%s", a, EventBlocked), fmt.Sprintf("%d:%s", a, EventUnblocked),
		fmt.Sprintf("%d:%s", b, EventKicked),
		fmt.Sprintf("%d:%s", sub, EventUnsubscribed),
		fmt.Sprintf("%d:%s", b, EventLeft),
	}
	if !slices.Equal(got, want) {
		t.Errorf("notifications\n got %v\nwant %v", got, want)
	}
	for _, n := range h.gw.notifications() {
		if strings.Contains(n.Raw, `"event":"published"`) && !strings.Contains(n.Raw, `"audio":true`) {
			t.Errorf("published event without audio: %s", n.Raw)
		}
	}
}

func TestPublisherHandlesPerUserCapped(t *testing.T) {
	h := newHarness(t, Options{MaxRoomSize: 2, MaxPublishersPerUser: 2})
	pub := `{"notifications":true,"data":true}`
	h.ok(h.session(), joinJSON("r", "u", pub), "")
	h.ok(h.session(), joinJSON("r", "u", pub), "") // a reconnect overlap
	h.fail(h.session(), joinJSON("r", "u", pub), "", ErrUserPublishers)
	h.ok(h.session(), joinJSON("r", "v", pub), "")
	h.ok(h.session(), joinJSON("r", "v", pub), "")
	h.fail(h.session(), joinJSON("r", "w", pub), "", ErrRoomFull)
	h.fail(h.session(), joinJSON("r", "v", pub), "", ErrUserPublishers)
	rejected, _ := h.s.metrics.snapshot()
	if rejected[RejectUserPublishers] != 2 || rejected[RejectRoomFull] != 1 {
		t.Errorf("rejected %v", rejected)
	}
}

func TestRoomsPerUserCapped(t *testing.T) {
	h := newHarness(t, Options{MaxRoomsPerUser: 2})
	pub := `{"notifications":true,"data":true}`
	a := h.session()
	h.ok(a, joinJSON("r1", "u", pub), "")
	h.ok(h.session(), joinJSON("r2", "u", pub), "")
	h.ok(h.session(), joinJSON("r2", "u", `{"notifications":true}`), "") // same room: no new room
	h.fail(h.session(), joinJSON("r3", "u", pub), "", ErrUserRooms)
	h.fail(h.session(), joinJSON("r3", "u", `{"notifications":true}`), "", ErrUserRooms)
	h.destroy(a)
	h.ok(h.session(), joinJSON("r3", "u", pub), "")
}

func TestSubscriberHandlesBoundedByPublishers(t *testing.T) {
	h := newHarness(t, Options{LimitSubscribers: true, SubscriberSlack: 1})
	h.publisher("r", "a", true)
	h.subscriber("r", "s", "a")
	h.ok(h.session(), joinJSON("r", "s", `{"notifications":true}`), "")
	h.fail(h.session(), joinJSON("r", "s", `{"media":"a"}`), "", ErrUserSubscribers)
	h.publisher("r", "b", true)
	h.subscriber("r", "s", "b")
}

// No sequence of joins, by any mix of users, gets past the caps.
func TestCapsHoldForAnyJoinSequence(t *testing.T) {
	const roomSize, ccu, perUser, rooms = 3, 4, 2, 2
	h := newHarness(t, Options{MaxRoomSize: roomSize, MaxCCU: ccu, MaxPublishersPerUser: perUser, MaxRoomsPerUser: rooms})
	rnd := uint32(1)
	next := func(n int) int { rnd = rnd*1664525 + 1013904223; return int(rnd>>16) % n }
	var live []SessionID
	for i := 0; i < 400; i++ {
		if len(live) > 0 && next(4) == 0 {
			k := next(len(live))
			h.destroy(live[k])
			live = slices.Delete(live, k, k+1)
			continue
		}
		id := h.session()
		p := h.send(id, joinJSON(fmt.Sprint("r", next(4)), fmt.Sprint("u", next(8)), `{"notifications":true,"data":true}`), "")
		if p.Body["success"] == true {
			live = append(live, id)
		}
		h.s.mu.Lock()
		b := h.s.state
		if len(b.publishingUsers) > ccu {
			t.Fatalf("%d publishing users, max_ccu %d", len(b.publishingUsers), ccu)
		}
		for room, users := range b.roomPublishers {
			if len(users) > roomSize {
				t.Fatalf("room %s has %d users, max %d", room, len(users), roomSize)
			}
			for u, n := range users {
				if n > perUser {
					t.Fatalf("user %s has %d publisher handles in %s", u, n, room)
				}
			}
		}
		for u, ss := range b.users {
			in := map[string]bool{}
			for _, s := range ss {
				in[s.roomID] = true
			}
			if len(in) > rooms {
				t.Fatalf("user %s in %d rooms", u, len(in))
			}
		}
		h.s.mu.Unlock()
	}
}

func TestBlocksBounded(t *testing.T) {
	now := time.Unix(1e6, 0)
	h := newHarness(t, Options{MaxBlocksPerUser: 2, BlockExpiry: time.Minute, Now: func() time.Time { return now }})
	a := h.publisher("r", "a", true)
	var others []SessionID
	for _, u := range []string{"b", "c", "d"} {
		others = append(others, h.publisher("r", u, true))
	}
	h.ok(a, `{"kind":"block","whom":"b"}`, "")
	h.ok(a, `{"kind":"block","whom":"b"}`, "") // again: no new block
	h.ok(a, `{"kind":"block","whom":"c"}`, "")
	h.fail(a, `{"kind":"block","whom":"d"}`, "", ErrTooManyBlocks)
	h.fail(a, `{"kind":"block","whom":"ghost"}`, "", ErrUnknownUser)
	h.ok(a, `{"kind":"unblock","whom":"c"}`, "")
	h.ok(a, `{"kind":"block","whom":"d"}`, "")

	blocks := func() int {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		return len(h.s.state.blocks)
	}
	// b leaves: a block of a recent user still counts, and survives a
	// reconnect within the expiry.
	h.destroy(others[0])
	now = now.Add(30 * time.Second)
	h.ok(a, `{"kind":"unblock","whom":"b"}`, "")
	h.ok(a, `{"kind":"block","whom":"b"}`, "")
	// Both sides gone for the expiry: the block is forgotten.
	h.destroy(a)
	if blocks() != 2 {
		t.Fatalf("blocks %d right after the blocker left, want 2", blocks())
	}
	now = now.Add(2 * time.Minute)
	h.destroy(others[1]) // any departure runs the expiry
	if n := blocks(); n != 1 {
		t.Fatalf("%d blocks left, want 1: a's block of d stays while d is here", n)
	}
	h.destroy(others[2])
	now = now.Add(2 * time.Minute)
	h.publisher("r", "late", true)
	h.destroy(SessionID(h.next))
	if n := blocks(); n != 0 {
		t.Fatalf("%d blocks left after both sides were gone for the expiry", n)
	}
	h.s.mu.Lock()
	idx := h.s.state.idx
	n := len(idx.byUser) + len(idx.byBlocker)
	h.s.mu.Unlock()
	if n != 0 {
		t.Errorf("block index keeps %d entries", n)
	}
}

// Every map keyed by a client-chosen string is empty once the clients are
// gone and the expiry has passed.
func TestNoStateLeftAfterChurn(t *testing.T) {
	now := time.Unix(1e6, 0)
	h := newHarness(t, Options{BlockExpiry: time.Minute, Now: func() time.Time { return now }})
	var all []SessionID
	for i := 0; i < 50; i++ {
		room := fmt.Sprint("r", i%3)
		p := h.publisher(room, fmt.Sprint("u", i), true)
		all = append(all, p)
		if i > 0 {
			h.ok(p, fmt.Sprintf(`{"kind":"block","whom":"u%d"}`, i-1), "")
		}
		if i%2 == 0 {
			all = append(all, h.subscriber(room, fmt.Sprint("s", i), fmt.Sprint("u", i)))
		}
	}
	for _, id := range all {
		h.destroy(id)
	}
	now = now.Add(2 * time.Minute)
	h.publisher("r0", "late", true) // arrives and ...
	h.destroy(SessionID(h.next))    // ... leaves: runs the expiry
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	b := h.s.state
	left := map[string]int{
		"sessions": len(b.sessions), "rooms": len(b.rooms), "users": len(b.users),
		"subscribers": len(b.subscribers), "blocks": len(b.blocks),
		"roomPublishers": len(b.roomPublishers), "publishingUsers": len(b.publishingUsers),
		"byUser": len(b.idx.byUser), "byBlocker": len(b.idx.byBlocker),
	}
	for k, n := range left {
		if n != 0 {
			t.Errorf("%s: %d entries left", k, n)
		}
	}
	if n := len(b.idx.departed); n > 1 {
		t.Errorf("departed: %d entries, want at most the last user", n)
	}
}

func TestReconnectWithSecretReplacesStaleHandles(t *testing.T) {
	h := newHarness(t, Options{ReconnectSecrets: true, MaxPublishersPerUser: 2})
	obs := h.publisher("r", "obs", true)
	old := h.session()
	p := h.ok(old, joinJSON("r", "u", `{"notifications":true,"data":true}`), "")
	secret, _ := p.Body["response"].(map[string]any)["reconnect_secret"].(string)
	if len(secret) != 32 {
		t.Fatalf("join response %s: no reconnect_secret", p.RawBody)
	}
	oldSub := h.subscriber("r", "u", "obs")
	before := len(h.gw.eventBodies(obs))

	// Nobody else can: a wrong secret is refused and changes nothing.
	snap := h.snapshot()
	h.fail(h.session(), fmt.Sprintf(`{"kind":"join","room_id":"r","user_id":"u","reconnect_secret":"%s","subscribe":{"notifications":true,"data":true}}`, strings.Repeat("0", 32)), "", ErrBadSecret)
	if after := h.snapshot(); strings.Count(after, `"joined":true`) != strings.Count(snap, `"joined":true`) {
		t.Fatal("a join with a wrong secret changed state")
	}
	// The client itself can: its stale handles go at once.
	fresh := h.session()
	p = h.ok(fresh, fmt.Sprintf(`{"kind":"join","room_id":"r","user_id":"u","reconnect_secret":%q,"subscribe":{"notifications":true,"data":true}}`, secret), "")
	if s2, _ := p.Body["response"].(map[string]any)["reconnect_secret"].(string); s2 == "" || s2 == secret {
		t.Errorf("replacing join got secret %q, want a new one", s2)
	}
	if got := h.gw.endedSessions(); !slices.Equal(got, []SessionID{old, oldSub}) {
		t.Errorf("ended %v, want the stale handles [%d %d]", got, old, oldSub)
	}
	evs := h.gw.eventBodies(obs)[before:]
	want := []string{`{"event":"leave","room_id":"r","user_id":"u"}`, `{"event":"join","room_id":"r","user_id":"u"}`}
	if !slices.Equal(evs, want) {
		t.Errorf("the room saw %v, want one leave then one join %v", evs, want)
	}
	checkRoutes(t, h.gw, obs, Routes{Data: ids(fresh)})
	// Janus then destroys the stale handles: nothing more happens.
	h.destroy(old)
	h.destroy(oldSub)
	if evs := h.gw.eventBodies(obs)[before:]; len(evs) != 2 {
		t.Errorf("the stale handles' destruction sent %v", evs[2:])
	}
	// The old secret is spent.
	h.fail(h.session(), fmt.Sprintf(`{"kind":"join","room_id":"r","user_id":"u","reconnect_secret":%q,"subscribe":{"data":true}}`, secret), "", ErrBadSecret)
}

func TestReconnectWithUserIDClaim(t *testing.T) {
	h := newHarness(t, Options{Verify: scopedVerify, MaxPublishersPerUser: 2})
	pub := `{"notifications":true,"data":true}`
	obs := h.session()
	h.ok(obs, tokenJoin("r", "obs", "any", pub), "")
	old := h.session()
	h.ok(old, tokenJoin("r", "u", "as-u", pub), "")
	fresh := h.session()
	p := h.ok(fresh, tokenJoin("r", "u", "as-u", pub), "")
	if _, has := p.Body["response"].(map[string]any)["reconnect_secret"]; has {
		t.Error("secret handed out with auth on")
	}
	if got := h.gw.endedSessions(); !slices.Equal(got, []SessionID{old}) {
		t.Errorf("ended %v, want [%d]", got, old)
	}
	// A token without the claim proves nothing: an overlap, up to the cap.
	h.ok(h.session(), tokenJoin("r", "v", "any", pub), "")
	h.ok(h.session(), tokenJoin("r", "v", "any", pub), "")
	h.fail(h.session(), tokenJoin("r", "v", "any", pub), "", ErrUserPublishers)
	if got := h.gw.endedSessions(); len(got) != 1 {
		t.Errorf("joins without a claim ended %v", got)
	}
	// A secret is no use with auth on.
	h.fail(h.session(), `{"kind":"join","room_id":"r","user_id":"v","token":"any","reconnect_secret":"x","subscribe":{"data":true}}`, "", ErrBadSecret)
}
