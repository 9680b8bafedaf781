package sdp

import (
	"os"
	"strings"
	"testing"
)

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
	f.Fuzz(func(t *testing.T, offer, codecs string) {
		o := Options{VideoCodecs: strings.Split(codecs, ",")}
		ans, sub, err := AnswerPublisher(offer, o)
		if err != nil {
			if ans != "" || sub != "" || err.Error() == "" {
				t.Fatalf("error %v with output", err)
			}
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
