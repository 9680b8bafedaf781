package sfu

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPlanLinesCap(t *testing.T) {
	// Full: a new stream is left out, kept streams stay.
	next, left := planLines(cat(both(1), both(2)), cat(both(1), both(2), both(3)), 4)
	if !reflect.DeepEqual(next, cat(both(1), both(2))) || !reflect.DeepEqual(left, both(3)) {
		t.Errorf("full: next %v left %v", next, left)
	}
	// A line answered inactive is reused under the cap.
	next, left = planLines(cat(both(0), both(2)), cat(both(2), both(3)), 4)
	if !reflect.DeepEqual(next, cat(both(3), both(2))) || left != nil {
		t.Errorf("reuse: next %v left %v", next, left)
	}
	// Per stream: an odd line left takes the audio.
	next, left = planLines(nil, cat(both(1), both(2)), 3)
	if !reflect.DeepEqual(next, cat(both(1), []msLine{line(kindAudio, 2)})) || !reflect.DeepEqual(left, []msLine{line(kindVideo, 2)}) {
		t.Errorf("odd: next %v left %v", next, left)
	}
}

// With max_streams_per_subscriber, a room bigger than the cap offers the
// first streams, lists the rest in "not_offered", and offers them when a
// publisher leaves and its lines have been answered inactive.
func TestStreamsCap(t *testing.T) {
	opts := msOptions()
	opts.MaxStreamsPerSubscriber = 4
	h := newHarness(t, opts)
	a := h.publisher("r", "a", true)
	h.publisher("r", "b", true)
	h.publisher("r", "d", true)
	s, p := h.streamsSub("r", "c")
	if got := offerLines(t, p.JSEP); !slices.Equal(got, []string{"0=audio:a", "1=video:a", "2=audio:b", "3=video:b"}) {
		t.Fatalf("capped offer %v", got)
	}
	wantLeft := `"not_offered":[{"user_id":"d","kind":"audio"},{"user_id":"d","kind":"video"}]`
	if !strings.Contains(p.RawBody, wantLeft) {
		t.Errorf("join response %s\nwant %s", p.RawBody, wantLeft)
	}
	notOffered := func() int {
		var st Stats
		h.admin(`{"request":"stats"}`, &st)
		return st.Multistream.NotOffered
	}
	if n := notOffered(); n != 2 {
		t.Errorf("stats multistream.not_offered %d, want 2", n)
	}
	h.ok(s, "", answerFor(t, p.JSEP))
	// a leaves: its lines go inactive (not reused in the same offer) ...
	h.destroy(a)
	evs := h.waitStreamEvents(s, 1)
	if got := offerLines(t, evs[0].JSEP); !slices.Equal(got, []string{"0=audio:-", "1=video:-", "2=audio:b", "3=video:b"}) {
		t.Errorf("offer after a left %v", got)
	}
	if !strings.Contains(evs[0].RawBody, wantLeft) {
		t.Errorf("event %s\nwant %s", evs[0].RawBody, wantLeft)
	}
	// ... and once answered inactive they carry d.
	h.ok(s, "", answerFor(t, evs[0].JSEP))
	evs = h.waitStreamEvents(s, 2)
	if got := offerLines(t, evs[1].JSEP); !slices.Equal(got, []string{"0=audio:d", "1=video:d", "2=audio:b", "3=video:b"}) {
		t.Errorf("offer with d %v", got)
	}
	if strings.Contains(evs[1].RawBody, "not_offered") {
		t.Errorf("nothing is left out now: %s", evs[1].RawBody)
	}
	if n := notOffered(); n != 0 {
		t.Errorf("stats multistream.not_offered %d once d is offered, want 0", n)
	}
}
