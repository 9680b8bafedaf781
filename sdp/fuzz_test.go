package sdp

import (
	"os"
	"strings"
	"testing"
)

// checkErrorSize fails t when err's message, which goes back to the
// client, is longer than any bounded message can be.
func checkErrorSize(t *testing.T, err error) {
	t.Helper()
	if len(err.Error()) > 300 {
		t.Fatalf("error message of %d bytes goes back to the client: %.80q…", len(err.Error()), err.Error())
	}
}

func FuzzAnswerPublisher(f *testing.F) {
	for _, name := range []string{"chrome.sdp", "firefox.sdp", "pion.sdp"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.ReplaceAll(string(b), "\n", "\r\n"), "h264,vp8")
	}
	f.Add("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=application 9 DTLS/SCTP 5000\r\n", "vp9")
	f.Add("v=0\r\n", "")
	// Hostile offers: as large as a jsep.sdp may be (sfu.MaxSDPBytes) in
	// candidates, one huge attribute line, hundreds of m-lines, odd
	// payload types and extmap ids, bare LF, NUL bytes.
	head := "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\n"
	audio := "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
	f.Add(head+audio+strings.Repeat("a=candidate:1 1 udp 2122260223 198.18.0.2 50000 typ host\r\n", 64<<10/60), "h264")
	f.Add(head+audio+"a=x:"+strings.Repeat("y", 64<<10)+"\r\n", "h264")
	f.Add(head+strings.Repeat(audio, 512), "h264")
	f.Add(head+"m=video 9 UDP/TLS/RTP/SAVPF 4294967296 -1 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=zz;;=\r\na=extmap:300 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n", "h264,h264,,vp8")
	f.Add(strings.ReplaceAll(head+audio, "\r\n", "\n"), "h264")
	f.Add(head+"m=audio 9 UDP/TLS/RTP/SAVPF\r\n\x00a=mid:\x00\r\n", "\x00")
	// The parser's reason quotes a bad field whole (FuzzValidateStreamAnswer
	// found a 301-byte error message this way).
	f.Add(head+"m=audio "+strings.Repeat("\xbc", 4096)+" UDP/TLS/RTP/SAVPF 111\r\n", "h264")
	f.Fuzz(func(t *testing.T, offer, codecs string) {
		o := Options{VideoCodecs: strings.Split(codecs, ",")}
		ans, sub, err := AnswerPublisher(offer, o)
		if err != nil {
			if ans != "" || sub != "" || err.Error() == "" {
				t.Fatalf("error %v with output", err)
			}
			checkErrorSize(t, err)
			return
		}
		// Our own outputs must parse.
		if err := ValidateAnswer(ans); err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, ans)
		}
		if err := ValidateAnswer(sub); err != nil {
			t.Fatalf("subscriber offer does not parse: %v\n%s", err, sub)
		}
		_ = ValidateAnswer(offer)
	})
}
