package soak

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// sfu is janus.plugin.sfu with auth on: every join carries a token for its
// user, and a kicker session holds a kick_users token.
type sfu struct {
	key     *rsa.PrivateKey
	kickerC *janus.Client
	kicker  *janus.Handle
	kickTok string
	perRoom int
	noKick  bool // SFU_SOAK_NO_KICK=1: compare with the baseline cycle for cycle
}

// newSFU writes an RSA public key (PKCS#1 DER) for auth_key and returns
// the flavor and the plugin cfg.
func newSFU(t *testing.T, perRoom int) (*sfu, string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "public.der")
	if err := os.WriteFile(path, x509.MarshalPKCS1PublicKey(&key.PublicKey), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &sfu{key: key, perRoom: perRoom}
	f.kickTok = f.sign(jwt.MapClaims{"join_hub": true, "kick_users": true})
	return f, fmt.Sprintf("[general]\nauth_key = %q\n", path)
}

func (f *sfu) sign(claims jwt.MapClaims) string {
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS512, claims).SignedString(f.key)
	if err != nil {
		panic(err)
	}
	return tok
}

// token is a join token bound to user.
func (f *sfu) token(user string) string {
	return f.sign(jwt.MapClaims{"join_hub": true, "user_id": user})
}

// connectKicker opens the kicker's session (kept alive; closed with t).
func (f *sfu) connectKicker(t *testing.T, s *janus.Server) {
	c := s.Connect(t)
	c.SetKeepalive(time.Second)
	h, err := c.Attach(janus.PluginPackage)
	if err != nil {
		t.Fatal(err)
	}
	f.kickerC, f.kicker = c, h
}

func (f *sfu) plugin() string           { return janus.PluginPackage }
func (f *sfu) roomName(slot int) string { return fmt.Sprintf("soak-%d", slot/f.perRoom) }

func (f *sfu) publish(h *janus.Handle, pc *webrtc.PeerConnection, room, user string) error {
	_, err := peer.Publish(h, pc, peer.Join(room, user, peer.PublisherSubscribe(), f.token(user)))
	return err
}

func (f *sfu) joinOnly(h *janus.Handle, room, user string, offer peer.JSEP) error {
	if _, err := peer.Message(h, peer.Join(room, user, peer.PublisherSubscribe(), f.token(user)), nil); err != nil {
		return err
	}
	_, err := peer.Message(h, map[string]any{}, offer)
	return err
}

func (f *sfu) subscribeJoin(h *janus.Handle, room, user, other string) error {
	_, err := peer.Message(h, peer.Join(room, user, peer.MediaSubscribe(other), f.token(user)), nil)
	return err
}

func (f *sfu) subscribe(h *janus.Handle, pc *webrtc.PeerConnection, room, user, other string) error {
	_, err := peer.Subscribe(h, pc, peer.Join(room, user, peer.MediaSubscribe(other), f.token(user)), map[string]any{})
	return err
}

func (f *sfu) canKick() bool { return !f.noKick }

func (f *sfu) kick(room, user string) error {
	_, err := peer.Message(f.kicker, map[string]any{"kind": "kick", "room_id": room, "user_id": user, "token": f.kickTok}, nil)
	return err
}

// videoroom is Janus's own videoroom under the same churn: rooms created
// up front, feeds numbered by user, no kick (its kick is a moderator
// request of another shape; the variant is skipped).
type videoroom struct {
	perRoom int
	mu      sync.Mutex
	feeds   map[string]uint64
	next    uint64
}

const videoroomPackage = "janus.plugin.videoroom"

func (v *videoroom) plugin() string           { return videoroomPackage }
func (v *videoroom) roomName(slot int) string { return fmt.Sprint(1000 + slot/v.perRoom) }

func (v *videoroom) feed(user string) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if id, ok := v.feeds[user]; ok {
		return id
	}
	v.next++
	v.feeds[user] = v.next
	return v.next
}

func roomID(room string) uint64 {
	var id uint64
	fmt.Sscan(room, &id)
	return id
}

// createRooms creates the rooms of clients slots on a session of its own.
func (v *videoroom) createRooms(t *testing.T, s *janus.Server, clients int) {
	c := s.Connect(t)
	h, err := c.Attach(videoroomPackage)
	if err != nil {
		t.Fatal(err)
	}
	for slot := 0; slot < clients; slot += v.perRoom {
		if _, err := peer.Message(h, map[string]any{"request": "create", "room": roomID(v.roomName(slot)), "publishers": 100,
			"audiocodec": "opus", "videocodec": "h264", "h264_profile": "42e01f", "notify_joining": false, "bitrate": 0}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
}

func (v *videoroom) join(h *janus.Handle, room, user string) error {
	_, err := peer.Message(h, map[string]any{"request": "join", "ptype": "publisher", "room": roomID(room), "id": v.feed(user), "display": user}, nil)
	return err
}

func (v *videoroom) publish(h *janus.Handle, pc *webrtc.PeerConnection, room, user string) error {
	if err := v.join(h, room, user); err != nil {
		return err
	}
	if _, err := peer.Negotiate(h, pc, map[string]any{"request": "publish"}); err != nil {
		return err
	}
	return peer.WaitSignal(h, "webrtcup", peer.SignalTimeout)
}

func (v *videoroom) joinOnly(h *janus.Handle, room, user string, offer peer.JSEP) error {
	if err := v.join(h, room, user); err != nil {
		return err
	}
	_, err := peer.Message(h, map[string]any{"request": "publish"}, offer)
	return err
}

func (v *videoroom) subscribeBody(room, other string) map[string]any {
	return map[string]any{"request": "join", "ptype": "subscriber", "room": roomID(room), "feed": v.feed(other)}
}

func (v *videoroom) subscribeJoin(h *janus.Handle, room, user, other string) error {
	_, err := peer.Message(h, v.subscribeBody(room, other), nil)
	return err
}

func (v *videoroom) subscribe(h *janus.Handle, pc *webrtc.PeerConnection, room, user, other string) error {
	_, err := peer.Subscribe(h, pc, v.subscribeBody(room, other), map[string]any{"request": "start"})
	return err
}

func (v *videoroom) kick(room, user string) error { return fmt.Errorf("videoroom: no kick") }
func (v *videoroom) canKick() bool                { return false }
