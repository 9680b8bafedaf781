package sfu

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is Options.Now for tests: it moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// streamLine is one m-line of a multistream subscriber's handle_info.
type streamLine struct {
	Mid    string `json:"mid"`
	Mindex int    `json:"mindex"`
	Kind   string `json:"kind"`
	UserID string `json:"user_id"`
	State  string `json:"state"`
	Routed bool   `json:"routed"`
}

// streamsQuery is a multistream subscriber's handle_info.
type streamsQuery struct {
	Streams *struct {
		Lines       []streamLine `json:"lines"`
		Offers      uint64       `json:"offers"`
		Outstanding bool         `json:"offer_outstanding"`
		ExpiresInMs *int64       `json:"offer_expires_in_ms"`
	} `json:"streams"`
}

func (h *harness) queryStreams(id SessionID) streamsQuery {
	h.t.Helper()
	raw := h.s.QuerySession(id)
	var q streamsQuery
	if err := json.Unmarshal(raw, &q); err != nil || q.Streams == nil {
		h.t.Fatalf("QuerySession(%d) = %s: %v", id, raw, err)
	}
	return q
}

// waitExpiresIn waits until id's offer has a deadline (it starts once the
// offer is pushed, after the join's reply) and returns what is left.
func (h *harness) waitExpiresIn(id SessionID) time.Duration {
	h.t.Helper()
	h.s.settle()
	deadline := time.Now().Add(waitFor)
	for {
		if q := h.queryStreams(id); q.Streams.ExpiresInMs != nil {
			return time.Duration(*q.Streams.ExpiresInMs) * time.Millisecond
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("session %d: no offer deadline: %s", id, h.s.QuerySession(id))
		}
		time.Sleep(time.Millisecond)
	}
}

// waitEnded waits until Janus was asked to end id.
func (h *harness) waitEnded(id SessionID) {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for !slices.Contains(h.gw.endedSessions(), id) {
		if time.Now().After(deadline) {
			h.t.Fatalf("session %d not ended; ended %v", id, h.gw.endedSessions())
		}
		time.Sleep(time.Millisecond)
	}
}

const testOfferTimeout = 20 * time.Second

func timeoutOptions(clock *fakeClock) Options {
	opts := msOptions()
	opts.StreamOfferTimeout = testOfferTimeout
	opts.Now = clock.Now
	return opts
}

// An offer unanswered for StreamOfferTimeout (on the injected clock) ends
// the handle, after a streams_timeout event; an answered one does not,
// and a late answer is refused.
func TestStreamsOfferTimeout(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, timeoutOptions(clock))
	a := h.publisher("r", "a", true)
	hung, hp := h.streamsSub("r", "hung")
	good, p := h.streamsSub("r", "good")
	if left := h.waitExpiresIn(hung); left != testOfferTimeout {
		t.Fatalf("join offer expires in %v, want %v", left, testOfferTimeout)
	}
	h.waitExpiresIn(good)
	h.ok(good, "", answerFor(t, p.JSEP))
	if q := h.queryStreams(good); q.Streams.Outstanding || q.Streams.ExpiresInMs != nil {
		t.Errorf("answered: %s", h.s.QuerySession(good))
	}

	clock.advance(testOfferTimeout - time.Millisecond)
	h.s.expireOffers()
	if ended := h.gw.endedSessions(); len(ended) != 0 {
		t.Fatalf("ended before the deadline: %v", ended)
	}
	// A message still queued for the handle (it may be the answer) holds
	// the timeout off until it is handled.
	h.s.qmu.Lock()
	h.s.inflight[hung]++
	h.s.qmu.Unlock()
	clock.advance(time.Millisecond)
	h.s.expireOffers()
	if ended := h.gw.endedSessions(); len(ended) != 0 {
		t.Fatalf("ended with a message queued: %v", ended)
	}
	h.s.qmu.Lock()
	delete(h.s.inflight, hung)
	h.s.qmu.Unlock()
	h.s.expireOffers()
	h.waitEnded(hung)
	if ended := h.gw.endedSessions(); !slices.Equal(ended, []SessionID{hung}) {
		t.Errorf("ended %v, want only %d", ended, hung)
	}
	evs := h.gw.eventBodies(hung)
	if want := fmt.Sprintf(`{"event":"streams_timeout","timeout_ms":%d}`, testOfferTimeout.Milliseconds()); !slices.Contains(evs, want) {
		t.Errorf("events of the hung handle %v, want %s", evs, want)
	}
	// Abandoned: a late answer is refused and plans nothing new; the
	// routes it had stay until Janus destroys the handle.
	h.fail(hung, "", answerFor(t, hp.JSEP), ErrNoOfferOutstanding)
	var st Stats
	h.admin(`{"request":"stats"}`, &st)
	if st.Multistream.OfferTimeouts != 1 {
		t.Errorf("offer_timeouts %d", st.Multistream.OfferTimeouts)
	}
	h.destroy(hung)
	checkStreams(t, h, a, StreamRoute{Session: good, AudioMindex: 0, VideoMindex: 1})

	// An offer sent as a streams event has its own deadline, from the
	// moment it is pushed.
	h.publisher("r", "b", true)
	ev := h.waitStreamEvents(good, 1)[0]
	if left := h.waitExpiresIn(good); left != testOfferTimeout {
		t.Errorf("event offer expires in %v", left)
	}
	clock.advance(testOfferTimeout - time.Millisecond)
	h.s.expireOffers()
	if ended := h.gw.endedSessions(); !slices.Equal(ended, []SessionID{hung}) {
		t.Fatalf("ended before the event offer's deadline: %v", ended)
	}
	clock.advance(time.Millisecond)
	h.s.expireOffers()
	h.waitEnded(good)
	if got := h.gw.events(good); got[len(got)-1].Body["event"] != EventStreamsTimeout {
		t.Errorf("last event %v", got[len(got)-1].RawBody)
	}
	h.fail(good, "", answerFor(t, ev.JSEP), ErrNoOfferOutstanding)
}

// A join into an empty room sends no offer: nothing to time out.
func TestStreamsOfferTimeoutNoOffer(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, timeoutOptions(clock))
	s, _ := h.streamsSub("r", "c")
	h.s.settle()
	clock.advance(10 * testOfferTimeout)
	h.s.expireOffers()
	if q := h.queryStreams(s); q.Streams.Outstanding || q.Streams.ExpiresInMs != nil || len(h.gw.endedSessions()) != 0 {
		t.Errorf("%s, ended %v", h.s.QuerySession(s), h.gw.endedSessions())
	}
}

// With the timeout off (0) no deadline is set and nothing is ever ended.
func TestStreamsOfferTimeoutOff(t *testing.T) {
	clock := newFakeClock()
	opts := timeoutOptions(clock)
	opts.StreamOfferTimeout = 0
	h := newHarness(t, opts)
	h.publisher("r", "a", true)
	s, _ := h.streamsSub("r", "c")
	h.s.settle()
	if h.s.sweep != nil {
		t.Error("a sweep goroutine with the timeout off")
	}
	clock.advance(time.Hour)
	h.s.expireOffers()
	if q := h.queryStreams(s); !q.Streams.Outstanding || q.Streams.ExpiresInMs != nil || len(h.gw.endedSessions()) != 0 {
		t.Errorf("%s, ended %v", h.s.QuerySession(s), h.gw.endedSessions())
	}
}

// The sweep goroutine itself expires offers (here with a short timeout
// on the fake clock, which the test moves past the deadline once).
func TestStreamsOfferTimeoutSweeps(t *testing.T) {
	clock := newFakeClock()
	opts := timeoutOptions(clock)
	opts.StreamOfferTimeout = 40 * time.Millisecond // sweeps every 10 ms
	h := newHarness(t, opts)
	h.publisher("r", "a", true)
	s, _ := h.streamsSub("r", "c")
	h.waitExpiresIn(s)
	clock.advance(time.Second)
	h.waitEnded(s)
}

// While a hung client leaves its offer unanswered, any number of changes
// queue nothing: no event, no planned offer. The answer brings exactly one
// offer, with the state of that moment.
func TestStreamsCoalesceWhileWaiting(t *testing.T) {
	h := newHarness(t, msOptions())
	first := h.publisher("r", "p0", true)
	s, p := h.streamsSub("r", "sub")
	var pubs []SessionID
	for i := 1; i <= 40; i++ {
		pubs = append(pubs, h.publisher("r", fmt.Sprintf("p%d", i), true))
	}
	for _, id := range pubs[:30] {
		h.destroy(id)
	}
	h.offer(pubs[35], "audio-only-p36")
	h.destroy(first)
	h.s.settle()
	h.s.mu.Lock()
	pending := len(h.s.state.ms.pending)
	h.s.mu.Unlock()
	if n := len(h.streamEvents(s)); n != 0 || pending != 0 {
		t.Fatalf("%d offers sent and %d planned while one is outstanding", n, pending)
	}
	h.ok(s, "", answerFor(t, p.JSEP))
	ev := h.waitStreamEvents(s, 1)[0]
	// p0's lines go inactive (the browser must see them so before reuse);
	// p31..p40 are appended, p36 audio only.
	want := []string{"0=audio:-", "1=video:-"}
	n := 2
	for i := 31; i <= 40; i++ {
		want = append(want, fmt.Sprintf("%d=audio:p%d", n, i))
		n++
		if i != 36 {
			want = append(want, fmt.Sprintf("%d=video:p%d", n, i))
			n++
		}
	}
	if got := offerLines(t, ev.JSEP); !slices.Equal(got, want) {
		t.Fatalf("folded offer %v\nwant %v", got, want)
	}
	h.ok(s, "", answerFor(t, ev.JSEP))
	h.s.settle()
	if n := len(h.streamEvents(s)); n != 1 {
		t.Errorf("%d offers after the folded one was answered: %v", n, h.gw.eventBodies(s))
	}
}
