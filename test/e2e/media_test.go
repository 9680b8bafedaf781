package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

func requireNetns(t *testing.T) {
	t.Helper()
	requireE2E(t)
	if Netns() == "" {
		t.Fatal("media tests need WebRTC peers beside Janus in a network namespace: run `make e2e` (or scripts/netns.sh up sfutest and SFU_E2E_NETNS=sfutest)")
	}
}

// waitEvent skips events until one decodes to a map with the given fields.
func (p *handle) waitEvent(want map[string]any) {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-p.h.Events():
			if !ok {
				p.t.Fatal("handle closed")
			}
			var got map[string]any
			if ev.Decode(&got) == nil && matches(got, want) {
				return
			}
		case <-deadline:
			p.t.Fatalf("no event %v within 5 s", want)
		}
	}
}

func matches(got, want map[string]any) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func payloadType(t *testing.T, s *webrtc.RTPSender) uint8 {
	t.Helper()
	p := s.GetParameters()
	if len(p.Codecs) == 0 {
		t.Fatal("sender has no negotiated codec")
	}
	return uint8(p.Codecs[0].PayloadType)
}

func waitOpen(t *testing.T, dc *webrtc.DataChannel) {
	t.Helper()
	eventually(t, "data channel "+dc.Label()+" open", 10*time.Second, func() bool {
		return dc.ReadyState() == webrtc.DataChannelStateOpen
	})
}

// sendUntil keeps sending tagged media from pub until arrived(tag) holds
// for the tag just sent, and returns that tag.
func sendUntil(t *testing.T, what string, d time.Duration, pub *user, arrived func(tag string) bool) string {
	t.Helper()
	var tag string
	eventually(t, what, d, func() bool {
		tag = pub.sendMedia()
		time.Sleep(30 * time.Millisecond)
		return arrived(tag)
	})
	return tag
}

// mediaArrives keeps sending tagged packets from pub until one of kind
// reaches sub, and returns the tag that arrived.
func mediaArrives(t *testing.T, what string, d time.Duration, pub *user, sub *subscription, kind string) string {
	t.Helper()
	return sendUntil(t, what, d, pub, func(tag string) bool {
		_, ok := hasPayload(sub.packets(kind), tag)
		return ok
	})
}

// TestMedia runs real WebRTC peers through Janus and the plugin: RTP
// relay with payload types intact, data channels, keyframe requests and
// their throttle, block/unblock, renegotiation and teardown.
func TestMedia(t *testing.T) {
	requireNetns(t)
	s := janus.Start(t, janus.Options{Netns: Netns(), Admin: true,
		SFUConfig: "[general]\nkeyframe_throttle_ms = 500\n"})

	alice := newUser(t, s, "m", "alice")
	bob := newUser(t, s, "m", "bob")
	carol := newUser(t, s, "m", "carol")
	bs := bob.subscribe(alice)
	cs := carol.subscribe(alice)

	// Media arrives at both subscribers with the publisher's payload types.
	audioPT := payloadType(t, alice.AudioTx)
	tag := sendUntil(t, "alice's media at bob and carol", 15*time.Second, alice, func(tag string) bool {
		for _, sub := range []*subscription{bs, cs} {
			for _, kind := range []string{"audio", "video"} {
				if _, ok := hasPayload(sub.packets(kind), tag); !ok {
					return false
				}
			}
		}
		return true
	})
	for _, sub := range []*subscription{bs, cs} {
		p, _ := hasPayload(sub.packets("audio"), tag)
		if p.PayloadType != audioPT {
			t.Errorf("audio payload type %d at subscriber, publisher sent %d", p.PayloadType, audioPT)
		}
		v, _ := hasPayload(sub.packets("video"), tag)
		if v.Payload[0] != 0x41 || !v.Marker {
			t.Errorf("video packet altered: %+v", v.Header)
		}
		// Subscribers have fixed payload types (H.264 107) whatever the
		// publisher negotiated; the relay rewrites the byte.
		if v.PayloadType != 107 {
			t.Errorf("video payload type %d at subscriber, want 107 (publisher sent %d)", v.PayloadType, payloadType(t, alice.VideoTx))
		}
	}
	t.Logf("media relayed; audio pt %d", audioPT)

	// Subscriber setup asked alice for a keyframe.
	eventually(t, "keyframe request at alice after subscriber setup", 5*time.Second, func() bool {
		return alice.KeyframeRequests.Load() > 0
	})

	// Data channels: both labels reach the other publishers.
	for _, dc := range alice.Channels {
		waitOpen(t, dc)
	}
	for _, label := range []string{peer.Reliable, peer.Unreliable} {
		msg := "hello on " + label
		eventually(t, msg, 10*time.Second, func() bool {
			if err := alice.Channels[label].SendText(msg); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			return slices.Contains(bob.data(label), msg) && slices.Contains(carol.data(label), msg)
		})
		if slices.Contains(alice.data(label), msg) {
			t.Errorf("%s echoed back to its sender", label)
		}
	}

	// PLI storm from one subscriber: one keyframe request per window.
	time.Sleep(700 * time.Millisecond)
	before := alice.KeyframeRequests.Load()
	for i := 0; i < 10; i++ {
		if err := bs.sendPLI(); err != nil {
			t.Fatal(err)
		}
		if err := cs.sendPLI(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	got := alice.KeyframeRequests.Load() - before
	if got < 1 || got > 2 {
		t.Errorf("20 PLIs in 100 ms reached the publisher as %d keyframe requests; want 1 (throttled)", got)
	}
	t.Logf("PLI storm: 20 sent, %d reached the publisher; bob's subscriber: %v; alice: %v", got,
		queryHandle(t, s, bob.c, bs.p.h)["relay"], queryHandle(t, s, alice.c, alice.pub.h)["relay"])

	// Block: nothing flows between alice and bob, carol is unaffected.
	alice.pub.ok(map[string]any{"kind": "block", "whom": "bob"}, nil)
	bob.pub.waitEvent(map[string]any{"event": "blocked", "by": "alice"})
	tag = mediaArrives(t, "media at carol after block", 5*time.Second, alice, cs, "video")
	if err := alice.Channels[peer.Reliable].SendText("after block"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "data at carol after block", 5*time.Second, func() bool { return slices.Contains(carol.data(peer.Reliable), "after block") })
	time.Sleep(300 * time.Millisecond)
	if _, ok := hasPayload(bs.packets("video"), tag); ok {
		t.Error("bob received alice's media while blocked")
	}
	if slices.Contains(bob.data(peer.Reliable), "after block") {
		t.Error("bob received alice's data while blocked")
	}

	// Unblock restores both.
	alice.pub.ok(map[string]any{"kind": "unblock", "whom": "bob"}, nil)
	bob.pub.waitEvent(map[string]any{"event": "unblocked", "by": "alice"})
	tag = mediaArrives(t, "media at bob after unblock", 5*time.Second, alice, bs, "video")

	// Renegotiation: alice offers again, bob's subscriber gets the new
	// offer pushed, answers it, and media keeps flowing.
	alice.renegotiate()
	var pushed janus.PluginEvent
	select {
	case pushed = <-bs.p.h.Events():
	case <-time.After(5 * time.Second):
		t.Fatal("no renegotiation offer pushed to the subscriber")
	}
	if pushed.Transaction != "" {
		t.Fatalf("renegotiation offer carries a transaction: %s", pushed.Raw)
	}
	bs.answer(t, pushed)
	tag = mediaArrives(t, "media at bob after renegotiation", 10*time.Second, alice, bs, "audio")

	// Teardown: bob's subscriber goes, carol keeps receiving, the plugin
	// forgets the handle.
	before64 := adminRequest(t, s, map[string]any{})["sessions"].(float64)
	if err := bs.p.h.Detach(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "plugin forgets the detached handle", 5*time.Second, func() bool {
		return adminRequest(t, s, map[string]any{})["sessions"].(float64) == before64-1
	})
	tag = mediaArrives(t, "media at carol after bob's subscriber left", 5*time.Second, alice, cs, "audio")
	if err := bob.pub.h.Detach(); err != nil {
		t.Fatal(err)
	}
	alice.pub.waitEvent(map[string]any{"event": "leave", "user_id": "bob", "room_id": "m"})
	if err := cs.p.h.Hangup(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}
