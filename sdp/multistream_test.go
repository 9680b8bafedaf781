package sdp

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	psdp "github.com/pion/sdp/v3"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// classicOffer is the classic subscriber offer built for a browser fixture.
func classicOffer(t *testing.T, fixtureName string, o Options) string {
	t.Helper()
	n, err := Negotiate(anonymize(t, fixture(t, fixtureName)), o)
	if err != nil {
		t.Fatal(err)
	}
	return n.SubscriberOffer
}

func codecOf(t *testing.T, m *psdp.MediaDescription) (pt, rtpmap, fmtp string) {
	t.Helper()
	if len(m.MediaName.Formats) != 1 {
		t.Fatalf("m-line has formats %v, want one", m.MediaName.Formats)
	}
	pt = m.MediaName.Formats[0]
	for _, a := range m.Attributes {
		switch a.Key {
		case "rtpmap":
			rtpmap = strings.TrimPrefix(a.Value, pt+" ")
		case "fmtp":
			fmtp = strings.TrimPrefix(a.Value, pt+" ")
		}
	}
	return pt, rtpmap, fmtp
}

func TestMultistreamOffer(t *testing.T) {
	o := Options{VideoCodecs: []string{"h264", "vp8"}}
	chrome, firefox := classicOffer(t, "chrome.sdp", o), classicOffer(t, "firefox.sdp", o)
	lines := []sfu.StreamLine{
		{Mid: "0", Kind: "audio", Source: chrome, User: "alice"},
		{Mid: "1", Kind: "video", Source: chrome, User: "alice"},
		{Mid: "2", Kind: "audio"},
		{Mid: "3", Kind: "video"},
		{Mid: "4", Kind: "audio", Source: firefox, User: "bob smith"},
		{Mid: "5", Kind: "video", Source: firefox, User: "bob smith"},
	}
	offer, err := MultistreamOffer(lines, o)
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, offer)
	checkLines(t, d, []wantM{
		{"audio", "0", "sendonly", 9, []string{"111"}},
		{"video", "1", "sendonly", 9, []string{"107"}},
		{"audio", "2", "inactive", 9, []string{"111"}},
		{"video", "3", "inactive", 9, []string{"107"}},
		{"audio", "4", "sendonly", 9, []string{"111"}},
		{"video", "5", "sendonly", 9, []string{"107"}},
	})
	if g, _ := d.Attribute("group"); g != "BUNDLE 0 1 2 3 4 5" {
		t.Errorf("group %q", g)
	}
	// One MediaStream per user: both of a user's lines share the stream id.
	wantMSID := map[int]string{0: "alice audio-0", 1: "alice video-1", 4: StreamID("bob smith") + " audio-4", 5: StreamID("bob smith") + " video-5"}
	for i, m := range d.MediaDescriptions {
		got := values(m, "msid")
		if w, ok := wantMSID[i]; ok != (len(got) == 1) || ok && got[0] != w {
			t.Errorf("m-line %d msid %v, want %q", i, got, w)
		}
	}
	// Every line describes payload type 107 as the first active line does,
	// although Firefox's H.264 fmtp differs from Chrome's.
	_, rtpmap, fmtp := codecOf(t, d.MediaDescriptions[1])
	for _, i := range []int{3, 5} {
		if _, r, f := codecOf(t, d.MediaDescriptions[i]); r != rtpmap || f != fmtp {
			t.Errorf("m-line %d describes 107 as %q %q, line 1 as %q %q", i, r, f, rtpmap, fmtp)
		}
	}
	// Codec facts are the classic offer's: same rtpmap, fmtp and feedback.
	classic := mustParse(t, chrome).MediaDescriptions[1]
	if !slices.Equal(values(classic, "rtcp-fb"), values(d.MediaDescriptions[1], "rtcp-fb")) {
		t.Errorf("rtcp-fb %v, classic %v", values(d.MediaDescriptions[1], "rtcp-fb"), values(classic, "rtcp-fb"))
	}
	if _, r, f := codecOf(t, classic); r != rtpmap || f != fmtp {
		t.Errorf("classic video %q %q, multistream %q %q", r, f, rtpmap, fmtp)
	}
}

// A VP8 publisher next to an H.264 one: each line keeps its codec.
func TestMultistreamOfferMixedCodecs(t *testing.T) {
	h264 := classicOffer(t, "chrome.sdp", Options{VideoCodecs: []string{"h264"}})
	vp8 := classicOffer(t, "chrome.sdp", Options{VideoCodecs: []string{"vp8"}})
	offer, err := MultistreamOffer([]sfu.StreamLine{
		{Mid: "0", Kind: "video", Source: vp8, User: "a"},
		{Mid: "1", Kind: "video", Source: h264, User: "b"},
		{Mid: "2", Kind: "video"},
	}, Options{VideoCodecs: []string{"h264"}})
	if err != nil {
		t.Fatal(err)
	}
	d := mustParse(t, offer)
	for i, want := range []string{"VP8/90000", "H264/90000", "H264/90000"} {
		if _, r, _ := codecOf(t, d.MediaDescriptions[i]); r != want {
			t.Errorf("m-line %d rtpmap %q, want %q", i, r, want)
		}
	}
}

func TestMultistreamOfferErrors(t *testing.T) {
	src := classicOffer(t, "chrome.sdp", Options{})
	for name, lines := range map[string][]sfu.StreamLine{
		"none":       nil,
		"kind":       {{Mid: "0", Kind: "application"}},
		"no mid":     {{Kind: "audio"}},
		"long mid":   {{Mid: "01234567890123456", Kind: "audio"}},
		"repeat mid": {{Mid: "0", Kind: "audio"}, {Mid: "0", Kind: "video"}},
		"bad source": {{Mid: "0", Kind: "audio", Source: "v=0\r\nbroken"}},
		"no kind in source": {{Mid: "0", Kind: "video",
			Source: "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"}},
	} {
		if _, err := MultistreamOffer(lines, Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := MultistreamOffer([]sfu.StreamLine{{Mid: "0", Kind: "audio", Source: src, User: "x"}}, Options{}); err != nil {
		t.Errorf("valid: %v", err)
	}
}

func TestStreamID(t *testing.T) {
	for user, want := range map[string]string{
		"1234567":   "1234567",
		"Alice.B-c": "Alice.B-c",
	} {
		if got := StreamID(user); got != want {
			t.Errorf("StreamID(%q) = %q, want %q", user, got, want)
		}
	}
	for _, user := range []string{"", "bob smith", "ü", strings.Repeat("x", 65), "a:b"} {
		got := StreamID(user)
		if !strings.HasPrefix(got, "u-") || len(got) != 34 || got == StreamID(user+"!") {
			t.Errorf("StreamID(%q) = %q", user, got)
		}
	}
}

func TestValidateStreamAnswer(t *testing.T) {
	ans := "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 107\r\na=mid:1\r\na=inactive\r\n"
	if err := ValidateStreamAnswer(ans, []string{"0", "1"}); err != nil {
		t.Fatal(err)
	}
	for _, mids := range [][]string{{"0"}, {"0", "1", "2"}, {"1", "0"}, {"0", "2"}} {
		if err := ValidateStreamAnswer(ans, mids); !errors.Is(err, ErrStreamMismatch) {
			t.Errorf("mids %v: %v", mids, err)
		}
	}
	if err := ValidateStreamAnswer("garbage", []string{"0"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("garbage: %v", err)
	}
}

func TestAudioLevelExtension(t *testing.T) {
	for _, name := range []string{"chrome.sdp", "firefox.sdp"} {
		offer := anonymize(t, fixture(t, name))
		n, err := Negotiate(offer, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// The id is the one the browser offered for the audio m-line.
		want := 0
		for _, md := range mustParse(t, offer).MediaDescriptions {
			if md.MediaName.Media != "audio" {
				continue
			}
			for _, e := range parseMline(md).extmaps {
				if e.uri == AudioLevelURI {
					want = e.id
				}
			}
		}
		if want == 0 {
			t.Fatalf("%s: fixture offers no audio level", name)
		}
		if got := AudioLevelExtension(n.Answer); got != want {
			t.Errorf("%s: AudioLevelExtension = %d, want %d", name, got, want)
		}
	}
	// Not offered: not negotiated.
	stripped := strings.ReplaceAll(anonymize(t, fixture(t, "chrome.sdp")), AudioLevelURI, "urn:example:other")
	n, err := Negotiate(stripped, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := AudioLevelExtension(n.Answer); got != 0 {
		t.Errorf("without the extension: %d", got)
	}
	if AudioLevelExtension("garbage") != 0 {
		t.Error("garbage answer has an audio level")
	}
}

// keepPluginMSID turns janusMerge's msid into Janus 1.x's: the plugin's
// own msid is kept when it set one (janus_sdp_process_local).
func keepPluginMSID(t *testing.T, merged string) string {
	d := mustParse(t, merged)
	for _, m := range d.MediaDescriptions {
		if len(values(m, "msid")) < 2 {
			continue
		}
		m.Attributes = slices.DeleteFunc(m.Attributes, func(a psdp.Attribute) bool {
			return a.Key == "msid" && strings.HasPrefix(a.Value, "janus ")
		})
	}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMultistreamPion: a default pion peer accepts an offer, answers it
// (the answer passes ValidateStreamAnswer), and accepts a renegotiation
// that marks lines inactive, recycles them and appends more.
func TestMultistreamPion(t *testing.T) {
	o := Options{}
	src := classicOffer(t, "chrome.sdp", o)
	sub, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	round := func(lines []sfu.StreamLine) {
		t.Helper()
		offer, err := MultistreamOffer(lines, o)
		if err != nil {
			t.Fatal(err)
		}
		merged := keepPluginMSID(t, janusMerge(t, offer, true))
		if err := sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: merged}); err != nil {
			t.Fatalf("pion rejected offer: %v\n%s", err, merged)
		}
		ans, err := sub.CreateAnswer(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.SetLocalDescription(ans); err != nil {
			t.Fatal(err)
		}
		var mids []string
		for _, l := range lines {
			mids = append(mids, l.Mid)
		}
		if err := ValidateStreamAnswer(ans.SDP, mids); err != nil {
			t.Fatalf("%v\n%s", err, ans.SDP)
		}
		d := mustParse(t, ans.SDP)
		for i, l := range lines {
			want := "recvonly"
			if l.Source == "" {
				want = "inactive"
			}
			if got := direction(d.MediaDescriptions[i]); got != want {
				t.Errorf("answer m-line %d: %s, want %s", i, got, want)
			}
		}
		if n := len(sub.GetTransceivers()); n != len(lines) {
			t.Errorf("%d transceivers for %d lines", n, len(lines))
		}
	}
	round([]sfu.StreamLine{
		{Mid: "0", Kind: "audio", Source: src, User: "a"}, {Mid: "1", Kind: "video", Source: src, User: "a"},
		{Mid: "2", Kind: "audio", Source: src, User: "b"}, {Mid: "3", Kind: "video", Source: src, User: "b"},
	})
	// b leaves.
	round([]sfu.StreamLine{
		{Mid: "0", Kind: "audio", Source: src, User: "a"}, {Mid: "1", Kind: "video", Source: src, User: "a"},
		{Mid: "2", Kind: "audio"}, {Mid: "3", Kind: "video"},
	})
	// c takes b's lines, d is appended.
	round([]sfu.StreamLine{
		{Mid: "0", Kind: "audio", Source: src, User: "a"}, {Mid: "1", Kind: "video", Source: src, User: "a"},
		{Mid: "2", Kind: "audio", Source: src, User: "c"}, {Mid: "3", Kind: "video", Source: src, User: "c"},
		{Mid: "4", Kind: "audio", Source: src, User: "d"}, {Mid: "5", Kind: "video", Source: src, User: "d"},
	})
}

func FuzzValidateStreamAnswer(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n", 1)
	f.Add("v=0\r\n", 0)
	f.Add("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n"+strings.Repeat("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n", 1000), 64)
	f.Add("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=mid:1\r\n", -1<<62)
	f.Add("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:"+strings.Repeat("\x91", 4096)+"\r\n", 1)
	f.Fuzz(func(t *testing.T, answer string, n int) {
		mids := make([]string, max(0, min(n, 64)))
		for i := range mids {
			mids[i] = string(rune('0' + i%10))
		}
		if err := ValidateStreamAnswer(answer, mids); err == nil {
			d, perr := parse(answer)
			if perr != nil || len(d.MediaDescriptions) != len(mids) {
				t.Fatalf("accepted an answer that does not match %v", mids)
			}
		} else {
			checkErrorSize(t, err)
		}
		_ = AudioLevelExtension(answer)
	})
}

// FuzzMultistreamOffer: any source either fails cleanly or gives an offer
// that parses, with the lines in order.
func FuzzMultistreamOffer(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n", "user", uint8(0b0110))
	f.Add("v=0\r\n", "", uint8(0))
	f.Fuzz(func(t *testing.T, source, user string, mask uint8) {
		var lines []sfu.StreamLine
		for i := 0; i < 4; i++ {
			l := sfu.StreamLine{Mid: string(rune('0' + i)), Kind: []string{"audio", "video"}[i%2]}
			if mask&(1<<i) != 0 {
				l.Source, l.User = source, user
			}
			lines = append(lines, l)
		}
		offer, err := MultistreamOffer(lines, Options{})
		if err != nil {
			return
		}
		var mids []string
		for _, l := range lines {
			mids = append(mids, l.Mid)
		}
		if err := ValidateStreamAnswer(offer, mids); err != nil {
			t.Fatalf("our offer: %v\n%s", err, offer)
		}
	})
}

// BenchmarkMultistreamOffer: the offer of a subscriber in a room of 24
// (23 other publishers, 46 lines), each publisher's source parsed once.
func BenchmarkMultistreamOffer(b *testing.B) {
	n, err := Negotiate(anonymize(&testing.T{}, fixture(&testing.T{}, "chrome.sdp")), Options{})
	if err != nil {
		b.Fatal(err)
	}
	var lines []sfu.StreamLine
	for p := 0; p < 23; p++ {
		src := strings.Replace(n.SubscriberOffer, "s=-", "s="+strconv.Itoa(p), 1) // distinct sources
		for _, kind := range []string{"audio", "video"} {
			lines = append(lines, sfu.StreamLine{Mid: strconv.Itoa(len(lines)), Kind: kind, Source: src, User: "user" + strconv.Itoa(p)})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MultistreamOffer(lines, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
