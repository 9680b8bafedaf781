package sdp

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	psdp "github.com/pion/sdp/v3"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\n", "\r\n")
}

// anonymize mimics janus_sdp_anonymize (Janus 1.1.2 src/sdp.c) closely
// enough: transport attributes and rtx/red/ulpfec/flexfec payloads are removed
// before the plugin sees the offer.
func anonymize(t *testing.T, s string) string {
	t.Helper()
	var d psdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		t.Fatalf("anonymize: %v", err)
	}
	drop := map[string]bool{
		"ice-ufrag": true, "ice-pwd": true, "ice-options": true, "fingerprint": true, "group": true,
		"msid-semantic": true, "extmap-allow-mixed": true, "rtcp-rsize": true, "crypto": true, "setup": true,
		"connection": true, "rid": true, "simulcast": true, "rtcp": true, "rtcp-mux": true, "candidate": true,
		"end-of-candidates": true, "ssrc": true, "ssrc-group": true, "sctpmap": true, "sctp-port": true,
		"max-message-size": true,
	}
	filter := func(attrs []psdp.Attribute) []psdp.Attribute {
		var out []psdp.Attribute
		for _, a := range attrs {
			if !drop[strings.ToLower(a.Key)] {
				out = append(out, a)
			}
		}
		return out
	}
	d.Attributes = filter(d.Attributes)
	for _, m := range d.MediaDescriptions {
		m.Attributes = filter(m.Attributes)
		purged := map[string]bool{}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" {
				for _, bad := range []string{"red/90000", "ulpfec/90000", "flexfec-03/90000", "rtx/90000"} {
					if strings.Contains(a.Value, bad) {
						pt, _, _ := strings.Cut(a.Value, " ")
						purged[pt] = true
					}
				}
			}
		}
		var attrs []psdp.Attribute
		for _, a := range m.Attributes {
			pt, _, _ := strings.Cut(a.Value, " ")
			if (a.Key == "rtpmap" || a.Key == "fmtp" || a.Key == "rtcp-fb") && purged[pt] {
				continue
			}
			attrs = append(attrs, a)
		}
		m.Attributes = attrs
		var f []string
		for _, x := range m.MediaName.Formats {
			if !purged[x] {
				f = append(f, x)
			}
		}
		m.MediaName.Formats = f
	}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	dummyFingerprint = "sha-256 5B:25:9E:41:3A:1E:8F:4D:83:E5:5C:0B:7A:2D:AC:76:CA:34:9F:7A:E7:88:2B:5A:4E:2F:C1:1F:8D:9B:8E:62"
	dummyUfrag       = "jnsU"
	dummyPwd         = "janusPasswordJanusPassword"
)

// janusMerge mimics janus_sdp_merge: strips the transport attributes again
// and adds Janus's BUNDLE group, fingerprint, ICE credentials, a=setup,
// a=rtcp-mux / a=sctp-port and (for sending media) msid/ssrc lines.
func janusMerge(t *testing.T, s string, offer bool) string {
	t.Helper()
	var d psdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		t.Fatalf("merge: %v", err)
	}
	strip := func(attrs []psdp.Attribute) []psdp.Attribute {
		var out []psdp.Attribute
		for _, a := range attrs {
			switch a.Key {
			case "group", "rtcp-mux", "sctp-port", "sctpmap", "max-message-size", "setup", "ice-ufrag", "ice-pwd", "fingerprint", "msid-semantic":
				continue
			}
			out = append(out, a)
		}
		return out
	}
	d.Attributes = strip(d.Attributes)
	var bundle []string
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Port.Value > 0 {
			mid, _ := m.Attribute("mid")
			bundle = append(bundle, mid)
		}
	}
	d.Attributes = append([]psdp.Attribute{
		{Key: "group", Value: "BUNDLE " + strings.Join(bundle, " ")},
		{Key: "ice-options", Value: "trickle"},
		{Key: "fingerprint", Value: dummyFingerprint},
		{Key: "msid-semantic", Value: " WMS *"},
	}, d.Attributes...)
	setup := "active"
	if offer {
		setup = "actpass"
	}
	for i, m := range d.MediaDescriptions {
		m.Attributes = strip(m.Attributes)
		extra := []psdp.Attribute{
			{Key: "ice-ufrag", Value: dummyUfrag},
			{Key: "ice-pwd", Value: dummyPwd},
			{Key: "ice-options", Value: "trickle"},
			{Key: "setup", Value: setup},
		}
		switch m.MediaName.Media {
		case "audio", "video":
			extra = append(extra, psdp.Attribute{Key: "rtcp-mux"})
			if _, ok := m.Attribute("sendonly"); ok && m.MediaName.Port.Value > 0 {
				mid, _ := m.Attribute("mid")
				ssrc := strconv.Itoa(1000 + i)
				m.Attributes = append(m.Attributes,
					psdp.Attribute{Key: "msid", Value: "janus janus" + mid},
					psdp.Attribute{Key: "ssrc", Value: ssrc + " cname:janus"})
			}
		case "application":
			extra = append(extra, psdp.Attribute{Key: "sctp-port", Value: "5000"})
		}
		m.Attributes = append(extra, m.Attributes...)
	}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParse(t *testing.T, s string) *psdp.SessionDescription {
	t.Helper()
	var d psdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		t.Fatalf("parse %v:\n%s", err, s)
	}
	return &d
}

func direction(m *psdp.MediaDescription) string {
	for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
		if _, ok := m.Attribute(d); ok {
			return d
		}
	}
	return ""
}

func values(m *psdp.MediaDescription, key string) []string {
	var out []string
	for _, a := range m.Attributes {
		if a.Key == key {
			out = append(out, a.Value)
		}
	}
	return out
}

type wantM struct {
	media, mid, dir string
	port            int
	formats         []string
}

func checkLines(t *testing.T, d *psdp.SessionDescription, want []wantM) {
	t.Helper()
	if len(d.MediaDescriptions) != len(want) {
		t.Fatalf("got %d m-lines, want %d", len(d.MediaDescriptions), len(want))
	}
	for i, w := range want {
		m := d.MediaDescriptions[i]
		mid, _ := m.Attribute("mid")
		if m.MediaName.Media != w.media || mid != w.mid || m.MediaName.Port.Value != w.port ||
			(w.dir != "" && direction(m) != w.dir) || !slices.Equal(m.MediaName.Formats, w.formats) {
			t.Errorf("m-line %d: got %s port=%d mid=%q dir=%q fmts=%v, want %+v", i, m.MediaName.Media,
				m.MediaName.Port.Value, mid, direction(m), m.MediaName.Formats, w)
		}
	}
}

func TestChromeOffer(t *testing.T) {
	for _, anon := range []bool{false, true} {
		t.Run("anonymized="+strconv.FormatBool(anon), func(t *testing.T) {
			offer := fixture(t, "chrome.sdp")
			if anon {
				offer = anonymize(t, offer)
			}
			ans, sub, err := AnswerPublisher(offer, Options{})
			if err != nil {
				t.Fatal(err)
			}
			d := mustParse(t, ans)
			checkLines(t, d, []wantM{
				{"application", "0", "", 9, []string{"webrtc-datachannel"}},
				{"audio", "1", "recvonly", 9, []string{"111"}},
				{"video", "2", "recvonly", 9, []string{"106"}},
			})
			if g, _ := d.Attribute("group"); g != "BUNDLE 0 1 2" {
				t.Errorf("group = %q", g)
			}
			au, vi, da := d.MediaDescriptions[1], d.MediaDescriptions[2], d.MediaDescriptions[0]
			if got := values(au, "fmtp"); !slices.Equal(got, []string{"111 stereo=0; sprop-stereo=0; usedtx=1;"}) {
				t.Errorf("audio fmtp %q", got)
			}
			if got := values(au, "rtpmap"); !slices.Equal(got, []string{"111 opus/48000/2"}) {
				t.Errorf("audio rtpmap %q", got)
			}
			if got := values(au, "rtcp-fb"); !slices.Equal(got, []string{"111 transport-cc"}) {
				t.Errorf("audio rtcp-fb %q", got)
			}
			if got := values(au, "extmap"); !slices.Equal(got, []string{
				"1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
				"2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
				"3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
				"4 urn:ietf:params:rtp-hdrext:sdes:mid",
			}) {
				t.Errorf("audio extmap %q", got)
			}
			if got := values(vi, "extmap"); !slices.Equal(got, []string{
				"2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
				"13 urn:3gpp:video-orientation",
				"3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
				"4 urn:ietf:params:rtp-hdrext:sdes:mid",
			}) {
				t.Errorf("video extmap %q", got)
			}
			if got := values(vi, "rtpmap"); !slices.Equal(got, []string{"106 H264/90000"}) {
				t.Errorf("video rtpmap %q", got)
			}
			if got := values(vi, "fmtp"); !slices.Equal(got, []string{"106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}) {
				t.Errorf("video fmtp %q", got)
			}
			if got := values(vi, "rtcp-fb"); !slices.Equal(got, []string{"106 ccm fir", "106 nack", "106 nack pli", "106 goog-remb", "106 transport-cc"}) {
				t.Errorf("video rtcp-fb %q", got)
			}
			if got := values(da, "sctp-port"); !slices.Equal(got, []string{"5000"}) {
				t.Errorf("sctp-port %q", got)
			}
			if got := values(da, "max-message-size"); !anon && !slices.Equal(got, []string{"262144"}) {
				t.Errorf("max-message-size %q", got)
			}
			if strings.Contains(ans, "rtx") || strings.Contains(ans, "red/") || strings.Contains(ans, "ulpfec") {
				t.Errorf("answer mentions rtx/red/ulpfec:\n%s", ans)
			}
			if !strings.HasPrefix(ans, "v=0\r\no=- ") || !strings.Contains(ans, "\r\ns=-\r\nt=0 0\r\n") {
				t.Errorf("bad session header:\n%s", ans)
			}

			s := mustParse(t, sub)
			// Fixed subscriber payload types; the relay rewrites 106 → 107.
			checkLines(t, s, []wantM{
				{"audio", "0", "sendonly", 9, []string{"111"}},
				{"video", "1", "sendonly", 9, []string{"107"}},
				{"application", "2", "", 9, []string{"webrtc-datachannel"}},
			})
			if g, _ := s.Attribute("group"); g != "BUNDLE 0 1 2" {
				t.Errorf("sub group = %q", g)
			}
			sa, sv := s.MediaDescriptions[0], s.MediaDescriptions[1]
			if got := values(sa, "fmtp"); !slices.Equal(got, []string{"111 " + OpusFmtp}) {
				t.Errorf("sub audio fmtp %q", got)
			}
			if got := values(sa, "rtcp-fb"); !slices.Equal(got, []string{"111 transport-cc"}) {
				t.Errorf("sub audio rtcp-fb %q", got)
			}
			if got := values(sv, "fmtp"); !slices.Equal(got, []string{"107 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}) {
				t.Errorf("sub video fmtp %q", got)
			}
			if got := values(sv, "rtcp-fb"); !slices.Equal(got, []string{"107 ccm fir", "107 nack", "107 nack pli", "107 goog-remb", "107 transport-cc"}) {
				t.Errorf("sub video rtcp-fb %q", got)
			}
			if got := values(s.MediaDescriptions[2], "sctp-port"); !slices.Equal(got, []string{"5000"}) {
				t.Errorf("sub sctp-port %q", got)
			}
		})
	}
}

func TestChromeCodecPreference(t *testing.T) {
	offer := anonymize(t, fixture(t, "chrome.sdp"))
	cases := []struct {
		o      Options
		pt     string
		fmtp   string
		reject bool
	}{
		{Options{VideoCodecs: []string{"vp8"}}, "96", "", false},
		{Options{VideoCodecs: []string{"VP9", "h264"}}, "98", "98 profile-id=0", false},
		{Options{VideoCodecs: []string{"av1"}}, "45", "45 level-idx=5;profile=0;tier=0", false},
		{Options{VideoCodecs: []string{"h264"}, H264Profile: "42001F"}, "102", "102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", false},
		{Options{VideoCodecs: []string{"h264"}, H264Profile: "640c1f"}, "", "", true},
	}
	for _, c := range cases {
		ans, sub, err := AnswerPublisher(offer, c.o)
		if err != nil {
			t.Fatal(err)
		}
		v := mustParse(t, ans).MediaDescriptions[2]
		if c.reject {
			if v.MediaName.Port.Value != 0 || direction(v) != "inactive" {
				t.Errorf("%+v: video not rejected: %+v", c.o, v)
			}
			if mid, _ := v.Attribute("mid"); mid != "2" {
				t.Errorf("rejected mid %q", mid)
			}
			// Subscriber offer falls back to H.264 pt 107.
			sv := mustParse(t, sub).MediaDescriptions[1]
			if !slices.Equal(sv.MediaName.Formats, []string{"107"}) ||
				!slices.Equal(values(sv, "fmtp"), []string{"107 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f"}) {
				t.Errorf("fallback video %v %q", sv.MediaName.Formats, values(sv, "fmtp"))
			}
			if !strings.Contains(sub, "a=rtcp-fb:107 goog-remb\r\n") {
				t.Errorf("fallback lacks goog-remb for 107")
			}
			continue
		}
		if !slices.Equal(v.MediaName.Formats, []string{c.pt}) || v.MediaName.Port.Value != 9 {
			t.Errorf("%+v: got %v", c.o, v.MediaName.Formats)
		}
		var fm []string
		if c.fmtp != "" {
			fm = []string{c.fmtp}
		}
		if got := values(v, "fmtp"); !slices.Equal(got, fm) {
			t.Errorf("%+v: fmtp %q", c.o, got)
		}
		// Subscribers get the codec's fixed payload type.
		fixed := map[string]string{"96": "96", "98": "98", "45": "45", "102": "107"}[c.pt]
		sv := mustParse(t, sub).MediaDescriptions[1]
		if !slices.Equal(sv.MediaName.Formats, []string{fixed}) {
			t.Errorf("%+v: sub video %v, want %s", c.o, sv.MediaName.Formats, fixed)
		}
	}
}

func TestFirefoxOffer(t *testing.T) {
	ans, sub, err := AnswerPublisher(fixture(t, "firefox.sdp"), Options{VideoCodecs: []string{"h264", "vp8"}})
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, ans)
	checkLines(t, d, []wantM{
		{"application", "0", "", 9, []string{"webrtc-datachannel"}},
		{"audio", "1", "recvonly", 9, []string{"109"}},
		{"video", "2", "recvonly", 9, []string{"126"}},
	})
	if got := values(d.MediaDescriptions[1], "fmtp"); !slices.Equal(got, []string{"109 stereo=0; sprop-stereo=0; usedtx=1;"}) {
		t.Errorf("audio fmtp %q", got)
	}
	if got := values(d.MediaDescriptions[1], "rtcp-fb"); len(got) != 0 {
		t.Errorf("audio rtcp-fb %q (not offered)", got)
	}
	// csrc-audio-level was recvonly and not in the list anyway.
	if got := values(d.MediaDescriptions[1], "extmap"); !slices.Equal(got, []string{
		"1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "3 urn:ietf:params:rtp-hdrext:sdes:mid"}) {
		t.Errorf("audio extmap %q", got)
	}
	if got := values(d.MediaDescriptions[2], "extmap"); !slices.Equal(got, []string{
		"3 urn:ietf:params:rtp-hdrext:sdes:mid",
		"4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
		"7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"}) {
		t.Errorf("video extmap %q", got)
	}
	if got := values(d.MediaDescriptions[0], "max-message-size"); !slices.Equal(got, []string{"1073741823"}) {
		t.Errorf("max-message-size %q", got)
	}
	s := mustParse(t, sub)
	checkLines(t, s, []wantM{
		{"audio", "0", "sendonly", 9, []string{"111"}},
		{"video", "1", "sendonly", 9, []string{"107"}},
		{"application", "2", "", 9, []string{"webrtc-datachannel"}},
	})
	n, err := Negotiate(fixture(t, "firefox.sdp"), Options{VideoCodecs: []string{"h264", "vp8"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (sfu.PayloadMap{AudioFrom: 109, AudioTo: 111, VideoFrom: 126, VideoTo: 107}); n.Payloads != want {
		t.Errorf("payload map %+v, want %+v", n.Payloads, want)
	}

	// Without pm=1 H.264 available, the pm=0 one is accepted.
	noPM1 := strings.ReplaceAll(fixture(t, "firefox.sdp"), "H264/90000\r\na=rtpmap:127", "XXXX/90000\r\na=rtpmap:127")
	ans, _, err = AnswerPublisher(noPM1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustParse(t, ans).MediaDescriptions[2].MediaName.Formats; !slices.Equal(got, []string{"97"}) {
		t.Errorf("pm=0 fallback: %v", got)
	}
}

func TestPionOffer(t *testing.T) {
	ans, sub, err := AnswerPublisher(fixture(t, "pion.sdp"), Options{VideoCodecs: []string{"vp9"}})
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, ans)
	checkLines(t, d, []wantM{
		{"audio", "0", "recvonly", 9, []string{"111"}},
		{"video", "1", "recvonly", 9, []string{"98"}},
		{"application", "2", "", 9, []string{"webrtc-datachannel"}},
	})
	if got := values(d.MediaDescriptions[1], "rtcp-fb"); !slices.Equal(got, []string{"98 nack"}) {
		t.Errorf("vp9 rtcp-fb %q", got)
	}
	s := mustParse(t, sub)
	if got := values(s.MediaDescriptions[1], "fmtp"); !slices.Equal(got, []string{"98 profile-id=0"}) {
		t.Errorf("sub vp9 fmtp %q", got)
	}
}

func TestRejections(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n"
	offer := head +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 1.1.1.1\r\na=mid:a1\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 1.1.1.1\r\na=mid:a2\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 1.1.1.1\r\na=mid:a3\r\na=rtpmap:0 PCMU/8000\r\n" +
		"m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 1.1.1.1\r\na=mid:v0\r\na=rtpmap:96 VP8/90000\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 1.1.1.1\r\na=mid:v1\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n" +
		"m=text 9 RTP/AVP 98\r\nc=IN IP4 1.1.1.1\r\na=mid:t\r\n" +
		"m=application 9 DTLS/SCTP 5000\r\nc=IN IP4 1.1.1.1\r\na=mid:d1\r\na=sctpmap:5000 webrtc-datachannel 1024\r\n" +
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 1.1.1.1\r\na=mid:d2\r\n"
	ans, sub, err := AnswerPublisher(offer, Options{VideoCodecs: []string{"vp8"}})
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, ans)
	checkLines(t, d, []wantM{
		{"audio", "a1", "recvonly", 9, []string{"111"}},
		{"audio", "a2", "inactive", 0, []string{"111"}},
		{"audio", "a3", "inactive", 0, []string{"0"}},
		{"video", "v0", "inactive", 0, []string{"96"}},
		{"video", "v1", "inactive", 9, []string{"96"}}, // offered recvonly: we won't send
		{"text", "t", "inactive", 0, []string{"98"}},
		{"application", "d1", "", 9, []string{"5000"}},
		{"application", "d2", "inactive", 0, []string{"webrtc-datachannel"}},
	})
	if g, _ := d.Attribute("group"); g != "BUNDLE a1 v1 d1" {
		t.Errorf("group %q", g)
	}
	if got := values(d.MediaDescriptions[6], "sctpmap"); !slices.Equal(got, []string{"5000 webrtc-datachannel 1024"}) {
		t.Errorf("legacy sctpmap %q", got)
	}
	// Video was not received, so the subscriber offer uses the VP8 fallback.
	s := mustParse(t, sub)
	if got := s.MediaDescriptions[1].MediaName.Formats; !slices.Equal(got, []string{"96"}) {
		t.Errorf("sub video %v", got)
	}
	if got := s.MediaDescriptions[0].MediaName.Formats; !slices.Equal(got, []string{"111"}) {
		t.Errorf("sub audio %v", got)
	}
}

func TestDataOnlyOffer(t *testing.T) {
	// naf-janus-adapter's first offer: data channel only.
	offer := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
	ans, sub, err := AnswerPublisher(offer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, mustParse(t, ans), []wantM{{"application", "0", "", 9, []string{"webrtc-datachannel"}}})
	s := mustParse(t, sub)
	checkLines(t, s, []wantM{
		{"audio", "0", "sendonly", 9, []string{"111"}},
		{"video", "1", "sendonly", 9, []string{"107"}},
		{"application", "2", "", 9, []string{"webrtc-datachannel"}},
	})
	if got := values(s.MediaDescriptions[0], "fmtp"); !slices.Equal(got, []string{"111 " + OpusFmtp}) {
		t.Errorf("fallback opus fmtp %q", got)
	}
}

func TestErrors(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n"
	cases := []struct {
		in   string
		want error
	}{
		{"", ErrInvalid},
		{"hello", ErrInvalid},
		{"v=0\r\nbogus", ErrInvalid},
		{head, ErrNoMedia},
		{head + strings.Repeat("a=x:y\r\n", MaxSize/7+1), ErrTooLarge},
		{head + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n", ErrNoAcceptable},
		{head + "m=video 9 UDP/TLS/RTP/SAVPF 100\r\na=rtpmap:100 H265/90000\r\n", ErrNoAcceptable},
		{head + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", nil},
	}
	for _, c := range cases {
		_, _, err := AnswerPublisher(c.in, Options{})
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("AnswerPublisher(%.40q) = %v, want %v", c.in, err, c.want)
		}
		if err != nil && err.Error() == "" {
			t.Errorf("empty error text")
		}
	}
	if err := ValidateAnswer("garbage"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ValidateAnswer(garbage) = %v", err)
	}
	if err := ValidateAnswer(head); !errors.Is(err, ErrNoMedia) {
		t.Errorf("ValidateAnswer(no media) = %v", err)
	}
	if err := ValidateAnswer(strings.Repeat("v", MaxSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ValidateAnswer(huge) = %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{VideoCodecs: []string{"h264", "VP8", "vp9", "av1"}, H264Profile: "42E01F"}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (Options{VideoCodecs: []string{"h265"}}).Validate(); err == nil {
		t.Error("h265 accepted")
	}
	if err := (Options{H264Profile: "42e01"}).Validate(); err == nil {
		t.Error("short profile accepted")
	}
}

func TestPayloadTypeClash(t *testing.T) {
	// Publisher video negotiated on pt 111 (Opus's usual number) with no
	// audio: subscribers still get VP8 on its fixed 96, audio on 111.
	offer := "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 VP8/90000\r\n"
	n, err := Negotiate(offer, Options{VideoCodecs: []string{"vp8"}})
	if err != nil {
		t.Fatal(err)
	}
	s := mustParse(t, n.SubscriberOffer)
	if a, v := s.MediaDescriptions[0].MediaName.Formats[0], s.MediaDescriptions[1].MediaName.Formats[0]; a != "111" || v != "96" {
		t.Errorf("audio pt %s, video pt %s", a, v)
	}
	if want := (sfu.PayloadMap{AudioFrom: -1, AudioTo: -1, VideoFrom: 111, VideoTo: 96}); n.Payloads != want {
		t.Errorf("payload map %+v, want %+v", n.Payloads, want)
	}
}

// Renegotiation with a different publisher payload type keeps the
// subscriber offer's numbers: only the map changes.
func TestSubscriberPayloadTypesStable(t *testing.T) {
	mk := func(vpt string) string {
		return "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n" +
			"m=video 9 UDP/TLS/RTP/SAVPF " + vpt + "\r\na=mid:0\r\na=rtpmap:" + vpt + " H264/90000\r\n" +
			"a=fmtp:" + vpt + " level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
	}
	var subs []string
	for _, pt := range []string{"102", "108", "127"} {
		n, err := Negotiate(mk(pt), Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := mustParse(t, n.SubscriberOffer).MediaDescriptions[1]
		subs = append(subs, strings.Join(m.MediaName.Formats, " "))
		if n.Payloads.VideoTo != 107 || strconv.Itoa(n.Payloads.VideoFrom) != pt {
			t.Errorf("pt %s: map %+v", pt, n.Payloads)
		}
	}
	if subs[0] != "107" || subs[1] != "107" || subs[2] != "107" {
		t.Errorf("subscriber video formats changed across renegotiations: %v", subs)
	}
}

// Janus's janus_sdp_write puts a session-level c= after t=; LF-only input
// and blank lines must be tolerated too.
func TestJanusWriterQuirks(t *testing.T) {
	offer := "v=0\no=- 1 1 IN IP4 1.1.1.1\ns=Meetecho Janus\nt=0 0\nc=IN IP4 1.1.1.1\na=msid-semantic: WMS *\n\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\nc=IN IP4 1.1.1.1\nb=AS:64\na=sendrecv\na=mid:audio\na=rtpmap:111 opus/48000/2\n"
	ans, _, err := AnswerPublisher(offer, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, mustParse(t, ans), []wantM{{"audio", "audio", "recvonly", 9, []string{"111"}}})
	if err := ValidateAnswer(offer); err != nil {
		t.Error(err)
	}
}

// AnswerPublisher is Negotiate without the payload map.
func AnswerPublisher(offer string, o Options) (answer string, subscriberOffer string, err error) {
	n, err := Negotiate(offer, o)
	return n.Answer, n.SubscriberOffer, err
}

func BenchmarkNegotiate(b *testing.B) {
	offer := fixture(b, "chrome.sdp")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Negotiate(offer, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
