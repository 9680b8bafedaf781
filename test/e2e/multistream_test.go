package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// msSubscription is one PeerConnection receiving every other publisher of
// the room (subscribe.streams, Janus 1.x): peer.Streams, with failures
// reported on t and the packets kept by mid.
type msSubscription struct {
	t *testing.T
	p *handle
	s *peer.Streams

	mu    sync.Mutex
	byMid map[string][]rtp.Packet
}

// subscribeStreams opens u's multistream subscription and applies the
// join's offer, if any.
func (u *user) subscribeStreams() *msSubscription {
	u.t.Helper()
	m := &msSubscription{t: u.t, p: attach(u.t, u.c), byMid: map[string][]rtp.Packet{}}
	m.s = &peer.Streams{H: m.p.h, PC: newPC(u.t), OnTrack: func(e peer.StreamEntry, tr *webrtc.TrackRemote) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			m.mu.Lock()
			m.byMid[e.Mid] = append(m.byMid[e.Mid], *pkt)
			m.mu.Unlock()
		}
	}}
	if _, err := m.s.Subscribe(join(u.room, u.name, peer.StreamsSubscribe(), "")); err != nil {
		u.t.Fatal(err)
	}
	return m
}

// renegotiate waits for the next "streams" event, answers its offer and
// returns the new list.
func (m *msSubscription) renegotiate() []peer.StreamEntry {
	m.t.Helper()
	l, err := m.s.Renegotiate(10 * time.Second)
	if err != nil {
		m.t.Fatal(err)
	}
	return l
}

func (m *msSubscription) list() []peer.StreamEntry { return m.s.List() }

// mid finds the mid carrying a user's stream of a kind ("" if none).
func (m *msSubscription) mid(user, kind string) string { return m.s.Mid(user, kind) }

func (m *msSubscription) packets(mid string) []rtp.Packet {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.byMid[mid])
}

// arrives keeps sending tagged media from pub until both its audio and its
// video reach the subscriber on the mids listed for them.
func (m *msSubscription) arrives(what string, pub *user) {
	m.t.Helper()
	am, vm := m.mid(pub.name, "audio"), m.mid(pub.name, "video")
	if am == "" || vm == "" {
		m.t.Fatalf("%s: no active lines for %s in %+v", what, pub.name, m.list())
	}
	sendUntil(m.t, what, 15*time.Second, pub, func(tag string) bool {
		_, a := hasPayload(m.packets(am), tag)
		_, v := hasPayload(m.packets(vm), tag)
		return a && v
	})
}

// configure pauses (send false) or resumes (send true) mids and returns
// the new list.
func (m *msSubscription) configure(send map[string]bool) []peer.StreamEntry {
	m.t.Helper()
	l, err := m.s.Configure(send)
	if err != nil {
		m.t.Fatal(err)
	}
	return l
}

func relayRTPOut(t *testing.T, s *janus.Server, c *janus.Client, h *janus.Handle) float64 {
	t.Helper()
	relay, _ := queryHandle(t, s, c, h)["relay"].(map[string]any)
	n, ok := relay["rtp_out"].(float64)
	if !ok {
		t.Fatalf("no relay.rtp_out in query_session: %v", relay)
	}
	return n
}

// TestMultistream: one subscriber PeerConnection receives every other
// publisher of the room, on Janus 1.x, next to classic subscriptions.
func TestMultistream(t *testing.T) {
	requireNetns(t)
	s := janus.Start(t, janus.Options{Netns: Netns(), Admin: true,
		SFUConfig: "[general]\nkeyframe_throttle_ms = 100\n"})

	alice := newUser(t, s, "ms", "alice")
	bob := newUser(t, s, "ms", "bob")
	carol := newUser(t, s, "ms", "carol")
	dave := newUser(t, s, "ms", "dave")
	classic := carol.subscribe(alice) // a classic subscriber in the same room

	ms := dave.subscribeStreams()
	if got := ms.list(); len(got) != 6 {
		t.Fatalf("streams %+v, want 6 (3 publishers × audio, video)", got)
	}
	for i, e := range ms.list() {
		if e.Mid != fmt.Sprint(i) || !e.Active || e.UserID == "dave" || e.Kind != []string{"audio", "video"}[i%2] {
			t.Errorf("stream %d: %+v", i, e)
		}
	}
	// Every publisher's audio and video on its own mids, with its tag.
	for _, pub := range []*user{alice, bob, carol} {
		ms.arrives(pub.name+"'s media on its mids", pub)
	}
	mediaArrives(t, "alice at the classic subscriber", 10*time.Second, alice, classic, "video")

	// A fourth publisher: appended lines.
	eve := newUser(t, s, "ms", "eve")
	got := ms.renegotiate()
	if len(got) != 8 || ms.mid("eve", "audio") != "6" || ms.mid("eve", "video") != "7" {
		t.Fatalf("after eve joined: %+v", got)
	}
	ms.arrives("eve's media on the new mids", eve)
	ms.arrives("alice's media still on its mids", alice)

	// bob leaves: his lines go inactive, then frank recycles them.
	bobAudio, bobVideo := ms.mid("bob", "audio"), ms.mid("bob", "video")
	bob.c.Close()
	got = ms.renegotiate()
	for _, e := range got {
		if (e.Mid == bobAudio || e.Mid == bobVideo) && (e.Active || e.UserID != "") {
			t.Errorf("bob's line after he left: %+v", e)
		}
	}
	frank := newUser(t, s, "ms", "frank")
	got = ms.renegotiate()
	if len(got) != 8 || ms.mid("frank", "audio") != bobAudio || ms.mid("frank", "video") != bobVideo {
		t.Fatalf("frank did not get bob's lines: %+v", got)
	}
	ms.arrives("frank's media on bob's old mids", frank)

	// Pause alice's video: no renegotiation, no relay call for it.
	av := ms.mid("alice", "video")
	ms.configure(map[string]bool{av: false})
	time.Sleep(200 * time.Millisecond) // what was in flight
	before := len(ms.packets(av))
	outBefore := relayRTPOut(t, s, alice.c, alice.pub.h)
	const n = 20
	for i := 0; i < n; i++ {
		alice.sendMedia()
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if after := len(ms.packets(av)); after != before {
		t.Errorf("%d video packets from alice while paused", after-before)
	}
	// rtp_out counts relay calls at the publisher: its audio to dave's
	// multistream handle, audio and video to carol's classic subscriber;
	// none for the paused video.
	if d := relayRTPOut(t, s, alice.c, alice.pub.h) - outBefore; d != 3*n {
		t.Errorf("alice's relay made %v calls for %d audio+video packets with her video paused at dave; want %d", d, n, 3*n)
	}
	// Resume: a keyframe request reaches alice, video flows again.
	plis := alice.KeyframeRequests.Load()
	ms.configure(map[string]bool{av: true})
	eventually(t, "keyframe request at alice on resume", 5*time.Second, func() bool { return alice.KeyframeRequests.Load() > plis })
	ms.arrives("alice's video after resume", alice)
	select {
	case ev := <-ms.p.h.Events():
		t.Errorf("unexpected event on the multistream handle: %s", ev.Data)
	default:
	}
}

// TestMultistreamRefusals: a streams join combined with media is refused.
// (The refusal on Janus 0.x is unit-tested: sfu TestStreamsRefusals, and
// cjanus TestMultistreamFollowsABI.)
func TestMultistreamRefusals(t *testing.T) {
	requireE2E(t)
	s := startJanus(t, "")
	c := s.Connect(t)
	p := attach(t, c)
	p.fails(join("r", "u", map[string]any{"streams": true, "media": "x"}, ""), `"subscribe.streams" cannot be combined with "subscribe.media" or "subscribe.data".`)
	p.fails(map[string]any{"kind": "configure", "streams": []any{map[string]any{"mid": "0", "send": false}}}, "Not a multistream subscription.")
	r, _ := p.ok(join("r", "u", map[string]any{"streams": true}, ""), nil)
	if string(r) != `{"streams":[],"users":{"r":[]}}` {
		t.Errorf("empty room: %s", r)
	}
	p.fails(map[string]any{"kind": "configure", "streams": []any{map[string]any{"mid": "0", "send": false}}}, `Unknown mid "0".`)
}

// msLineInfo is one m-line of a multistream subscriber in handle_info.
type msLineInfo struct {
	Mid    string `json:"mid"`
	Mindex int    `json:"mindex"`
	Kind   string `json:"kind"`
	UserID string `json:"user_id"`
	State  string `json:"state"`
	Routed bool   `json:"routed"`
	// Relayed: the relay's published routes send to the line (cjanus).
	Relayed bool `json:"relayed"`
}

// msHandleInfo is the "streams" part of a multistream subscriber's
// handle_info.
type msHandleInfo struct {
	Lines       []msLineInfo `json:"lines"`
	Offers      int          `json:"offers"`
	Outstanding bool         `json:"offer_outstanding"`
	ExpiresInMs *int64       `json:"offer_expires_in_ms"`
}

func streamsInfo(t *testing.T, s *janus.Server, c *janus.Client, h *janus.Handle) msHandleInfo {
	t.Helper()
	q := queryHandle(t, s, c, h)
	raw, _ := json.Marshal(q["streams"])
	var out msHandleInfo
	if err := json.Unmarshal(raw, &out); err != nil || out.Lines == nil {
		t.Fatalf("handle_info has no streams: %v (%v)", q, err)
	}
	return out
}

// TestMultistreamAdminAndTimeout: Janus's handle_info lists a multistream
// subscriber's m-lines with their state; a subscriber that never answers
// its offer gets streams_timeout and Janus detaches its handle after
// streams_offer_timeout_ms, while one that answered keeps its media.
func TestMultistreamAdminAndTimeout(t *testing.T) {
	requireNetns(t)
	const timeoutMS = 3000
	s := janus.Start(t, janus.Options{Netns: Netns(), Admin: true, PluginPath: os.Getenv("SFU_E2E_PLUGIN"),
		SFUConfig: fmt.Sprintf("[general]\nstreams_offer_timeout_ms = %d\n", timeoutMS)})
	alice := newUser(t, s, "mt", "alice")
	bob := newUser(t, s, "mt", "bob")
	dave := newUser(t, s, "mt", "dave")
	ms := dave.subscribeStreams()
	ms.arrives("alice's media", alice)

	bv := ms.mid("bob", "video")
	ms.configure(map[string]bool{bv: false})
	info := streamsInfo(t, s, dave.c, ms.p.h)
	if len(info.Lines) != 4 || info.Outstanding || info.ExpiresInMs != nil || info.Offers != 1 {
		t.Fatalf("dave's handle_info streams: %+v", info)
	}
	for i, l := range info.Lines {
		want := msLineInfo{Mid: fmt.Sprint(i), Mindex: i, Kind: []string{"audio", "video"}[i%2], UserID: l.UserID, State: "active", Routed: true, Relayed: true}
		if l.Mid == bv {
			want.State, want.Routed, want.Relayed = "paused", false, false
		}
		if l != want || (l.UserID != "alice" && l.UserID != "bob") {
			t.Errorf("line %d: %+v, want %+v", i, l, want)
		}
	}
	var users struct {
		Rooms []struct {
			Users []struct {
				UserID        string            `json:"user_id"`
				Subscriptions []string          `json:"subscriptions"`
				Multistream   *sfu.StreamCounts `json:"multistream"`
			} `json:"users"`
		} `json:"rooms"`
	}
	raw := adminCall(t, s, map[string]any{"request": "list_users", "room_id": "mt"}, &users)
	for _, u := range users.Rooms[0].Users {
		if (u.UserID == "dave") != (u.Multistream != nil) {
			t.Errorf("list_users: %s", raw)
		}
		if u.UserID == "dave" && (u.Multistream.Paused != 1 || u.Multistream.Active != 3 || !slices.Equal(u.Subscriptions, []string{"alice", "bob"})) {
			t.Errorf("list_users, dave: %s", raw)
		}
	}

	// eve's multistream handle takes the join's offer and never answers.
	eve := s.Connect(t)
	hung := attach(t, eve)
	_, ev := hung.ok(join("mt", "eve", map[string]any{"streams": true}, ""), nil)
	if len(ev.Jsep) == 0 {
		t.Fatal("eve's join has no offer")
	}
	eventually(t, "eve's offer deadline in handle_info", 2*time.Second, func() bool {
		i := streamsInfo(t, s, eve, hung.h)
		return i.Outstanding && i.ExpiresInMs != nil && *i.ExpiresInMs <= timeoutMS && i.Lines[0].State == "pending"
	})
	hung.waitEvent(map[string]any{"event": "streams_timeout", "timeout_ms": float64(timeoutMS)})
	detached := false
	for deadline := time.After(10 * time.Second); !detached; {
		select {
		case sig, ok := <-hung.h.Signals():
			detached = !ok || sig.Type == "detached"
		case <-deadline:
			t.Fatal("eve's handle not detached within 10 s of streams_timeout")
		}
	}
	eventually(t, "stats after the timeout", 5*time.Second, func() bool {
		st := adminStats(t, s)
		return st.Multistream.OfferTimeouts == 1 && st.Multistream.Handles == 1
	})
	// dave, who answered, still gets media, and nothing else happened to
	// his handle.
	ms.arrives("alice's media after eve's timeout", alice)
	ms.configure(map[string]bool{bv: true})
	ms.arrives("bob's media resumed", bob)
	select {
	case ev := <-ms.p.h.Events():
		t.Errorf("unexpected event on dave's multistream handle: %s", ev.Data)
	default:
	}
}
