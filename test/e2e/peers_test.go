package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// A user as naf-janus-adapter makes one: a publisher PeerConnection that
// sends audio, video and two data channels, plus one subscriber
// PeerConnection per other user whose media it receives.
type user struct {
	t    *testing.T
	name string
	room string
	c    *janus.Client

	pub      *peer
	pubPC    *webrtc.PeerConnection
	audio    *webrtc.TrackLocalStaticRTP
	video    *webrtc.TrackLocalStaticRTP
	videoTx  *webrtc.RTPSender
	channels map[string]*webrtc.DataChannel

	plisIn atomic.Int64 // PLI/FIR arriving at this publisher

	mu       sync.Mutex
	dataIn   map[string][]string // label → messages received on our publisher PC
	subs     map[string]*subscription
	sequence uint16
}

// subscription is one subscriber PeerConnection receiving another user.
type subscription struct {
	from string
	p    *peer
	pc   *webrtc.PeerConnection

	mu        sync.Mutex
	received  map[string][]rtp.Packet // "audio"/"video" → packets
	videoSSRC webrtc.SSRC
}

func newUser(t *testing.T, s *janus.Server, room, name string) *user {
	t.Helper()
	u := &user{t: t, name: name, room: room, c: s.Connect(t),
		channels: map[string]*webrtc.DataChannel{}, dataIn: map[string][]string{}, subs: map[string]*subscription{}}
	u.pub = attach(t, u.c)
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	u.pubPC = pc

	// Channels first, as the adapter does: m=application becomes m-line 0.
	ordered := false
	zero := uint16(0)
	for label, init := range map[string]*webrtc.DataChannelInit{
		"reliable":   nil,
		"unreliable": {Ordered: &ordered, MaxRetransmits: &zero},
	} {
		dc, err := pc.CreateDataChannel(label, init)
		if err != nil {
			t.Fatal(err)
		}
		u.channels[label] = dc
	}
	// Janus relays other publishers' data to us on channels it opens.
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) { u.gotData(dc.Label(), string(m.Data)) })
	})
	for _, dc := range u.channels {
		dc := dc
		dc.OnMessage(func(m webrtc.DataChannelMessage) { u.gotData(dc.Label(), string(m.Data)) })
	}

	u.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", name)
	if err != nil {
		t.Fatal(err)
	}
	u.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(u.audio); err != nil {
		t.Fatal(err)
	}
	if u.videoTx, err = pc.AddTrack(u.video); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			pkts, _, err := u.videoTx.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					u.plisIn.Add(1)
				}
			}
		}
	}()

	u.negotiate(u.pub, pc)
	u.pub.waitSignal("webrtcup")
	resp, _ := u.pub.ok(join(room, name, pubSub, ""), nil)
	users(t, resp, room)
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

// negotiate sends our offer (with every candidate, no trickle) and applies
// the plugin's answer.
func (u *user) negotiate(p *peer, pc *webrtc.PeerConnection) {
	u.t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		u.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		u.t.Fatal(err)
	}
	<-gathered
	_, ev := p.ok(map[string]any{}, map[string]any{"type": "offer", "sdp": pc.LocalDescription().SDP})
	typ, sdp := jsepOf(u.t, ev)
	if typ != "answer" {
		u.t.Fatalf("offer answered with %q", typ)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		u.t.Fatalf("pion refuses the plugin's answer: %v\n%s", err, sdp)
	}
}

// subscribe opens a subscriber handle on other's media.
func (u *user) subscribe(other *user) *subscription {
	u.t.Helper()
	sub := &subscription{from: other.name, p: attach(u.t, u.c), received: map[string][]rtp.Packet{}}
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		u.t.Fatal(err)
	}
	u.t.Cleanup(func() { pc.Close() })
	sub.pc = pc
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
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
	resp, ev := sub.p.ok(join(u.room, u.name, map[string]any{"media": other.name}, ""), nil)
	users(u.t, resp, u.room)
	sub.answer(u.t, ev)
	sub.p.waitSignal("webrtcup")
	u.mu.Lock()
	u.subs[other.name] = sub
	u.mu.Unlock()
	return sub
}

// answer applies an offer from the plugin and sends our answer.
func (sub *subscription) answer(t *testing.T, ev janus.PluginEvent) {
	t.Helper()
	typ, offer := jsepOf(t, ev)
	if typ != "offer" {
		t.Fatalf("subscriber got %q", typ)
	}
	if err := sub.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatalf("pion refuses the subscriber offer: %v\n%s", err, offer)
	}
	ans, err := sub.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(sub.pc)
	if err := sub.pc.SetLocalDescription(ans); err != nil {
		t.Fatal(err)
	}
	<-gathered
	sub.p.ok(map[string]any{}, map[string]any{"type": "answer", "sdp": sub.pc.LocalDescription().SDP})
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
	for _, tr := range []*webrtc.TrackLocalStaticRTP{u.audio, u.video} {
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960, Marker: true},
			Payload: append([]byte{0x41}, tag...)}
		if err := tr.WriteRTP(pkt); err != nil {
			u.t.Fatalf("write rtp: %v", err)
		}
	}
	return tag
}

func (p *peer) waitSignal(kind string) {
	p.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case s, ok := <-p.h.Signals():
			if !ok {
				p.t.Fatalf("handle closed waiting for %s", kind)
			}
			if s.Type == kind {
				return
			}
		case <-deadline:
			p.t.Fatalf("no %s within 20 s", kind)
		}
	}
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

func adminRequest(t *testing.T, s *janus.Server, body map[string]any) map[string]any {
	t.Helper()
	req := map[string]any{"janus": "message_plugin", "plugin": janus.PluginPackage, "transaction": "t", "admin_secret": "janusoverlord", "request": body}
	b, _ := json.Marshal(req)
	resp, err := s.HTTPClient().Post(s.AdminURL, "application/json", bytesReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Janus    string         `json:"janus"`
		Response map[string]any `json:"response"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Janus != "success" {
		t.Fatalf("admin request: %v", out)
	}
	return out.Response
}

// queryHandle returns the plugin's query_session answer for a handle.
func queryHandle(t *testing.T, s *janus.Server, c *janus.Client, h *janus.Handle) map[string]any {
	t.Helper()
	req := map[string]any{"janus": "handle_info", "transaction": "q", "admin_secret": "janusoverlord",
		"session_id": c.SessionID(), "handle_id": h.ID}
	b, _ := json.Marshal(req)
	url := fmt.Sprintf("%s/%d/%d", s.AdminURL, c.SessionID(), h.ID)
	resp, err := s.HTTPClient().Post(url, "application/json", bytesReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Info struct {
			PluginSpecific map[string]any `json:"plugin_specific"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Info.PluginSpecific == nil {
		t.Fatalf("query_handle: %v: %s", err, raw)
	}
	return out.Info.PluginSpecific
}
