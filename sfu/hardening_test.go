package sfu

import (
	"slices"
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
