package sdp

import (
	"slices"
	"testing"

	psdp "github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

func newPublisherPC(t *testing.T, h264fmtp string) *webrtc.PeerConnection {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1", RTCPFeedback: []webrtc.RTCPFeedback{{Type: "transport-cc"}}},
		PayloadType: 109,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "transport-cc"}}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264fmtp, RTCPFeedback: fb}, PayloadType: 126},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

func TestPionRoundTrip(t *testing.T) {
	const h264fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
	pub := newPublisherPC(t, h264fmtp)
	// naf-janus-adapter order: data channel first, then tracks.
	if _, err := pub.CreateDataChannel("reliable", nil); err != nil {
		t.Fatal(err)
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	if err != nil {
		t.Fatal(err)
	}
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264fmtp}, "video", "pub")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []webrtc.TrackLocal{at, vt} {
		if _, err := pub.AddTrack(tr); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pub.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	ans, subOffer, err := AnswerPublisher(anonymize(t, offer.SDP), Options{})
	if err != nil {
		t.Fatal(err)
	}
	merged := janusMerge(t, ans, false)
	if err := pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: merged}); err != nil {
		t.Fatalf("publisher rejected answer: %v\n%s", err, merged)
	}
	for _, tr := range pub.GetTransceivers() {
		if tr.Kind() == webrtc.RTPCodecTypeAudio || tr.Kind() == webrtc.RTPCodecTypeVideo {
			if d := tr.Direction(); d != webrtc.RTPTransceiverDirectionSendrecv && d != webrtc.RTPTransceiverDirectionSendonly {
				t.Errorf("%s transceiver direction %s", tr.Kind(), d)
			}
			if tr.Sender() == nil || len(tr.Sender().GetParameters().Codecs) == 0 {
				t.Errorf("%s: no negotiated codec", tr.Kind())
				continue
			}
			c := tr.Sender().GetParameters().Codecs[0]
			want := map[webrtc.RTPCodecType]webrtc.PayloadType{webrtc.RTPCodecTypeAudio: 109, webrtc.RTPCodecTypeVideo: 126}[tr.Kind()]
			if c.PayloadType != want {
				t.Errorf("%s negotiated pt %d, want %d", tr.Kind(), c.PayloadType, want)
			}
		}
	}

	// Subscriber: a default pion peer answers the subscriber offer.
	sub, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	mergedOffer := janusMerge(t, subOffer, true)
	if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: mergedOffer}); err != nil {
		t.Fatalf("subscriber rejected offer: %v\n%s", err, mergedOffer)
	}
	sa, err := sub.CreateAnswer(nil)
	if err != nil {
		t.Fatalf("subscriber CreateAnswer: %v\n%s", err, mergedOffer)
	}
	if err := sub.SetLocalDescription(sa); err != nil {
		t.Fatal(err)
	}
	if err := ValidateAnswer(sa.SDP); err != nil {
		t.Fatalf("ValidateAnswer: %v\n%s", err, sa.SDP)
	}
	var d psdp.SessionDescription
	if err := d.UnmarshalString(sa.SDP); err != nil {
		t.Fatal(err)
	}
	if len(d.MediaDescriptions) != 3 {
		t.Fatalf("subscriber answer has %d m-lines", len(d.MediaDescriptions))
	}
	for i, want := range []struct{ media, fmt string }{{"audio", "111"}, {"video", "107"}, {"application", "webrtc-datachannel"}} {
		m := d.MediaDescriptions[i]
		mid, _ := m.Attribute("mid")
		if m.MediaName.Media != want.media || !slices.Contains(m.MediaName.Formats, want.fmt) || m.MediaName.Port.Value == 0 {
			t.Errorf("subscriber answer m-line %d: %s %v port %d", i, m.MediaName.Media, m.MediaName.Formats, m.MediaName.Port.Value)
		}
		if mid != []string{"0", "1", "2"}[i] {
			t.Errorf("subscriber answer mid %q", mid)
		}
		if i < 2 && direction(m) != "recvonly" {
			t.Errorf("subscriber answer m-line %d direction %q", i, direction(m))
		}
	}
}

// TestPionSubscriberFallback: a data-only publisher still yields a subscriber
// offer a default peer accepts (fallback Opus 111 / H.264 107 isn't in pion's
// defaults, so video may be rejected by pion, but negotiation must succeed).
func TestPionSubscriberFallback(t *testing.T) {
	offer := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
	for _, o := range []Options{{}, {VideoCodecs: []string{"vp8"}}, {VideoCodecs: []string{"vp9"}}, {VideoCodecs: []string{"av1"}}} {
		_, subOffer, err := AnswerPublisher(offer, o)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := webrtc.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		merged := janusMerge(t, subOffer, true)
		if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: merged}); err != nil {
			t.Fatalf("%+v: %v\n%s", o, err, merged)
		}
		sa, err := sub.CreateAnswer(nil)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		if err := ValidateAnswer(sa.SDP); err != nil {
			t.Fatal(err)
		}
		_ = sub.Close()
	}
}
