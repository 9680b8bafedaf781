package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// The hardening rules of docs/security.md through real Janus: caps per
// identity, token scopes, message limits and reconnects.

func TestHardeningCaps(t *testing.T) {
	s := startJanus(t, "[general]\nmax_room_size = 2\nmax_publishers_per_user = 2\nmax_rooms_per_user = 2\nsubscriber_slack = 1\n")
	c := s.Connect(t)
	// Two publisher handles per user and room (a reconnect overlap), not 3.
	attach(t, c).ok(join("r1", "u", pubSub, ""), nil)
	attach(t, c).ok(join("r1", "u", pubSub, ""), nil)
	attach(t, c).fails(join("r1", "u", pubSub, ""), "Too many publisher handles for this user in this room.")
	attach(t, c).ok(join("r1", "v", pubSub, ""), nil)
	attach(t, c).fails(join("r1", "w", pubSub, ""), "Room is full.")
	// Rooms per user.
	attach(t, c).ok(join("r2", "u", pubSub, ""), nil)
	attach(t, c).fails(join("r3", "u", pubSub, ""), "This user is in too many rooms.")
	// Subscribers bounded by what there is to subscribe to (3 publisher
	// handles in r1, slack 1).
	for i := 0; i < 4; i++ {
		attach(t, c).ok(join("r1", "s", map[string]any{"notifications": true}, ""), nil)
	}
	attach(t, c).fails(join("r1", "s", map[string]any{"notifications": true}, ""), "Too many subscriber handles for this user in this room.")
	// subscribe.media only finds publishers of the join's room.
	pub := attach(t, c)
	pub.ok(map[string]any{}, map[string]any{"type": "offer", "sdp": pionOffer(t)})
	pub.ok(join("r2", "m", pubSub, ""), nil)
	attach(t, c).fails(join("r1", "eve", map[string]any{"media": "m"}, ""), "Can't subscribe to a nonexistent publisher.")
	if _, ev := attach(t, c).ok(join("r2", "bob", map[string]any{"media": "m"}, ""), nil); ev.Jsep == nil {
		t.Fatal("subscription in the publisher's room got no offer")
	}
	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}

func TestHardeningTokenScopes(t *testing.T) {
	requireE2E(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "public.der")
	if err := os.WriteFile(keyPath, x509.MarshalPKCS1PublicKey(&key.PublicKey), 0o644); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	sign := func(claims jwt.MapClaims) string {
		claims["exp"] = exp
		tok, err := jwt.NewWithClaims(jwt.SigningMethodRS512, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	anyTok := sign(jwt.MapClaims{"join_hub": true})
	asVictim := sign(jwt.MapClaims{"join_hub": true, "user_id": "victim"})
	asEve := sign(jwt.MapClaims{"join_hub": true, "user_id": "eve"})
	kickX := sign(jwt.MapClaims{"kick_users": true, "room_ids": []string{"x"}})

	s := startJanus(t, fmt.Sprintf("[general]\nauth_key = %q\n", keyPath))
	obs := attach(t, s.Connect(t))
	obs.ok(join("x", "obs", pubSub, anyTok), nil)
	vc := s.Connect(t)
	vx := attach(t, vc)
	vx.ok(join("x", "victim", pubSub, asVictim), nil)
	obs.expectEvent(map[string]any{"event": "join", "user_id": "victim", "room_id": "x"})
	vy := attach(t, vc)
	vy.ok(join("y", "victim", pubSub, anyTok), nil)

	// A token bound to "eve" cannot join as the victim.
	eve := attach(t, s.Connect(t))
	eve.fails(join("x", "victim", pubSub, asEve), "Rejecting join without permission!")
	// A kick token for room x does nothing in room y, and in room x ends
	// only the victim's handle there.
	k := attach(t, s.Connect(t))
	k.ok(map[string]any{"kind": "kick", "room_id": "y", "user_id": "victim", "token": kickX}, nil)
	k.ok(map[string]any{"kind": "kick", "room_id": "x", "user_id": "victim", "token": kickX}, nil)
	select {
	case <-closedOrHangup(vx.h):
	case <-time.After(5 * time.Second):
		t.Fatal("kicked handle in room x still attached")
	}
	// The victim's other user_id handle (room y) stays: the room x
	// observer hears no leave, since the user still has a handle.
	vy.ok(map[string]any{"kind": "data", "body": "still here"}, nil)
	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}

func TestHardeningMessageLimits(t *testing.T) {
	s := startJanus(t, "[general]\nmessage_threads = 1\nmax_inflight_messages = 1\n")
	c := s.Connect(t)
	p := attach(t, c)
	p.ok(join("r", "u", pubSub, ""), nil)
	// A body over the limit is refused before it is copied.
	big := strings.Repeat("x", 1<<20+1)
	r, ev := p.send(map[string]any{"kind": "data", "body": big}, nil)
	if r.Success || r.Error == nil || !strings.Contains(r.Error.Msg, "larger than") {
		t.Fatalf("oversized message answered %.200s", ev.Data)
	}
	// A flood from one handle gets one answer per message, handled or busy
	// (which one depends on how fast Janus hands them over; the unit tests
	// force the busy path), and the handle works normally afterwards.
	flood := map[string]any{"kind": "data", "whom": "nobody", "body": strings.Repeat("y", 200<<10)}
	var wg sync.WaitGroup
	var busy, ok atomic.Int32
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, err := p.h.Message(flood, nil)
			if err != nil {
				t.Errorf("message: %v", err)
				return
			}
			var r reply
			_ = ev.Decode(&r)
			switch {
			case r.Success:
				ok.Add(1)
			case r.Error != nil && strings.Contains(r.Error.Msg, "Too many messages in flight"):
				busy.Add(1)
			default:
				t.Errorf("unexpected answer %s", ev.Data)
			}
		}()
	}
	wg.Wait()
	t.Logf("flood of 40 messages: %d answered, %d busy", ok.Load(), busy.Load())
	if ok.Load()+busy.Load() != 40 {
		t.Errorf("flood: %d answered, %d busy; want 40 answers", ok.Load(), busy.Load())
	}
	p.ok(map[string]any{"kind": "data", "body": "after"}, nil)
	if strings.Contains(s.Log(), big[:64]) {
		t.Error("a client's message body reached the log")
	}
	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}

// cuttable is a connection whose writes can be silently dropped: the
// network under a client going away without a FIN, as Janus sees it.
type cuttable struct {
	net.Conn
	cut atomic.Bool
}

func (c *cuttable) Write(b []byte) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// dialCuttable connects a client whose transport the test can drop.
func dialCuttable(t *testing.T, s *janus.Server) (*janus.Client, *cuttable) {
	t.Helper()
	d := *s.Dialer()
	var conn *cuttable
	dial := d.NetDialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn = &cuttable{Conn: c}
		return conn, nil
	}
	c, err := janus.DialWith(s.WSURL, &d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Conn.Close() })
	if err := c.CreateSession(); err != nil {
		t.Fatal(err)
	}
	return c, conn
}

// A client that loses its network reconnects with the secret its first
// join got: its stale handle goes at once and the room sees one leave and
// one join, long before Janus's session timeout would have ended it.
func TestHardeningReconnect(t *testing.T) {
	s := startJanus(t, "[general]\n")
	obs := attach(t, s.Connect(t))
	obs.ok(join("r", "obs", pubSub, ""), nil)

	c1, conn := dialCuttable(t, s)
	old := attach(t, c1)
	old.ok(map[string]any{}, map[string]any{"type": "offer", "sdp": pionOffer(t)})
	resp, _ := old.ok(join("r", "u", pubSub, ""), nil)
	var first struct {
		Secret string `json:"reconnect_secret"`
	}
	if err := json.Unmarshal(resp, &first); err != nil || first.Secret == "" {
		t.Fatalf("first join: no reconnect_secret in %s", resp)
	}
	obs.expectEvent(map[string]any{"event": "join", "user_id": "u", "room_id": "r"})

	conn.cut.Store(true) // the network goes; Janus notices nothing yet

	// Nobody else can replace u.
	thief := attach(t, s.Connect(t))
	thief.fails(map[string]any{"kind": "join", "room_id": "r", "user_id": "u", "reconnect_secret": strings.Repeat("0", 32),
		"subscribe": pubSub}, "Invalid reconnect secret.")
	obs.quiet()

	// The client comes back on a new connection and session.
	start := time.Now()
	fresh := attach(t, s.Connect(t))
	resp, _ = fresh.ok(map[string]any{"kind": "join", "room_id": "r", "user_id": "u", "reconnect_secret": first.Secret,
		"subscribe": pubSub}, nil)
	if u := users(t, resp, "r"); strings.Join(u, ",") != "obs" {
		t.Errorf("reconnecting join sees users %v, want [obs] (no ghost of itself)", u)
	}
	obs.expectEvent(map[string]any{"event": "leave", "user_id": "u", "room_id": "r"})
	obs.expectEvent(map[string]any{"event": "join", "user_id": "u", "room_id": "r"})
	t.Logf("stale handle replaced %v after the reconnect", time.Since(start))
	obs.quiet()
	// A late joiner sees u once.
	resp, _ = attach(t, s.Connect(t)).ok(join("r", "late", pubSub, ""), nil)
	if u := users(t, resp, "r"); strings.Join(u, ",") != "obs,u" {
		t.Errorf("late joiner sees %v, want [obs u]", u)
	}
	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}
