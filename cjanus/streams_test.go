package cjanus

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus/ctest"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// A publisher's packets reach its multistream subscribers on their m-line
// for the packet's kind, after the classic subscribers (mindex -1); an
// item without an m-line of the kind gets no call.
func TestStreamRelayPerKind(t *testing.T) {
	f := newFixture(t, 1)
	pub, ph := f.session()
	classic, ch := f.session()
	m1, h1 := f.session()
	m2, h2 := f.session()
	f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{
		RTP:     []sfu.SessionID{classic},
		Streams: []sfu.StreamRoute{{Session: m1, AudioMindex: 3, VideoMindex: 4}, {Session: m2, AudioMindex: -1, VideoMindex: 7}},
	}}}, nil)

	ctest.RTPKind(ph, 1, false, 111) // audio on the publisher's m-line 1
	if got := ctest.Count(ch, ctest.LastMindex); got != -1 {
		t.Errorf("classic subscriber got mindex %d, want -1", got)
	}
	if got := ctest.Count(h1, ctest.LastMindex); got != 3 {
		t.Errorf("audio reached m1 on mindex %d, want 3", got)
	}
	if got := ctest.Count(h2, ctest.RTP); got != 0 {
		t.Errorf("m2 has no audio m-line but got %d relay calls", got)
	}
	ctest.RTPKind(ph, 2, true, 102)
	if got := ctest.Count(h1, ctest.LastMindex); got != 4 {
		t.Errorf("video reached m1 on mindex %d, want 4", got)
	}
	if got := ctest.Count(h2, ctest.LastMindex); got != 7 {
		t.Errorf("video reached m2 on mindex %d, want 7", got)
	}
	if a, b, c := ctest.Count(ch, ctest.RTP), ctest.Count(h1, ctest.RTP), ctest.Count(h2, ctest.RTP); a != 2 || b != 2 || c != 1 {
		t.Errorf("relay calls classic %d, m1 %d, m2 %d; want 2, 2, 1", a, b, c)
	}
	if st, _ := f.g.Stats(pub); st.RTPIn != 2 || st.RTPOut != 5 {
		t.Errorf("stats %+v, want 2 in, 5 out", st)
	}

	// Pausing: m1's video and all of m2 go; no relay call for them.
	f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{
		Streams: []sfu.StreamRoute{{Session: m1, AudioMindex: 3, VideoMindex: -1}, {Session: m2, AudioMindex: -1, VideoMindex: -1}},
	}}}, nil)
	ctest.RTPKind(ph, 2, true, 102)
	ctest.RTPKind(ph, 1, false, 111)
	if b, c := ctest.Count(h1, ctest.RTP), ctest.Count(h2, ctest.RTP); b != 3 || c != 1 {
		t.Errorf("after pausing: m1 %d calls (want 3: the audio only), m2 %d (want 1)", b, c)
	}
	if got := ctest.Count(h2, ctest.RefCount); got != 2 {
		t.Errorf("m2, dropped from every route, holds %d refs; want 2 (Janus's and ours while attached)", got)
	}

	// The publisher's own RTCP (a sender report) follows the same m-lines.
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	ctest.RTCPOn(ph, 1, sr, false)
	if got := ctest.Count(h1, ctest.LastRTCPMindex); got != 3 || ctest.Count(h1, ctest.RTCP) != 1 {
		t.Errorf("audio RTCP reached m1 %d times on mindex %d, want once on 3", ctest.Count(h1, ctest.RTCP), got)
	}
	ctest.RTCPOn(ph, 2, sr, true) // m1's video is paused
	if got := ctest.Count(h1, ctest.RTCP); got != 1 {
		t.Errorf("video RTCP reached m1's paused video (%d calls)", got)
	}
	// A subscriber the publisher's streams still name is kept until they
	// drop it.
	f.publish(nil, []sfu.SessionID{m1})
	if got := ctest.Count(h1, ctest.RefCount); got != 2 {
		t.Fatalf("subscriber named by a stream list released early (refs %d)", got)
	}
	ctest.RTPKind(ph, 1, false, 111) // must not touch freed memory
	f.publish([]sfu.RouteUpdate{{Session: pub}}, nil)
	if got := ctest.Count(h1, ctest.RefCount); got != 1 {
		t.Errorf("subscriber not released once no stream list names it (refs %d)", got)
	}
	f.publish(nil, []sfu.SessionID{pub, classic, m2})
	for id, h := range f.handles {
		if got := ctest.Count(h, ctest.RefCount); got != 1 {
			t.Errorf("session %d: handle refs %d after release, want 1", id, got)
		}
	}
}

// Janus 0.x has no m-line index: stream routes relay nothing there and
// the classic path is unchanged.
func TestStreamRoutesIdleOn0x(t *testing.T) {
	f := newFixture(t, 0)
	pub, ph := f.session()
	classic, ch := f.session()
	m1, h1 := f.session()
	f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{
		RTP: []sfu.SessionID{classic}, Streams: []sfu.StreamRoute{{Session: m1, AudioMindex: 0, VideoMindex: 1}},
	}}}, nil)
	ctest.RTPKind(ph, 0, false, 111)
	ctest.RTPKind(ph, 0, true, 102)
	if a, b := ctest.Count(ch, ctest.RTP), ctest.Count(h1, ctest.RTP); a != 2 || b != 0 {
		t.Errorf("0.x: classic got %d (want 2), multistream %d (want 0)", a, b)
	}
	f.publish(nil, []sfu.SessionID{pub, classic, m1})
}

// A PLI or FIR on a multistream subscriber's m-line goes to the publisher
// behind it, throttled per publisher; an m-line with none goes nowhere.
func TestKeyframeByMindex(t *testing.T) {
	f := newFixture(t, 1)
	a, ah := f.session()
	b, bh := f.session()
	sub, sh := f.session()
	f.publish([]sfu.RouteUpdate{
		{Session: a, Routes: sfu.Routes{Streams: []sfu.StreamRoute{{Session: sub, AudioMindex: 0, VideoMindex: 1}}}},
		{Session: b, Routes: sfu.Routes{Streams: []sfu.StreamRoute{{Session: sub, AudioMindex: -1, VideoMindex: 3}}}},
		{Session: sub, Routes: sfu.Routes{KeyframeByMindex: []sfu.SessionID{a, a, 0, b}}},
	}, nil)
	f.g.SetKeyframeInterval(time.Hour)
	pli := []byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	ctest.RTCPOn(sh, 3, pli, true)
	if pa, pb := ctest.Count(ah, ctest.PLI), ctest.Count(bh, ctest.PLI); pa != 0 || pb != 1 {
		t.Fatalf("PLI on mindex 3: PLIs to a %d, b %d; want 0, 1", pa, pb)
	}
	ctest.RTCPOn(sh, 3, pli, true) // inside b's window
	ctest.RTCPOn(sh, 1, pli, true) // a's window is its own
	if pa, pb := ctest.Count(ah, ctest.PLI), ctest.Count(bh, ctest.PLI); pa != 1 || pb != 1 {
		t.Fatalf("PLIs to a %d, b %d; want 1, 1", pa, pb)
	}
	for _, m := range []int{2, 9, -1} { // no publisher there
		ctest.RTCPOn(sh, m, pli, true)
	}
	if pa, pb := ctest.Count(ah, ctest.PLI), ctest.Count(bh, ctest.PLI); pa != 1 || pb != 1 {
		t.Fatalf("PLIs on m-lines without a publisher reached one (a %d, b %d)", pa, pb)
	}
	st, _ := f.g.Stats(sub)
	if st.KeyframeRequestsIn != 6 || st.KeyframesThrottled != 1 {
		t.Errorf("subscriber stats %+v, want 6 requests, 1 throttled", st)
	}
	// A FIR asks with a FIR, through relay_rtcp.
	f.g.SetKeyframeInterval(0)
	fir := []byte{0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 7, 0, 0, 0}
	ctest.RTCPOn(sh, 0, fir, false)
	if got := ctest.Count(ah, ctest.RTCP); got != 1 {
		t.Errorf("FIR on mindex 0 gave a %d relay_rtcp, want 1", got)
	}

	// A publisher the subscriber still names is kept until the list drops it.
	f.publish(nil, []sfu.SessionID{b})
	if got := ctest.Count(bh, ctest.RefCount); got != 2 {
		t.Fatalf("publisher named by a keyframe list released early (refs %d)", got)
	}
	ctest.RTCPOn(sh, 3, pli, true) // b is detached: nothing sent, nothing freed touched
	f.publish([]sfu.RouteUpdate{{Session: sub, Routes: sfu.Routes{KeyframeByMindex: []sfu.SessionID{a, a}}}}, nil)
	if got := ctest.Count(bh, ctest.RefCount); got != 1 {
		t.Errorf("publisher not released once no list names it (refs %d)", got)
	}
	f.publish(nil, []sfu.SessionID{a, sub})
	for id, h := range f.handles {
		if got := ctest.Count(h, ctest.RefCount); got != 1 {
			t.Errorf("session %d: handle refs %d after release, want 1", id, got)
		}
	}
}

// Audio levels add up per publisher, only for its audio packets carrying
// the negotiated element; malformed blocks and other ids count nothing.
func TestAudioLevelTotals(t *testing.T) {
	for _, abi := range []int{0, 1} {
		f := newFixture(t, abi)
		pub, ph := f.session()
		level := func(l byte) []byte { return rtpWithExtension(0, 0xbede, []byte{0x10, 0x80 | l}) }
		ctest.RTPBytes(ph, 0, false, level(50)) // no extension set yet
		f.g.SetAudioLevelExtension(pub, 1)
		for _, l := range []byte{10, 20, 30} {
			ctest.RTPBytes(ph, 0, false, level(l))
		}
		ctest.RTPBytes(ph, 1, true, level(99))                                           // video
		ctest.RTPBytes(ph, 0, false, rtpWithExtension(0, 0xbede, []byte{0x20, 5}))       // another id
		ctest.RTPBytes(ph, 0, false, level(40)[:15])                                     // cut in the header
		ctest.RTPBytes(ph, 0, false, rtpWithExtension(0, 0xbede, []byte{0x13, 1, 2, 3})) // element past the block
		ctest.RTPBytes(ph, 0, false, rtpWithExtension(0, 0x1000, []byte{1, 1, 7}))       // two-byte form
		sum, n, ok := f.g.AudioLevel(pub)
		if !ok || sum != 67 || n != 4 {
			t.Errorf("abi %d: audio level totals %d over %d packets (ok %v), want 67 over 4", abi, sum, n, ok)
		}
		f.g.SetAudioLevelExtension(pub, 0)
		ctest.RTPBytes(ph, 0, false, level(10))
		if sum, n, _ := f.g.AudioLevel(pub); sum != 67 || n != 4 {
			t.Errorf("abi %d: counted with the extension off (%d, %d)", abi, sum, n)
		}
		if st, _ := f.g.Stats(pub); st.RTPIn != 10 {
			t.Errorf("abi %d: %d packets in, want 10", abi, st.RTPIn)
		}
		f.publish(nil, []sfu.SessionID{pub})
		if _, _, ok := f.g.AudioLevel(pub); ok {
			t.Errorf("abi %d: audio level of a released session", abi)
		}
	}
}

// TestConcurrentStreamPublish: C threads relay while Go republishes and
// retires multistream subscribers; freed arrays are poisoned.
func TestConcurrentStreamPublish(t *testing.T) {
	f := newFixture(t, 1)
	pubIDs, pubs := f.sessions(4)
	for _, id := range pubIDs {
		f.g.SetAudioLevelExtension(id, 1)
	}
	ctest.StartReaders(pubs, 2)
	var subs []sfu.SessionID
	deadline := time.Now().Add(time.Second)
	rounds := 0
	for time.Now().Before(deadline) {
		id, _ := f.session()
		subs = append(subs, id)
		var retire []sfu.SessionID
		if len(subs) > 8 {
			retire, subs = subs[:1], subs[1:]
		}
		var ups []sfu.RouteUpdate
		for i, p := range pubIDs {
			var streams []sfu.StreamRoute
			for j, s := range subs {
				streams = append(streams, sfu.StreamRoute{Session: s, AudioMindex: 2 * i, VideoMindex: (j+rounds)%3 - 1})
			}
			ups = append(ups, sfu.RouteUpdate{Session: p, Routes: sfu.Routes{Streams: streams}})
		}
		for _, s := range subs {
			ups = append(ups, sfu.RouteUpdate{Session: s, Routes: sfu.Routes{KeyframeByMindex: pubIDs}})
		}
		f.publish(ups, retire)
		rounds++
	}
	sent := ctest.StopReaders()
	if sent == 0 || rounds < 10 {
		t.Fatalf("no real concurrency: %d packets, %d publishes", sent, rounds)
	}
	f.publish(nil, append(pubIDs, subs...))
	for id, h := range f.handles {
		if got := ctest.Count(h, ctest.RefCount); got != 1 {
			t.Errorf("session %d: handle refs %d after release, want 1", id, got)
		}
	}
}

// handle_info's "relayed" per m-line is what the published stream routes
// send to the subscriber.
func TestRelayedMindexes(t *testing.T) {
	f := newFixture(t, 1)
	p1, _ := f.session()
	p2, _ := f.session()
	m, _ := f.session()
	other, _ := f.session()
	f.publish([]sfu.RouteUpdate{
		{Session: p1, Routes: sfu.Routes{Streams: []sfu.StreamRoute{{Session: m, AudioMindex: 0, VideoMindex: -1}, {Session: other, AudioMindex: 5, VideoMindex: 6}}}},
		{Session: p2, Routes: sfu.Routes{Streams: []sfu.StreamRoute{{Session: m, AudioMindex: 2, VideoMindex: 3}}}},
	}, nil)
	if got := f.g.relayedMindexes(m); !slices.Equal(got, []int{0, 2, 3}) {
		t.Errorf("relayed mindexes %v, want [0 2 3]", got)
	}
	if got := f.g.relayedMindexes(p1); len(got) != 0 {
		t.Errorf("a publisher: %v", got)
	}
	q := `{"joined":true,"streams":{"lines":[{"mid":"0","mindex":0},{"mid":"1","mindex":1},{"mid":"2","mindex":2}]}}`
	out := string(withRelayStats([]byte(q), RelayStats{RTCPIn: 4}, func() []int { return f.g.relayedMindexes(m) }))
	for _, want := range []string{`{"mid":"0","mindex":0,"relayed":true}`, `{"mid":"1","mindex":1,"relayed":false}`, `{"mid":"2","mindex":2,"relayed":true}`, `"rtcp_in":4`} {
		if !strings.Contains(out, want) {
			t.Errorf("query_session %s lacks %s", out, want)
		}
	}
	// A classic handle: no lines, relayed is not asked.
	out = string(withRelayStats([]byte(`{"joined":false}`), RelayStats{}, func() []int { t.Error("relayed asked for a classic handle"); return nil }))
	if strings.Contains(out, "relayed") || !strings.Contains(out, `"relay":{`) {
		t.Errorf("classic: %s", out)
	}
}
