package cjanus

import (
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus/ctest"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

type fixture struct {
	t       *testing.T
	g       *Gateway
	handles map[sfu.SessionID]unsafe.Pointer
}

func newFixture(t *testing.T, abi int) *fixture {
	ctest.Install(abi)
	f := &fixture{t: t, g: newGateway(), handles: map[sfu.SessionID]unsafe.Pointer{}}
	t.Cleanup(f.g.close)
	return f
}

// publish publishes and waits for the reclaimer, so that releases can be
// checked right after.
func (f *fixture) publish(ups []sfu.RouteUpdate, retire []sfu.SessionID) {
	f.g.Publish(ups, nil, retire)
	f.g.reclaimNow()
}

func (f *fixture) session() (sfu.SessionID, unsafe.Pointer) {
	f.t.Helper()
	h := ctest.NewHandle()
	id, err := f.g.attach(h)
	if err != nil {
		f.t.Fatal(err)
	}
	f.handles[id] = h
	// Janus sets the refcount up only after create_session returned.
	if got := ctest.Count(h, ctest.RefCount); got != ctest.RefPoison {
		f.t.Fatalf("attach changed the uninitialised refcount to %#x", got)
	}
	ctest.Init(h)
	if got := ctest.ControlCall(h); got != uint64(id) {
		f.t.Fatalf("control call found session %d, want %d", got, id)
	}
	if got := ctest.Count(h, ctest.RefCount); got != 2 {
		f.t.Fatalf("after Janus's first call the handle has %d refs, want 2 (Janus's and the one it gave the plugin)", got)
	}
	return id, h
}

// sessions makes n sessions (as session does) and returns their ids and
// handles.
func (f *fixture) sessions(n int) ([]sfu.SessionID, []unsafe.Pointer) {
	f.t.Helper()
	ids, hs := make([]sfu.SessionID, n), make([]unsafe.Pointer, n)
	for i := range n {
		ids[i], hs[i] = f.session()
	}
	return ids, hs
}

func TestRelayFollowsPublishedRoutes(t *testing.T) {
	for _, abi := range []int{0, 1} {
		f := newFixture(t, abi)
		pub, ph := f.session()
		s1, h1 := f.session()
		s2, h2 := f.session()

		ctest.RTPFrom(ph, 2)
		if ctest.Count(h1, ctest.RTP) != 0 {
			t.Fatal("relayed before any route was published")
		}
		f.publish([]sfu.RouteUpdate{
			{Session: pub, Routes: sfu.Routes{RTP: []sfu.SessionID{s1, s2}, Data: []sfu.SessionID{s1}}},
			{Session: s1, Routes: sfu.Routes{Keyframe: []sfu.SessionID{pub}}},
		}, nil)
		for i := 0; i < 5; i++ {
			ctest.RTPFrom(ph, 2)
		}
		ctest.DataFrom(ph)
		if a, b := ctest.Count(h1, ctest.RTP), ctest.Count(h2, ctest.RTP); a != 5 || b != 5 {
			t.Fatalf("abi %d: relayed %d and %d packets, want 5 each", abi, a, b)
		}
		if abi == 1 && ctest.Count(h1, ctest.LastMindex) != -1 {
			t.Fatalf("1.x relay with mindex %d, want -1", ctest.Count(h1, ctest.LastMindex))
		}
		if ctest.Count(h1, ctest.Data) != 1 || ctest.Count(h2, ctest.Data) != 0 {
			t.Fatal("data relayed to the wrong sessions")
		}
		st, ok := f.g.Stats(pub)
		if !ok || st.RTPIn != 6 || st.RTPOut != 10 || st.DataIn != 1 || st.DataOut != 1 {
			t.Fatalf("stats %+v", st)
		}

		// A PLI from the subscriber reaches its publisher once per window.
		f.g.SetKeyframeInterval(time.Hour)
		pli := []byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
		for i := 0; i < 3; i++ {
			ctest.RTCPFrom(h1, pli, false) // video flag ignored on purpose
		}
		if got := ctest.Count(ph, ctest.PLI); got != 1 {
			t.Fatalf("3 PLIs gave %d PLIs to the publisher, want 1", got)
		}
		// Other RTCP from the publisher goes to its subscribers.
		sr := []byte{0x80, 200, 0, 1, 0, 0, 0, 1}
		ctest.RTCPFrom(ph, sr, false)
		if ctest.Count(h1, ctest.RTCP) != 1 || ctest.Count(h2, ctest.RTCP) != 1 {
			t.Fatal("sender report not relayed to subscribers")
		}

		// Retiring a subscriber: routes republished without it first.
		f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{RTP: []sfu.SessionID{s1}}}}, []sfu.SessionID{s2})
		if got := ctest.Count(h2, ctest.RefCount); got != 1 {
			t.Fatalf("retired handle still holds %d refs", got)
		}
		ctest.RTPFrom(ph, 2)
		if ctest.Count(h2, ctest.RTP) != 5 || ctest.Count(h1, ctest.RTP) != 6 {
			t.Fatal("relay after retire went wrong")
		}
		f.g.detach(pub)
		ctest.RTPFrom(ph, 2)
		if ctest.Count(h1, ctest.RTP) != 6 {
			t.Fatal("a detached publisher still relays")
		}
		f.publish(nil, []sfu.SessionID{pub, s1})
	}
}

func TestPayloadTypeRewrite(t *testing.T) {
	for _, abi := range []int{0, 1} {
		f := newFixture(t, abi)
		pub, ph := f.session()
		sub, sh := f.session()
		f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{RTP: []sfu.SessionID{sub}}}}, nil)
		ctest.RTPWithPT(ph, 126)
		if got := ctest.Count(sh, ctest.LastPT); got != 126 {
			t.Fatalf("abi %d: no map yet, pt %d relayed as %d", abi, 126, got)
		}
		f.g.SetPayloadMap(pub, sfu.PayloadMap{AudioFrom: 109, AudioTo: 111, VideoFrom: 126, VideoTo: 107})
		for _, c := range []struct{ in, out int64 }{{126, 107}, {109, 111}, {96, 96}} {
			ctest.RTPWithPT(ph, int(c.in)) // aborts if anything but the PT byte changed
			if got := ctest.Count(sh, ctest.LastPT); got != c.out {
				t.Errorf("abi %d: pt %d relayed as %d, want %d", abi, c.in, got, c.out)
			}
		}
		f.g.SetPayloadMap(pub, sfu.PayloadMap{AudioFrom: -1, AudioTo: 111, VideoFrom: 126, VideoTo: -1})
		ctest.RTPWithPT(ph, 126)
		if got := ctest.Count(sh, ctest.LastPT); got != 126 {
			t.Errorf("half-empty map rewrote %d to %d", 126, got)
		}
		f.publish(nil, []sfu.SessionID{pub, sub})
	}
}

// A retired session still named by someone's routes must not be freed:
// the gateway defers it until the last route drops it.
func TestRetireDeferredWhileReferenced(t *testing.T) {
	f := newFixture(t, 1)
	pub, ph := f.session()
	sub, sh := f.session()
	f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{RTP: []sfu.SessionID{sub}}}}, nil)
	f.publish(nil, []sfu.SessionID{sub}) // buggy caller: pub still names sub
	if got := ctest.Count(sh, ctest.RefCount); got != 2 {
		t.Fatalf("referenced session released early (refs %d)", got)
	}
	ctest.RTPFrom(ph, 0) // must not touch freed memory
	f.publish([]sfu.RouteUpdate{{Session: pub}}, nil)
	if got := ctest.Count(sh, ctest.RefCount); got != 1 {
		t.Fatalf("deferred session not released (refs %d)", got)
	}
}

// TestConcurrentPublishUnderLoad hammers the hot path from C threads while
// Go publishes and retires sessions; freed memory is poisoned, so a reader
// touching it would crash the test.
func TestConcurrentPublishUnderLoad(t *testing.T) {
	f := newFixture(t, 1)
	pubIDs, pubs := f.sessions(4)
	ctest.StartReaders(pubs, 2)
	var subs []sfu.SessionID
	deadline := time.Now().Add(1500 * time.Millisecond)
	rounds := 0
	for time.Now().Before(deadline) {
		id, _ := f.session()
		subs = append(subs, id)
		var retire []sfu.SessionID
		if len(subs) > 8 {
			retire, subs = subs[:1], subs[1:]
		}
		var ups []sfu.RouteUpdate
		for _, p := range pubIDs {
			ups = append(ups, sfu.RouteUpdate{Session: p, Routes: sfu.Routes{RTP: append([]sfu.SessionID(nil), subs...)}})
		}
		f.publish(ups, retire)
		rounds++
	}
	sent := ctest.StopReaders()
	if sent == 0 || rounds < 10 {
		t.Fatalf("no real concurrency: %d packets, %d publishes", sent, rounds)
	}
	t.Logf("%d packets relayed during %d publishes", sent, rounds)
	var all []sfu.SessionID
	all = append(all, pubIDs...)
	all = append(all, subs...)
	var mu sync.Mutex
	mu.Lock()
	f.publish(nil, all)
	mu.Unlock()
	for id, h := range f.handles {
		if ctest.Count(h, ctest.RefCount) != 1 {
			t.Errorf("session %d: handle refs %d after release, want 1", id, ctest.Count(h, ctest.RefCount))
		}
	}
}

// On 1.x every relayed packet carries m-line index -1 (Janus picks the
// subscriber's stream by kind), whatever the publisher's index was:
// naf-janus-adapter's audio and video arrive on m-lines 1 and 2.
func TestMindexCleared(t *testing.T) {
	f := newFixture(t, 1)
	pub, ph := f.session()
	sub, sh := f.session()
	f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{RTP: []sfu.SessionID{sub}}}}, nil)
	for _, c := range []struct {
		mindex int
		video  bool
	}{{0, false}, {1, true}, {1, false}, {2, true}, {-1, false}} {
		ctest.RTPKind(ph, c.mindex, c.video, 111)
		if got := ctest.Count(sh, ctest.LastMindex); got != -1 {
			t.Errorf("mindex %d video %v relayed with mindex %d, want -1", c.mindex, c.video, got)
		}
	}
	if got := ctest.Count(sh, ctest.RTP); got != 5 {
		t.Errorf("relayed %d packets, want 5", got)
	}
	f.publish(nil, []sfu.SessionID{pub, sub})
}

// The throttle window runs on the ticker's clock: a second request inside
// it is dropped, one after it passes; with throttling off every one passes.
func TestKeyframeThrottleWindow(t *testing.T) {
	f := newFixture(t, 1)
	pub, ph := f.session()
	sub, sh := f.session()
	f.publish([]sfu.RouteUpdate{
		{Session: pub, Routes: sfu.Routes{RTP: []sfu.SessionID{sub}}},
		{Session: sub, Routes: sfu.Routes{Keyframe: []sfu.SessionID{pub}}},
	}, nil)
	defer f.g.SetKeyframeInterval(0)
	pli := []byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	// RR + PLI, as browsers send it.
	compound := append([]byte{0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, pli...)
	f.g.SetKeyframeInterval(100 * time.Millisecond)
	ctest.RTCPFrom(sh, pli, true)
	ctest.RTCPFrom(sh, compound, true)
	if got := ctest.Count(ph, ctest.PLI); got != 1 {
		t.Fatalf("two requests inside the window gave %d PLIs, want 1", got)
	}
	time.Sleep(250 * time.Millisecond)
	ctest.RTCPFrom(sh, compound, true)
	if got := ctest.Count(ph, ctest.PLI); got != 2 {
		t.Fatalf("a request after the window gave %d PLIs in all, want 2", got)
	}
	if st, _ := f.g.Stats(pub); st.KeyframesSent != 2 {
		t.Errorf("publisher stats %+v, want 2 sent", st)
	}
	if st, _ := f.g.Stats(sub); st.KeyframeRequestsIn != 3 || st.KeyframesThrottled != 1 || st.RTCPIn != 3 {
		t.Errorf("subscriber stats %+v, want 3 RTCP, 3 requests, 1 throttled", st)
	}
	f.g.SetKeyframeInterval(0)
	for i := 0; i < 3; i++ {
		ctest.RTCPFrom(sh, pli, false)
	}
	if got := ctest.Count(ph, ctest.PLI); got != 5 {
		t.Fatalf("throttling off: %d PLIs in all, want 5", got)
	}
	f.publish(nil, []sfu.SessionID{pub, sub})
}
