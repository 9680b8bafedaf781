package load

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
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
	p         *peer.Publisher
	tracks    [2]pubTrack
	feed      uint64 // videoroom publisher id
	stop      chan struct{}
	sendDone  chan struct{}
	// listener: publishes audio only and, with a multistream subscription,
	// pauses every video line it receives (see SFU_LOAD_LISTENERS).
	listener bool

	mu     sync.Mutex
	subs   []*lSub
	ms     *peer.Streams // multistream mode: the one subscription
	msStop chan struct{}
	msErr  <-chan error
}

// video reports whether u publishes video.
func (u *lUser) video() bool { return !u.listener }

// lSub is a subscription of one user to another's media.
type lSub struct {
	from *lUser
	h    *janus.Handle
	pc   *webrtc.PeerConnection // classic: its own; multistream: nil (u.ms.PC)
	want [2]bool                // kinds that should flow (loss counts only these)
	recv [2]atomic.Uint64       // packets received in total
	win  [2]atomic.Uint64       // packets received whose sequence is in the window
}

// env is what every peer of a run shares.
type env struct {
	s    *janus.Server
	mode string
	api  *peer.API

	mu      sync.Mutex
	pubJoin latencies
	subJoin latencies
}

func newEnv(s *janus.Server, mode string, rcvbuf int) (*env, error) {
	// ICE only on the namespace's d0, like Janus's ice_enforce_list; no
	// interceptors, so the generator does as little as possible per packet.
	api, err := peer.NewAPI(peer.Config{Interface: peer.NetnsInterface, ReadBuffer: rcvbuf})
	if err != nil {
		return nil, err
	}
	return &env{s: s, mode: mode, api: api}, nil
}

func (e *env) plugin() string {
	if e.mode == modeVideoroom {
		return videoroomPackage
	}
	return janus.PluginPackage
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
	if u.video() {
		u.p, err = e.api.NewPublisher(u.name)
	} else {
		u.p, err = e.api.NewAudioPublisher(u.name)
	}
	if err != nil {
		return err
	}
	var join peer.Result
	switch e.mode {
	case modeSFU:
		// As naf-janus-adapter: offer, then join once the PC is up.
		join, err = peer.Publish(u.pub, u.p.PC, peer.Join(roomName(u.room), u.name, peer.PublisherSubscribe(), ""))
		if err != nil {
			return err
		}
	case modeVideoroom:
		join, err = peer.Message(u.pub, map[string]any{"request": "join", "ptype": "publisher",
			"room": videoroomID(u.room), "id": u.feed, "display": u.name}, nil)
		if err != nil {
			return err
		}
		if _, err := peer.Negotiate(u.pub, u.p.PC, map[string]any{"request": "publish"}); err != nil {
			return err
		}
		if err := peer.WaitSignal(u.pub, "webrtcup", peer.SignalTimeout); err != nil {
			return err
		}
	}
	e.mu.Lock()
	e.pubJoin = append(e.pubJoin, join.Latency)
	e.mu.Unlock()
	u.stop = make(chan struct{})
	u.sendDone = make(chan struct{})
	go u.send()
	return nil
}

// subscribe makes u receive other's media on a new handle and PeerConnection.
func (e *env) subscribe(u, other *lUser) error {
	h, err := u.c.Attach(e.plugin())
	if err != nil {
		return err
	}
	// A classic subscription cannot pause: the publisher's video flows to
	// listeners too.
	sub := &lSub{from: other, h: h, want: [2]bool{true, other.video()}}
	if sub.pc, err = e.api.NewPC(); err != nil {
		return err
	}
	sub.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		kind := kindAudio
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			kind = kindVideo
		}
		sub.read(tr, kind)
	})
	join, start := any(peer.Join(roomName(u.room), u.name, peer.MediaSubscribe(other.name), "")), any(map[string]any{})
	if e.mode == modeVideoroom {
		join = map[string]any{"request": "join", "ptype": "subscriber", "room": videoroomID(u.room), "feed": other.feed}
		start = map[string]any{"request": "start"}
	}
	r, err := peer.Subscribe(h, sub.pc, join, start)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.subJoin = append(e.subJoin, r.Latency)
	e.mu.Unlock()
	u.mu.Lock()
	u.subs = append(u.subs, sub)
	u.mu.Unlock()
	return nil
}

// subscribeStreams gives u one multistream subscription (handle and
// PeerConnection) to the others of its room and keeps answering its
// renegotiations (as later users join) until u closes.
func (e *env) subscribeStreams(u *lUser, others []*lUser) error {
	h, err := u.c.Attach(janus.PluginPackage)
	if err != nil {
		return err
	}
	pc, err := e.api.NewPC()
	if err != nil {
		return err
	}
	byUser := map[string]*lSub{}
	var subs []*lSub
	for _, o := range others {
		sub := &lSub{from: o, h: h, want: [2]bool{true, o.video() && !u.listener}}
		byUser[o.name] = sub
		subs = append(subs, sub)
	}
	m := &peer.Streams{H: h, PC: pc}
	m.OnTrack = func(en peer.StreamEntry, tr *webrtc.TrackRemote) {
		sub := byUser[en.UserID]
		if sub == nil {
			drain(tr)
			return
		}
		kind := kindAudio
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			kind = kindVideo
		}
		sub.read(tr, kind)
	}
	u.mu.Lock()
	u.ms, u.subs = m, subs
	u.mu.Unlock()
	r, err := m.Subscribe(peer.Join(roomName(u.room), u.name, peer.StreamsSubscribe(), ""))
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.subJoin = append(e.subJoin, r.Latency)
	e.mu.Unlock()
	u.msStop = make(chan struct{})
	u.msErr = m.Serve(u.msStop)
	return nil
}

// streamsComplete reports whether u's multistream subscription has
// answered an offer with an active line for every kind each other user
// publishes.
func (u *lUser) streamsComplete() bool {
	l := u.ms.Current()
	for _, sub := range u.subs {
		for k, kind := range []string{"audio", "video"} {
			if k == kindVideo && !sub.from.video() {
				continue
			}
			found := false
			for _, e := range l {
				if e.Active && e.UserID == sub.from.name && e.Kind == kind {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

// pauseVideo pauses every active video line of u's multistream
// subscription (a listener).
func (u *lUser) pauseVideo() error {
	send := map[string]bool{}
	for _, e := range u.ms.Current() {
		if e.Active && e.Kind == "video" {
			send[e.Mid] = false
		}
	}
	if len(send) == 0 {
		return nil
	}
	_, err := u.ms.Configure(send)
	return err
}

func drain(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1600)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			return
		}
	}
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
	video := u.p.Video != nil
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
		_ = u.p.Video.WriteRTP(vpkt)
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
		_ = u.p.Audio.WriteRTP(apkt)
		if !video {
			continue
		}
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
	subs, ms := u.subs, u.ms
	u.mu.Unlock()
	if u.msStop != nil {
		close(u.msStop)
		u.msStop = nil
	}
	if ms != nil {
		_ = ms.PC.Close()
	}
	for _, s := range subs {
		if s.pc != nil {
			_ = s.pc.Close()
		}
	}
	if u.p != nil {
		_ = u.p.Close()
	}
	if u.c != nil {
		_ = u.c.Destroy()
		_ = u.c.Close()
	}
}

func roomName(r int) string    { return fmt.Sprintf("load-%d", r) }
func videoroomID(r int) uint64 { return uint64(1000 + r) }
func userName(idx int) string  { return fmt.Sprintf("%d", 100000+idx) }
