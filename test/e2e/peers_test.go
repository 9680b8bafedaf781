package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// pionAPI makes the tests' PeerConnections: browser-like (pion's default
// interceptors), ICE on the namespace's d0 when there is one.
var pionAPI = sync.OnceValues(func() (*peer.API, error) {
	cfg := peer.Config{Interceptors: true}
	if Netns() != "" {
		cfg.Interface = peer.NetnsInterface
	}
	return peer.NewAPI(cfg)
})

// newPC makes a PeerConnection closed when t ends.
func newPC(t *testing.T) *webrtc.PeerConnection {
	t.Helper()
	api, err := pionAPI()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPC()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// A user as naf-janus-adapter makes one: a publisher PeerConnection that
// sends audio, video and two data channels, plus one subscriber
// PeerConnection per other user whose media it receives.
type user struct {
	t    *testing.T
	name string
	room string
	c    *janus.Client

	pub *handle
	*peer.Publisher

	mu       sync.Mutex
	dataIn   map[string][]string // label → messages received on our publisher PC
	subs     map[string]*subscription
	sequence uint16
}

// subscription is one subscriber PeerConnection receiving another user.
type subscription struct {
	from string
	p    *handle
	pc   *webrtc.PeerConnection

	mu        sync.Mutex
	received  map[string][]rtp.Packet // "audio"/"video" → packets
	videoSSRC webrtc.SSRC
}

func newUser(t *testing.T, s *janus.Server, room, name string) *user {
	t.Helper()
	u := &user{t: t, name: name, room: room, c: s.Connect(t), dataIn: map[string][]string{}, subs: map[string]*subscription{}}
	u.pub = attach(t, u.c)
	api, err := pionAPI()
	if err != nil {
		t.Fatal(err)
	}
	if u.Publisher, err = api.NewPublisher(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	// Janus relays other publishers' data to us on channels it opens.
	u.PC.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) { u.gotData(dc.Label(), string(m.Data)) })
	})
	for _, dc := range u.Channels {
		dc.OnMessage(func(m webrtc.DataChannelMessage) { u.gotData(dc.Label(), string(m.Data)) })
	}
	r, err := peer.Publish(u.pub.h, u.PC, join(room, name, pubSub, ""))
	if err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	users(t, r.Reply.Response, room)
	return u
}

func (u *user) gotData(label, msg string) {
	u.mu.Lock()
	u.dataIn[label] = append(u.dataIn[label], msg)
	u.mu.Unlock()
}

func (u *user) data(label string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.dataIn[label]...)
}

// renegotiate sends a new offer of the publisher and applies the answer.
func (u *user) renegotiate() {
	u.t.Helper()
	if _, err := peer.Negotiate(u.pub.h, u.PC, map[string]any{}); err != nil {
		u.t.Fatalf("renegotiate %s: %v", u.name, err)
	}
}

// subscribe opens a subscriber handle on other's media.
func (u *user) subscribe(other *user) *subscription {
	u.t.Helper()
	sub := &subscription{from: other.name, p: attach(u.t, u.c), pc: newPC(u.t), received: map[string][]rtp.Packet{}}
	sub.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		kind := tr.Kind().String()
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			sub.mu.Lock()
			sub.videoSSRC = tr.SSRC()
			sub.mu.Unlock()
		}
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			sub.mu.Lock()
			sub.received[kind] = append(sub.received[kind], *pkt)
			sub.mu.Unlock()
		}
	})
	r, err := peer.Subscribe(sub.p.h, sub.pc, join(u.room, u.name, peer.MediaSubscribe(other.name), ""), map[string]any{})
	if err != nil {
		u.t.Fatalf("%s subscribes to %s: %v", u.name, other.name, err)
	}
	users(u.t, r.Reply.Response, u.room)
	u.mu.Lock()
	u.subs[other.name] = sub
	u.mu.Unlock()
	return sub
}

// answer applies an offer the plugin pushed and sends our answer.
func (sub *subscription) answer(t *testing.T, ev janus.PluginEvent) {
	t.Helper()
	jsep, err := peer.AcceptOffer(sub.pc, ev)
	if err != nil {
		t.Fatal(err)
	}
	sub.p.ok(map[string]any{}, jsep)
}

// packets returns what arrived so far for a kind.
func (sub *subscription) packets(kind string) []rtp.Packet {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return append([]rtp.Packet(nil), sub.received[kind]...)
}

// sendPLI asks, as a browser would, for a keyframe: a receiver report with
// the PLI in one compound packet (Janus 0.14 drops a lone PLI from a peer
// that sends no media before any plugin sees it).
func (sub *subscription) sendPLI() error {
	sub.mu.Lock()
	ssrc := sub.videoSSRC
	sub.mu.Unlock()
	if ssrc == 0 {
		return errors.New("no video track yet")
	}
	return sub.pc.WriteRTCP([]rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: uint32(ssrc)}}},
		&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: uint32(ssrc)},
	})
}

// sendMedia writes one audio and one video packet with recognisable
// payloads and returns the tag it used.
func (u *user) sendMedia() string {
	u.mu.Lock()
	u.sequence++
	seq := u.sequence
	u.mu.Unlock()
	tag := fmt.Sprintf("%s#%d", u.name, seq)
	for _, tr := range []*webrtc.TrackLocalStaticRTP{u.Audio, u.Video} {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960, Marker: true},
			Payload: append([]byte{0x41}, tag...)}
		if err := tr.WriteRTP(pkt); err != nil {
			u.t.Fatalf("write rtp: %v", err)
		}
	}
	return tag
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

func hasPayload(pkts []rtp.Packet, tag string) (rtp.Packet, bool) {
	for _, p := range pkts {
		if len(p.Payload) > 1 && string(p.Payload[1:]) == tag {
			return p, true
		}
	}
	return rtp.Packet{}, false
}

// adminRequest sends body to the plugin through the admin API and returns
// its response.
func adminRequest(t *testing.T, s *janus.Server, body map[string]any) map[string]any {
	t.Helper()
	return object(t)(s.MessagePlugin(body))
}

// queryHandle returns the plugin's query_session answer for a handle.
func queryHandle(t *testing.T, s *janus.Server, c *janus.Client, h *janus.Handle) map[string]any {
	t.Helper()
	return object(t)(s.HandleInfo(c.SessionID(), h.ID))
}

// object decodes an admin answer as a JSON object, failing t on an error.
func object(t *testing.T) func(json.RawMessage, error) map[string]any {
	return func(raw json.RawMessage, err error) map[string]any {
		t.Helper()
		var out map[string]any
		if err == nil {
			err = json.Unmarshal(raw, &out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}
