package load

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// Media shape of one user, as a browser in a networked-aframe room sends:
// Opus 50 packets/s of ~100 B, H.264 ~500 kbit/s as 52 packets/s of 1200 B.
const (
	tick         = 20 * time.Millisecond // one audio and one video packet per tick
	extraVideoN  = 25                    // one more video packet every 25 ticks: 52 pps
	audioPayload = 100
	videoPayload = 1200
	kindAudio    = 0
	kindVideo    = 1
)

// Modes: our plugin, or Janus's videoroom with the same topology.
const (
	modeSFU       = "sfu"
	modeVideoroom = "videoroom"
)

const videoroomPackage = "janus.plugin.videoroom"

// pubTrack is one publisher track's sequence counter and the measurement
// window, in payload sequence numbers: subscribers count the packets whose
// sequence falls in [winStart, winEnd].
type pubTrack struct {
	seq      atomic.Uint32 // last sequence sent (first is 1)
	winStart atomic.Uint32 // 0: no window yet
	winEnd   atomic.Uint32
}

// lUser is one simulated user: a session (WebSocket) with a publisher
// handle and PeerConnection, and one subscriber handle + PeerConnection per
// other user of the room.
type lUser struct {
	idx, room int
	name      string
	mode      string
	c         *janus.Client
	pub       *janus.Handle
	pc        *webrtc.PeerConnection
	audio     *webrtc.TrackLocalStaticRTP
	video     *webrtc.TrackLocalStaticRTP
	tracks    [2]pubTrack
	feed      uint64 // videoroom publisher id
	stop      chan struct{}
	sendDone  chan struct{}

	mu   sync.Mutex
	subs []*lSub
}

// lSub is a subscription of one user to another's media.
type lSub struct {
	from *lUser
	h    *janus.Handle
	pc   *webrtc.PeerConnection
	recv [2]atomic.Uint64 // packets received in total
	win  [2]atomic.Uint64 // packets received whose sequence is in the window
}

// env is what every peer of a run shares.
type env struct {
	s    *janus.Server
	mode string
	api  *webrtc.API
	cert webrtc.Certificate

	mu      sync.Mutex
	pubJoin latencies
	subJoin latencies
}

func newEnv(s *janus.Server, mode string) (*env, error) {
	var m webrtc.MediaEngine
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	// Only the namespace's d0 (198.18.0.1), like Janus's ice_enforce_list.
	se.SetInterfaceFilter(func(name string) bool { return name == "d0" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// No interceptors: no NACK/RTX (loss stays visible), no TWCC, no RTCP
	// reports, so the generator does as little as possible per packet.
	// (NewAPI registers pion's default interceptors unless given a registry.)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(&m), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	cert, err := webrtc.GenerateCertificate(mustECDSA())
	if err != nil {
		return nil, err
	}
	return &env{s: s, mode: mode, api: api, cert: *cert}, nil
}

func mustECDSA() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func (e *env) newPC() (*webrtc.PeerConnection, error) {
	return e.api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{e.cert}})
}

func (e *env) plugin() string {
	if e.mode == modeVideoroom {
		return videoroomPackage
	}
	return janus.PluginPackage
}

// timedMessage sends a plugin message and returns its decoded reply, the
// event, and the time from request to response.
func timedMessage(h *janus.Handle, body, jsep any) (map[string]any, janus.PluginEvent, time.Duration, error) {
	t0 := time.Now()
	ev, err := h.Message(body, jsep)
	d := time.Since(t0)
	if err != nil {
		return nil, ev, d, err
	}
	var r map[string]any
	if err := ev.Decode(&r); err != nil {
		return nil, ev, d, err
	}
	// Our plugin: {"success":false,"error":{...}}; videoroom: {"error":...}.
	if ok, has := r["success"].(bool); has && !ok {
		return r, ev, d, fmt.Errorf("%v failed: %s", body, ev.Data)
	}
	if _, has := r["error"]; has {
		return r, ev, d, fmt.Errorf("%v failed: %s", body, ev.Data)
	}
	return r, ev, d, nil
}

func waitSignal(h *janus.Handle, kind string, d time.Duration) error {
	deadline := time.After(d)
	for {
		select {
		case s, ok := <-h.Signals():
			if !ok {
				return fmt.Errorf("handle %d closed waiting for %s", h.ID, kind)
			}
			if s.Type == kind {
				return nil
			}
			if s.Type == "hangup" {
				return fmt.Errorf("handle %d hung up (%s) waiting for %s", h.ID, s.Reason, kind)
			}
		case <-deadline:
			return fmt.Errorf("handle %d: no %s within %v", h.ID, kind, d)
		}
	}
}

func jsepSDP(ev janus.PluginEvent, want string) (string, error) {
	var j struct{ Type, SDP string }
	if err := ev.DecodeJsep(&j); err != nil {
		return "", err
	}
	if j.Type != want {
		return "", fmt.Errorf("jsep %q, want %q", j.Type, want)
	}
	return j.SDP, nil
}

// localSDP sets d as local description and waits for every candidate (no
// trickle, as the e2e tests).
func localSDP(pc *webrtc.PeerConnection, d webrtc.SessionDescription) (map[string]any, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		return nil, errors.New("ICE gathering timed out")
	}
	ld := pc.LocalDescription()
	return map[string]any{"type": ld.Type.String(), "sdp": ld.SDP}, nil
}

// setupPublisher connects user u: session, publisher handle, offer with
// two data channels, Opus and H.264, webrtcup, join; then starts sending.
func (e *env) setupPublisher(u *lUser) error {
	c, err := e.s.Dial()
	if err != nil {
		return err
	}
	u.c = c
	if err := c.CreateSession(); err != nil {
		return err
	}
	if u.pub, err = c.Attach(e.plugin()); err != nil {
		return err
	}
	if u.pc, err = e.newPC(); err != nil {
		return err
	}
	ordered, zero := false, uint16(0)
	if _, err := u.pc.CreateDataChannel("reliable", nil); err != nil {
		return err
	}
	if _, err := u.pc.CreateDataChannel("unreliable", &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &zero}); err != nil {
		return err
	}
	if u.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", u.name); err != nil {
		return err
	}
	if u.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", u.name); err != nil {
		return err
	}
	for _, tr := range []*webrtc.TrackLocalStaticRTP{u.audio, u.video} {
		snd, err := u.pc.AddTrack(tr)
		if err != nil {
			return err
		}
		go func() { // drain RTCP from Janus
			buf := make([]byte, 1500)
			for {
				if _, _, err := snd.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	offer, err := u.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	jsep, err := localSDP(u.pc, offer)
	if err != nil {
		return err
	}
	var lat time.Duration
	switch e.mode {
	case modeSFU:
		// As naf-janus-adapter: offer, then join once the PC is up.
		_, ev, _, err := timedMessage(u.pub, map[string]any{}, jsep)
		if err != nil {
			return err
		}
		if err := e.applyAnswer(u.pc, ev); err != nil {
			return err
		}
		if err := waitSignal(u.pub, "webrtcup", 20*time.Second); err != nil {
			return err
		}
		_, _, lat, err = timedMessage(u.pub, map[string]any{"kind": "join", "room_id": roomName(u.room), "user_id": u.name,
			"subscribe": map[string]any{"notifications": true, "data": true}}, nil)
		if err != nil {
			return err
		}
	case modeVideoroom:
		_, _, lat, err = timedMessage(u.pub, map[string]any{"request": "join", "ptype": "publisher",
			"room": videoroomID(u.room), "id": u.feed, "display": u.name}, nil)
		if err != nil {
			return err
		}
		_, ev, _, err := timedMessage(u.pub, map[string]any{"request": "publish"}, jsep)
		if err != nil {
			return err
		}
		if err := e.applyAnswer(u.pc, ev); err != nil {
			return err
		}
		if err := waitSignal(u.pub, "webrtcup", 20*time.Second); err != nil {
			return err
		}
	}
	e.mu.Lock()
	e.pubJoin = append(e.pubJoin, lat)
	e.mu.Unlock()
	u.stop = make(chan struct{})
	u.sendDone = make(chan struct{})
	go u.send()
	return nil
}

func (e *env) applyAnswer(pc *webrtc.PeerConnection, ev janus.PluginEvent) error {
	sdp, err := jsepSDP(ev, "answer")
	if err != nil {
		return err
	}
	return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

// subscribe makes u receive other's media on a new handle and PeerConnection.
func (e *env) subscribe(u, other *lUser) error {
	h, err := u.c.Attach(e.plugin())
	if err != nil {
		return err
	}
	sub := &lSub{from: other, h: h}
	if sub.pc, err = e.newPC(); err != nil {
		return err
	}
	sub.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		kind := kindAudio
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			kind = kindVideo
		}
		sub.read(tr, kind)
	})
	var ev janus.PluginEvent
	var lat time.Duration
	switch e.mode {
	case modeSFU:
		_, ev, lat, err = timedMessage(h, map[string]any{"kind": "join", "room_id": roomName(u.room), "user_id": u.name,
			"subscribe": map[string]any{"media": other.name}}, nil)
	case modeVideoroom:
		_, ev, lat, err = timedMessage(h, map[string]any{"request": "join", "ptype": "subscriber",
			"room": videoroomID(u.room), "feed": other.feed}, nil)
	}
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.subJoin = append(e.subJoin, lat)
	e.mu.Unlock()
	offer, err := jsepSDP(ev, "offer")
	if err != nil {
		return err
	}
	if err := sub.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	ans, err := sub.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	jsep, err := localSDP(sub.pc, ans)
	if err != nil {
		return err
	}
	body := map[string]any{}
	if e.mode == modeVideoroom {
		body = map[string]any{"request": "start"}
	}
	if _, _, _, err := timedMessage(h, body, jsep); err != nil {
		return err
	}
	if err := waitSignal(h, "webrtcup", 20*time.Second); err != nil {
		return err
	}
	u.mu.Lock()
	u.subs = append(u.subs, sub)
	u.mu.Unlock()
	return nil
}

// read counts one remote track's packets by the sequence number in their
// payload (bytes 1-4; byte 0 is the codec's header byte).
func (sub *lSub) read(tr *webrtc.TrackRemote, kind int) {
	buf := make([]byte, 1600)
	pt := &sub.from.tracks[kind]
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		off, ok := payloadOffset(buf[:n])
		if !ok || n < off+5 {
			continue
		}
		seq := binary.BigEndian.Uint32(buf[off+1 : off+5])
		sub.recv[kind].Add(1)
		if ws := pt.winStart.Load(); ws != 0 && seq >= ws && seq <= pt.winEnd.Load() {
			sub.win[kind].Add(1)
		}
	}
}

// payloadOffset parses an RTP header's length (CSRCs and extension).
func payloadOffset(b []byte) (int, bool) {
	if len(b) < 12 {
		return 0, false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return 0, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:off+4]))
	}
	return off, off <= len(b)
}

// send paces the user's media until stop: every 20 ms one Opus and one
// H.264 packet, plus one more H.264 packet every 25 ticks.
func (u *lUser) send() {
	defer close(u.sendDone)
	// Spread the publishers' phases over the tick.
	select {
	case <-u.stop:
		return
	case <-time.After(time.Duration(rand.Int64N(int64(tick)))):
	}
	apkt := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, audioPayload)}
	vpkt := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, videoPayload)}
	apkt.Payload[0] = 0xfc // Opus TOC: CELT FB 20 ms, one frame
	vpkt.Payload[0] = 0x41 // H.264 NAL header: non-IDR slice
	var aseq, vseq uint16 = uint16(rand.Uint32()), uint16(rand.Uint32())
	var ats, vts uint32 = rand.Uint32(), rand.Uint32()
	writeV := func(marker bool) {
		s := u.tracks[kindVideo].seq.Add(1)
		binary.BigEndian.PutUint32(vpkt.Payload[1:5], s)
		vseq++
		vpkt.SequenceNumber, vpkt.Timestamp, vpkt.Marker = vseq, vts, marker
		_ = u.video.WriteRTP(vpkt)
	}
	// Deadline pacing: tick n is due at start + n×20 ms; when the process
	// falls behind, due ticks are sent at once, so the offered rate stays
	// exact on average (a late generator shows as bursts, not as less load).
	start := time.Now()
	timer := time.NewTimer(tick)
	defer timer.Stop()
	for n := 1; ; n++ {
		if wait := time.Until(start.Add(time.Duration(n) * tick)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-u.stop:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-u.stop:
				return
			default:
			}
		}
		s := u.tracks[kindAudio].seq.Add(1)
		binary.BigEndian.PutUint32(apkt.Payload[1:5], s)
		aseq++
		ats += 960
		apkt.SequenceNumber, apkt.Timestamp = aseq, ats
		_ = u.audio.WriteRTP(apkt)
		vts += 1800 // a 50 fps frame per tick
		if n%extraVideoN == 0 {
			writeV(false)
		}
		writeV(true)
	}
}

// openWindow starts counting packets from the next one each track sends.
func (u *lUser) openWindow() {
	for k := range u.tracks {
		tr := &u.tracks[k]
		tr.winEnd.Store(math.MaxUint32)
		tr.winStart.Store(tr.seq.Load() + 1)
	}
}

// closeWindow ends the window at the last packet sent; returns the number
// of packets each track sent within it.
func (u *lUser) closeWindow() (sent [2]uint64) {
	for k := range u.tracks {
		tr := &u.tracks[k]
		end := tr.seq.Load()
		tr.winEnd.Store(end)
		if ws := tr.winStart.Load(); ws != 0 && end >= ws {
			sent[k] = uint64(end - ws + 1)
		}
	}
	return sent
}

func (u *lUser) close() {
	if u.stop != nil {
		close(u.stop)
		<-u.sendDone
		u.stop = nil
	}
	u.mu.Lock()
	subs := u.subs
	u.mu.Unlock()
	for _, s := range subs {
		_ = s.pc.Close()
	}
	if u.pc != nil {
		_ = u.pc.Close()
	}
	if u.c != nil {
		_ = u.c.Destroy()
		_ = u.c.Close()
	}
}

func roomName(r int) string    { return fmt.Sprintf("load-%d", r) }
func videoroomID(r int) uint64 { return uint64(1000 + r) }
func userName(idx int) string  { return fmt.Sprintf("%d", 100000+idx) }
