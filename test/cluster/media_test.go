package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// The media of a cluster test user: Opus every 20 ms and a small H.264
// packet every 100 ms, enough to see a gap without loading the machine.
const (
	audioEvery = 20 * time.Millisecond
	videoEvery = 5 // audio ticks per video packet
)

// clientInterface is where the clients' ICE gathers: the bridge, the only
// interface of the client namespace that reaches the hosts.
const clientInterface = "br0"

// pionAPI makes the clients' PeerConnections: no interceptors (the test
// counts packets, nothing needs RTCP feedback), ICE on the bridge only.
var pionAPI = sync.OnceValues(func() (*peer.API, error) {
	return peer.NewAPI(peer.Config{Interface: clientInterface})
})

// mediaUser is a user (signalling through the load balancer) that also
// publishes on its publisher handle and subscribes to other users' media
// on handles of its own session, as naf-janus-adapter does.
type mediaUser struct {
	*user
	pub  *peer.Publisher
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	subs []*mediaSub
}

// mediaSub is one subscriber PeerConnection receiving another user.
type mediaSub struct {
	from, to string // publisher and receiving user
	h        *janus.Handle
	pc       *webrtc.PeerConnection

	audio, video atomic.Int64 // packets received

	mu      sync.Mutex
	first   time.Time     // first audio packet
	last    time.Time     // latest audio packet
	maxGap  time.Duration // largest interval between audio packets since resetGap
	gapFrom time.Time     // when resetGap was called
}

// startMedia negotiates u's publisher PeerConnection on its joined
// publisher handle (an offer after the join, as a renegotiation is) and
// starts sending.
func startMedia(u *user) (*mediaUser, error) {
	api, err := pionAPI()
	if err != nil {
		return nil, err
	}
	p, err := api.NewMediaPublisher(u.id)
	if err != nil {
		return nil, err
	}
	m := &mediaUser{user: u, pub: p, stop: make(chan struct{}), done: make(chan struct{})}
	if _, err := peer.Negotiate(u.h, p.PC, map[string]any{}); err != nil {
		p.Close()
		return nil, fmt.Errorf("%s publishes: %w", u.id, err)
	}
	if err := peer.WaitSignal(u.h, "webrtcup", peer.SignalTimeout); err != nil {
		p.Close()
		return nil, fmt.Errorf("%s publishes: %w", u.id, err)
	}
	go m.send()
	return m, nil
}

// send writes one Opus packet per audioEvery and one H.264 packet per
// videoEvery of them until stop.
func (m *mediaUser) send() {
	defer close(m.done)
	a := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, 80)}
	v := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true}, Payload: make([]byte, 300)}
	a.Payload[0] = 0xfc // Opus TOC: CELT FB 20 ms, one frame
	v.Payload[0] = 0x41 // H.264 NAL header: non-IDR slice
	tick := time.NewTicker(audioEvery)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-m.stop:
			return
		case <-tick.C:
		}
		a.SequenceNumber++
		a.Timestamp += 960
		_ = m.pub.Audio.WriteRTP(a)
		if n%videoEvery == 0 {
			v.SequenceNumber++
			v.Timestamp += 9000
			_ = m.pub.Video.WriteRTP(v)
		}
	}
}

// subscribe receives from's media on a new handle of m's session; from
// must have published (a subscriber join to a user without media is
// refused, and the plugin logs the refusal).
func (m *mediaUser) subscribe(from string) (*mediaSub, error) {
	api, err := pionAPI()
	if err != nil {
		return nil, err
	}
	h, err := m.c.Attach(janus.PluginPackage)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPC()
	if err != nil {
		return nil, err
	}
	s := &mediaSub{from: from, to: m.id, h: h, pc: pc, gapFrom: time.Now()}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		video := tr.Kind() == webrtc.RTPCodecTypeVideo
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			if video {
				s.video.Add(1)
			} else {
				s.got()
			}
		}
	})
	if _, err := peer.Subscribe(h, pc, peer.Join(m.room, m.id, peer.MediaSubscribe(from), ""), map[string]any{}); err != nil {
		pc.Close()
		return nil, fmt.Errorf("%s subscribes to %s: %w", m.id, from, err)
	}
	m.mu.Lock()
	m.subs = append(m.subs, s)
	m.mu.Unlock()
	return s, nil
}

// close stops sending and closes every PeerConnection (the websocket is
// the user's).
func (m *mediaUser) close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
	m.pub.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		s.pc.Close()
	}
}

func (m *mediaUser) subscriptions() []*mediaSub {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*mediaSub(nil), m.subs...)
}

func (s *mediaSub) got() {
	now := time.Now()
	s.mu.Lock()
	if s.first.IsZero() {
		s.first = now
	}
	if !s.last.IsZero() {
		s.maxGap = max(s.maxGap, now.Sub(s.last))
	}
	s.last = now
	s.mu.Unlock()
	s.audio.Add(1)
}

// resetGap starts a new window for gap: the largest interval between audio
// packets from now on.
func (s *mediaSub) resetGap() {
	now := time.Now()
	s.mu.Lock()
	s.maxGap, s.gapFrom = 0, now
	if !s.last.IsZero() {
		s.last = now // a gap that spans the reset counts from it
	}
	s.mu.Unlock()
}

// gap is the largest interval without audio since resetGap, counting the
// one still open.
func (s *mediaSub) gap() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last.IsZero() {
		return time.Since(s.gapFrom)
	}
	return max(s.maxGap, time.Since(s.last))
}

// firstAudio is when the first audio packet arrived (zero: none yet).
func (s *mediaSub) firstAudio() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// counts are a subscription's packets so far.
func (s *mediaSub) counts() [2]int64 { return [2]int64{s.audio.Load(), s.video.Load()} }

// startPair makes a and b publish and then receive each other, and
// returns them as media users (closed on error).
func startPair(a, b *user) ([2]*mediaUser, error) {
	var ms [2]*mediaUser
	var errs [2]error
	var wg sync.WaitGroup
	both := func(f func(i int)) error {
		for i := range ms {
			wg.Add(1)
			go func() { defer wg.Done(); f(i) }()
		}
		wg.Wait()
		return errors.Join(errs[0], errs[1])
	}
	closeAll := func() {
		for _, m := range ms {
			if m != nil {
				m.close()
			}
		}
	}
	if err := both(func(i int) { ms[i], errs[i] = startMedia([2]*user{a, b}[i]) }); err != nil {
		closeAll()
		return ms, err
	}
	if err := both(func(i int) { _, errs[i] = ms[i].subscribe(ms[1-i].id) }); err != nil {
		closeAll()
		return ms, err
	}
	return ms, nil
}

// snapshot is every subscription's counts, to compare with later.
func snapshot(subs []*mediaSub) map[*mediaSub][2]int64 {
	out := map[*mediaSub][2]int64{}
	for _, s := range subs {
		out[s] = s.counts()
	}
	return out
}

// waitMedia waits until every subscription in base has received more audio
// and more video than base says, or ctx ends.
func waitMedia(ctx context.Context, base map[*mediaSub][2]int64) error {
	for {
		var stuck []string
		for s, b := range base {
			if c := s.counts(); c[0] <= b[0] || c[1] <= b[1] {
				stuck = append(stuck, fmt.Sprintf("%s→%s audio %d video %d", s.from, s.to, c[0]-b[0], c[1]-b[1]))
			}
		}
		if len(stuck) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d subscriptions receive nothing new: %v", len(stuck), len(base), stuck)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// largestGap is the largest audio gap of subs since their resetGap and the
// subscription that had it.
func largestGap(subs []*mediaSub) (time.Duration, *mediaSub) {
	var worst time.Duration
	var who *mediaSub
	for _, s := range subs {
		if g := s.gap(); g > worst {
			worst, who = g, s
		}
	}
	return worst, who
}
