// Package peer makes pion WebRTC peers that talk to Janus through
// test/janus the way naf-janus-adapter does: a publisher PeerConnection
// with two data channels, Opus and H.264, and subscriber PeerConnections
// that answer whatever offer the plugin makes (one m-line per kind today,
// several in a multistream offer). Every suite that runs real Janus (e2e,
// load, soak, ...) builds its users from it. Functions return errors; the
// suites wrap them for testing.T.
package peer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// The publisher's data channels, as naf-janus-adapter names them.
const (
	Reliable   = "reliable"
	Unreliable = "unreliable"
)

// H264Fmtp is the fmtp line of the publisher's H.264 track: constrained
// baseline 3.1, what browsers offer first and the plugin's default profile.
const H264Fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

// NetnsInterface is the interface of a scripts/netns.sh namespace that
// carries janus.NetnsIP; Janus's ICE is restricted to it.
const NetnsInterface = "d0"

// Config shapes the peers an API makes.
type Config struct {
	// Interface, when set, is the only network interface ICE gathers on
	// (UDP4, no mDNS); e.g. NetnsInterface. Empty: pion's defaults.
	Interface string
	// Interceptors registers pion's default interceptors (NACK, RTCP
	// reports, TWCC), as a browser has. Without them a peer does as little
	// as possible per packet (the load generator) and loss stays visible.
	Interceptors bool
	// ReadBuffer, when > 0, is the SO_RCVBUF asked for on every UDP socket
	// ICE opens (capped by net.core.rmem_max). The default (rmem_default,
	// ~208 KB) overflows when one PeerConnection receives many streams in
	// bursts (a multistream subscriber under load).
	ReadBuffer int
}

// readBufferNet is pion's standard network with a receive buffer size set
// on each UDP socket it opens.
type readBufferNet struct {
	*stdnet.Net
	size int
}

func (n readBufferNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err == nil {
		_ = c.SetReadBuffer(n.size)
	}
	return c, err
}

func (n readBufferNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if u, ok := c.(interface{ SetReadBuffer(int) error }); err == nil && ok {
		_ = u.SetReadBuffer(n.size)
	}
	return c, err
}

// API makes PeerConnections sharing one configuration and one DTLS
// certificate (generating one per PeerConnection costs more than the rest
// of its setup).
type API struct {
	api  *webrtc.API
	cert webrtc.Certificate
}

// NewAPI builds an API for cfg.
func NewAPI(cfg Config) (*API, error) {
	var m webrtc.MediaEngine
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	if cfg.Interface != "" {
		iface := cfg.Interface
		se.SetInterfaceFilter(func(name string) bool { return name == iface })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if cfg.ReadBuffer > 0 {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, err
		}
		se.SetNet(readBufferNet{Net: n, size: cfg.ReadBuffer})
	}
	// NewAPI registers pion's default interceptors unless given a registry.
	reg := &interceptor.Registry{}
	if cfg.Interceptors {
		if err := webrtc.RegisterDefaultInterceptors(&m, reg); err != nil {
			return nil, err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, err
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(&m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(reg))
	return &API{api: api, cert: *cert}, nil
}

// NewPC makes a PeerConnection.
func (a *API) NewPC() (*webrtc.PeerConnection, error) {
	return a.api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{a.cert}})
}

// Publisher is a publisher PeerConnection as naf-janus-adapter makes one.
type Publisher struct {
	PC       *webrtc.PeerConnection
	Audio    *webrtc.TrackLocalStaticRTP // Opus
	Video    *webrtc.TrackLocalStaticRTP // H.264, H264Fmtp
	AudioTx  *webrtc.RTPSender
	VideoTx  *webrtc.RTPSender
	Channels map[string]*webrtc.DataChannel // Reliable, Unreliable

	// KeyframeRequests counts PLI and FIR arriving on the video sender.
	KeyframeRequests atomic.Int64
}

// NewPublisher makes a publisher whose tracks carry stream id name. The
// data channels are created first, as in the adapter (a browser then
// offers m=application first; pion still puts it after audio and video).
// The senders' RTCP is read (and keyframe requests counted) until the
// PeerConnection closes.
func (a *API) NewPublisher(name string) (*Publisher, error) { return a.publisher(name, true, true) }

func newPublisher(pc *webrtc.PeerConnection, name string, channels, video bool) (*Publisher, error) {
	p := &Publisher{PC: pc, Channels: map[string]*webrtc.DataChannel{}}
	ordered, zero := false, uint16(0)
	for _, ch := range []struct {
		label string
		init  *webrtc.DataChannelInit
	}{{Reliable, nil}, {Unreliable, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &zero}}} {
		if !channels {
			break
		}
		dc, err := pc.CreateDataChannel(ch.label, ch.init)
		if err != nil {
			return nil, err
		}
		p.Channels[ch.label] = dc
	}
	var err error
	if p.Audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", name); err != nil {
		return nil, err
	}
	if p.AudioTx, err = pc.AddTrack(p.Audio); err != nil {
		return nil, err
	}
	if !video {
		go drainRTCP(p.AudioTx)
		return p, nil
	}
	if p.Video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: H264Fmtp}, "video", name); err != nil {
		return nil, err
	}
	if p.VideoTx, err = pc.AddTrack(p.Video); err != nil {
		return nil, err
	}
	go drainRTCP(p.AudioTx) // Janus's RTCP for the audio track: unused
	go func() {
		for {
			pkts, _, err := p.VideoTx.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					p.KeyframeRequests.Add(1)
				}
			}
		}
	}()
	return p, nil
}

// NewMediaPublisher is NewPublisher without data channels: audio and
// video only.
func (a *API) NewMediaPublisher(name string) (*Publisher, error) {
	return a.publisher(name, false, true)
}

// NewAudioPublisher is NewPublisher without video (a camera turned off):
// data channels and Opus; Video and VideoTx are nil.
func (a *API) NewAudioPublisher(name string) (*Publisher, error) {
	return a.publisher(name, true, false)
}

func (a *API) publisher(name string, channels, video bool) (*Publisher, error) {
	pc, err := a.NewPC()
	if err != nil {
		return nil, err
	}
	p, err := newPublisher(pc, name, channels, video)
	if err != nil {
		pc.Close()
		return nil, err
	}
	return p, nil
}

// drainRTCP reads a sender's RTCP until its PeerConnection closes.
func drainRTCP(tx *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := tx.Read(buf); err != nil {
			return
		}
	}
}

// Close closes the PeerConnection.
func (p *Publisher) Close() error { return p.PC.Close() }
