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
	for i := 0; i < 5; i++ {
		h.s.HandleMessage(a, fmt.Sprint("m", i), []byte(`{"kind":"data","body":"x"}`), nil)
	}
	h.s.HandleMessage(other, "o", []byte(`{"kind":"data","body":"x"}`), nil)
	release()
	for i := 0; i < 5; i++ {
		p := h.gw.waitResponse(t, a, fmt.Sprint("m", i))
		if wantBusy := i >= 2; (errMsg(p) == ErrTooManyInFlight) != wantBusy {
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
	for i := 0; i < 5; i++ {
		if rs := h.gw.findResponses(a, fmt.Sprint("m", i)); len(rs) != 0 {
			t.Errorf("destroyed handle got answer %s", rs[0].RawBody)
		}
	}
	for _, e := range h.gw.eventBodies(b) {
		if strings.Contains(e, `"body":"x"`) {
			t.Errorf("a destroyed handle's queued data reached b: %s", e)
		}
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
	time.Sleep(20 * time.Millisecond)
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
