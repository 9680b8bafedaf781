package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// handle is a plugin handle of a test: janus.Handle with the plugin's
// protocol (test/peer) and failures reported on t.
type handle struct {
	t *testing.T
	h *janus.Handle
}

func attach(t *testing.T, c *janus.Client) *handle {
	t.Helper()
	h, err := c.Attach(janus.PluginPackage)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	return &handle{t: t, h: h}
}

// send sends a message and returns the plugin's reply (refused or not)
// and the raw event.
func (p *handle) send(body any, jsep any) (peer.Reply, janus.PluginEvent) {
	p.t.Helper()
	r, err := peer.Message(p.h, body, jsep)
	if _, refused := err.(*peer.RefusedError); err != nil && !refused {
		p.t.Fatalf("message %v: %v", body, err)
	}
	return r.Reply, r.Event
}

func (p *handle) ok(body any, jsep any) (json.RawMessage, janus.PluginEvent) {
	p.t.Helper()
	r, err := peer.Message(p.h, body, jsep)
	if err != nil {
		p.t.Fatalf("message %v: %v", body, err)
	}
	return r.Reply.Response, r.Event
}

func (p *handle) fails(body any, want string) {
	p.t.Helper()
	_, err := peer.Message(p.h, body, nil)
	ref, refused := err.(*peer.RefusedError)
	if !refused {
		p.t.Fatalf("message %v: want error %q, got %v", body, want, err)
	}
	if want != "" && ref.Msg != want {
		p.t.Fatalf("message %v: want error %q, got %q", body, want, ref.Msg)
	}
}

// event waits for the next asynchronous plugin event on the handle.
func (p *handle) event() janus.PluginEvent {
	p.t.Helper()
	select {
	case ev, ok := <-p.h.Events():
		if !ok {
			p.t.Fatal("handle closed while waiting for an event")
		}
		return ev
	case <-time.After(5 * time.Second):
		p.t.Fatal("no event within 5 s")
	}
	return janus.PluginEvent{}
}

func (p *handle) expectEvent(want map[string]any) {
	p.t.Helper()
	ev := p.event()
	var got map[string]any
	if err := ev.Decode(&got); err != nil {
		p.t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		p.t.Fatalf("event: want %v, got %s", want, ev.Data)
	}
}

// quiet asserts no event arrives for a short while.
func (p *handle) quiet() {
	p.t.Helper()
	select {
	case ev := <-p.h.Events():
		p.t.Fatalf("unexpected event %s", ev.Data)
	case <-time.After(300 * time.Millisecond):
	}
}

func join(room, user string, sub map[string]any, token string) map[string]any {
	return peer.Join(room, user, sub, token)
}

var pubSub = peer.PublisherSubscribe()

// pionOffer makes a real browser-like offer (audio, video, data) without
// gathering: enough for signalling.
func pionOffer(t *testing.T) string {
	t.Helper()
	pc := newPC(t)
	if _, err := pc.CreateDataChannel(peer.Reliable, nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

// pionAnswer answers a subscriber offer like a browser would.
func pionAnswer(t *testing.T, offer string) string {
	t.Helper()
	pc := newPC(t)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatalf("pion rejects our subscriber offer: %v\n%s", err, offer)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return ans.SDP
}

// sdpOf returns the SDP of ev's jsep, which must be of type want.
func sdpOf(t *testing.T, ev janus.PluginEvent, want string) string {
	t.Helper()
	sdp, err := peer.SDP(ev, want)
	if err != nil {
		t.Fatal(err)
	}
	return sdp
}

func users(t *testing.T, resp json.RawMessage, room string) []string {
	t.Helper()
	u, err := peer.Users(resp, room)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSignalling drives the whole protocol through real Janus without
// auth: join, join events, JSEP, data, block/unblock, limits, bad input and
// leave.
func TestSignalling(t *testing.T) {
	s := startJanus(t, "[general]\nmax_room_size = 3\nmax_ccu = 4\n")
	c := s.Connect(t)

	a := attach(t, c)
	resp, _ := a.ok(join("r1", "alice", pubSub, ""), nil)
	if u := users(t, resp, "r1"); len(u) != 0 {
		t.Fatalf("first join sees users %v", u)
	}
	a.fails(join("r1", "alice", pubSub, ""), "Handles may only join once!")

	// Publisher offer → our answer.
	_, ev := a.ok(map[string]any{}, map[string]any{"type": "offer", "sdp": pionOffer(t)})
	if sdp := sdpOf(t, ev, "answer"); !strings.Contains(sdp, "opus/48000") {
		t.Fatalf("offer answered without Opus: %s", sdp)
	}

	b := attach(t, c)
	resp, _ = b.ok(join("r1", "bob", pubSub, ""), nil)
	if u := users(t, resp, "r1"); len(u) != 1 || u[0] != "alice" {
		t.Fatalf("bob sees %v", u)
	}
	a.expectEvent(map[string]any{"event": "join", "user_id": "bob", "room_id": "r1"})

	// Bob subscribes to Alice's media: the join answer carries the offer.
	bs := attach(t, c)
	resp, ev = bs.ok(join("r1", "bob", map[string]any{"media": "alice"}, ""), nil)
	users(t, resp, "r1")
	subOffer := sdpOf(t, ev, "offer")
	for _, m := range []string{"m=audio", "m=video", "m=application"} {
		if !strings.Contains(subOffer, m) {
			t.Fatalf("subscriber offer lacks %s:\n%s", m, subOffer)
		}
	}
	r, ev := bs.send(map[string]any{}, map[string]any{"type": "answer", "sdp": pionAnswer(t, subOffer)})
	if !r.Success {
		t.Fatalf("subscriber answer refused: %s", ev.Data)
	}

	// Subscribing to someone absent, or to a publisher with no offer yet.
	x := attach(t, c)
	x.fails(join("r1", "carol", map[string]any{"media": "nobody"}, ""), "Can't subscribe to a nonexistent publisher.")
	x.fails(join("r1", "carol", map[string]any{"media": "bob"}, ""),
		"Can't subscribe to a publisher that has not negotiated media yet.")

	// Renegotiation pushes the new offer to Alice's subscribers.
	a.ok(map[string]any{}, map[string]any{"type": "offer", "sdp": pionOffer(t)})
	pushed := bs.event()
	if sdpOf(t, pushed, "offer"); pushed.Transaction != "" {
		t.Fatalf("renegotiation push: %s", pushed.Raw)
	}

	// Data through signalling.
	a.ok(map[string]any{"kind": "data", "body": "hello"}, nil)
	b.expectEvent(map[string]any{"event": "data", "body": "hello"})
	b.ok(map[string]any{"kind": "data", "body": "to alice", "whom": "alice"}, nil)
	a.expectEvent(map[string]any{"event": "data", "body": "to alice"})
	x.fails(map[string]any{"kind": "data", "body": "nope"}, "Cannot send data when not in a room.")

	// Block and unblock.
	a.ok(map[string]any{"kind": "block", "whom": "bob"}, nil)
	b.expectEvent(map[string]any{"event": "blocked", "by": "alice"})
	a.ok(map[string]any{"kind": "unblock", "whom": "bob"}, nil)
	b.expectEvent(map[string]any{"event": "unblocked", "by": "alice"})
	x.fails(map[string]any{"kind": "block", "whom": "bob"}, "Cannot block when not in a room.")
	x.fails(map[string]any{"kind": "unblock", "whom": "bob"}, "Cannot unblock when not in a room.")

	// Limits: room of 3 publishers' users, 4 on the server.
	cp := attach(t, c)
	cp.ok(join("r1", "carol", pubSub, ""), nil)
	a.expectEvent(map[string]any{"event": "join", "user_id": "carol", "room_id": "r1"})
	b.expectEvent(map[string]any{"event": "join", "user_id": "carol", "room_id": "r1"})
	attach(t, c).fails(join("r1", "dave", pubSub, ""), "Room is full.")
	attach(t, c).ok(join("r2", "dave", pubSub, ""), nil)
	attach(t, c).fails(join("r3", "erin", pubSub, ""), "Server is full.")
	// Subscribers are not limited.
	attach(t, c).ok(join("r1", "frank", map[string]any{"notifications": false}, ""), nil)

	// Malformed input: an error, and the handle can still join afterwards.
	bad := attach(t, c)
	for _, tc := range []struct {
		body any
		want string
	}{
		{map[string]any{"room_id": "r1"}, `Malformed message: missing "kind".`},
		{map[string]any{"kind": 7}, `Malformed message: "kind" must be a string.`},
		{map[string]any{"kind": "dance"}, `Unknown message kind "dance".`},
		{map[string]any{"kind": "join", "room_id": 5, "user_id": "u"}, `Malformed join: "room_id" must be a string.`},
		{map[string]any{"kind": "join", "room_id": "r1", "user_id": strings.Repeat("u", 300)}, `Malformed join: "user_id" is longer than 256 bytes.`},
		{map[string]any{"kind": "join", "room_id": "r1", "user_id": "u", "subscribe": "all"}, `Malformed join: "subscribe" must be an object.`},
		{map[string]any{"kind": "data"}, `Malformed data: missing "body".`},
	} {
		bad.fails(tc.body, tc.want)
	}
	// Janus's core refuses unparseable SDP itself (error 465) before
	// the plugin sees it; either way nothing may break.
	if ev, err := bad.h.Message(map[string]any{}, map[string]any{"type": "offer", "sdp": "v=0 garbage"}); err == nil {
		var r peer.Reply
		_ = ev.Decode(&r)
		if r.Success || r.Error == nil || !strings.HasPrefix(r.Error.Msg, "Invalid SDP offer") {
			t.Fatalf("garbage SDP: %s", ev.Data)
		}
	}
	bad.ok(join("r2", "grace", nil, ""), nil)

	// Leave: only when a user's last handle goes.
	if err := b.h.Detach(); err != nil {
		t.Fatal(err)
	}
	a.quiet() // bob still has his subscriber handle
	if err := bs.h.Detach(); err != nil {
		t.Fatal(err)
	}
	a.expectEvent(map[string]any{"event": "leave", "user_id": "bob", "room_id": "r1"})

	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}

// TestAuthAndKick checks JWT handling and kick with a real key file.
func TestAuthAndKick(t *testing.T) {
	requireE2E(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "public.der")
	if err := os.WriteFile(keyPath, x509.MarshalPKCS1PublicKey(&key.PublicKey), 0o644); err != nil {
		t.Fatal(err)
	}
	sign := func(claims jwt.MapClaims, method jwt.SigningMethod, k any) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	good := sign(jwt.MapClaims{"join_hub": true, "exp": exp}, jwt.SigningMethodRS512, key)
	onlyR9 := sign(jwt.MapClaims{"join_hub": true, "room_ids": []string{"r9"}, "exp": exp}, jwt.SigningMethodRS512, key)
	noJoin := sign(jwt.MapClaims{"join_hub": false, "exp": exp}, jwt.SigningMethodRS512, key)
	expired := sign(jwt.MapClaims{"join_hub": true, "exp": time.Now().Add(-time.Minute).Unix()}, jwt.SigningMethodRS512, key)
	rs256 := sign(jwt.MapClaims{"join_hub": true, "exp": exp}, jwt.SigningMethodRS256, key)
	kicker := sign(jwt.MapClaims{"join_hub": true, "kick_users": true, "exp": exp}, jwt.SigningMethodRS512, key)

	s := startJanus(t, fmt.Sprintf("[general]\nauth_key = %q\n", keyPath))
	c := s.Connect(t)
	p := attach(t, c)
	p.fails(join("r1", "u", pubSub, ""), "Rejecting anonymous join!")
	p.fails(join("r1", "u", pubSub, "not.a.jwt"), "Rejecting join with invalid token!")
	p.fails(join("r1", "u", pubSub, expired), "Rejecting join with invalid token!")
	p.fails(join("r1", "u", pubSub, rs256), "Rejecting join with invalid token!")
	p.fails(join("r1", "u", pubSub, noJoin), "Rejecting join without permission!")
	p.fails(join("r1", "u", pubSub, onlyR9), "Rejecting join without permission!")
	p.ok(join("r1", "u", pubSub, good), nil)
	attach(t, c).ok(join("r9", "v", pubSub, onlyR9), nil)

	// The victim has a publisher and a subscriber handle on its own
	// Janus session.
	vc := s.Connect(t)
	vp := attach(t, vc)
	vp.ok(join("r1", "victim", pubSub, good), nil)
	p.expectEvent(map[string]any{"event": "join", "user_id": "victim", "room_id": "r1"})
	vs := attach(t, vc)
	vs.ok(join("r1", "victim", nil, good), nil)

	// Kick without permission: success, nothing happens.
	p.ok(map[string]any{"kind": "kick", "room_id": "r1", "user_id": "victim", "token": good}, nil)
	p.quiet()
	// Kick with kick_users: both of the victim's handles go, the room
	// hears the leave.
	p.ok(map[string]any{"kind": "kick", "room_id": "r1", "user_id": "victim", "token": kicker}, nil)
	p.expectEvent(map[string]any{"event": "leave", "user_id": "victim", "room_id": "r1"})
	for _, h := range []*handle{vp, vs} {
		select {
		case <-closedOrHangup(h.h):
		case <-time.After(5 * time.Second):
			t.Fatalf("kicked handle %d still attached", h.h.ID)
		}
	}
	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}

// closedOrHangup fires when Janus detaches the handle.
func closedOrHangup(h *janus.Handle) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sig := range h.Signals() {
			if sig.Type == "detached" {
				return
			}
		}
	}()
	return done
}
