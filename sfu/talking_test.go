package sfu

import (
	"slices"
	"testing"
	"time"
)

// talkingBodies lists the talking events pushed to id.
func talkingBodies(h *harness, id SessionID) []string {
	var out []string
	for _, p := range h.gw.events(id) {
		if p.Body["event"] == "talking" {
			out = append(out, p.RawBody)
		}
	}
	return out
}

// A handle that joins while someone talks learns it at once (talking
// events are sent on a change only): the notification handles of
// newcomers, classic and multistream alike, get the talking publishers of
// their room, and nothing about the quiet ones or other rooms.
func TestTalkingSnapshotForNewcomers(t *testing.T) {
	opts := msOptions()
	opts.Talking = TalkingOptions{Threshold: 25, Window: 40 * time.Millisecond}
	h := newHarness(t, opts)
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true) // quiet
	x := h.publisher("r2", "x", true)
	defer feedLevels(h, map[SessionID]uint64{a: 10, b: 90, x: 10})()
	deadline := time.Now().Add(waitFor)
	for len(talkingBodies(h, b)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("b never heard a talking")
		}
		time.Sleep(time.Millisecond)
	}
	want := []string{`{"event":"talking","room_id":"r","talking":true,"user_id":"a"}`}
	// A newcomer with notifications and a multistream subscription.
	c := h.publisher("r", "c", true)
	s, _ := h.streamsSub("r", "c")
	h.s.settle()
	// Right after the join (a later window may add changes under load).
	if got := talkingBodies(h, c); len(got) == 0 || !slices.Equal(got[:1], want) {
		t.Errorf("newcomer's talking events %v, want %v", got, want)
	}
	if got := talkingBodies(h, s); len(got) != 0 {
		t.Errorf("subscriber handle got talking events %v", got)
	}
	// Without notifications: nothing, as for the events themselves.
	q := h.publisher("r", "q", false)
	h.s.settle()
	if got := talkingBodies(h, q); len(got) != 0 {
		t.Errorf("handle without notifications got %v", got)
	}
}
