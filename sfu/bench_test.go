package sfu

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/sdp"
)

// benchGateway records nothing; it signals each response (a push with a
// transaction) on a channel when signal is set.
type benchGateway struct {
	signal chan string
}

func (g *benchGateway) PushEvent(_ SessionID, txn string, _, _ []byte) error {
	if txn != "" && g.signal != nil {
		g.signal <- txn
	}
	return nil
}
func (g *benchGateway) EndSession(SessionID)                        {}
func (g *benchGateway) SetAudioLevelExtension(SessionID, int)       {}
func (g *benchGateway) AudioLevel(SessionID) (uint64, uint64, bool) { return 0, 0, false }
func (g *benchGateway) EventsEnabled() bool                         { return false }
func (g *benchGateway) NotifyEvent(SessionID, []byte)               {}
func (g *benchGateway) RequestKeyframe(SessionID)                   {}
func (g *benchGateway) SetPayloadMap(SessionID, PayloadMap)         {}
func (g *benchGateway) Publish([]RouteUpdate, []SessionID)          {}

// sdpNegotiator is the production negotiator.
type sdpNegotiator struct{}

func (sdpNegotiator) Negotiate(offer string) (Negotiation, error) {
	n, err := sdp.Negotiate(offer, sdp.Options{})
	return Negotiation{Answer: n.Answer, SubscriberOffer: n.SubscriberOffer, Payloads: PayloadMap(n.Payloads)}, err
}
func (sdpNegotiator) ValidateAnswer(answer string) error { return sdp.ValidateAnswer(answer) }

// benchRoom builds a server with n publishers in room "r" (ids 1..n).
func benchRoom(b *testing.B, n int, gw *benchGateway, neg Negotiator) *Server {
	b.Helper()
	s := NewServer(gw, Options{Negotiator: neg, Workers: 1})
	b.Cleanup(s.Destroy)
	for i := 1; i <= n; i++ {
		id := SessionID(i)
		if err := s.CreateSession(id); err != nil {
			b.Fatal(err)
		}
		s.handle(task{id: id, transaction: "o", jsep: []byte(jsepJSON("offer", fmt.Sprintf("o%d", i)))})
		s.handle(task{id: id, transaction: "j", body: []byte(joinJSON("r", fmt.Sprintf("u%d", i), `{"notifications":true,"data":true}`))})
	}
	return s
}

// BenchmarkJoin: a publisher joins a room of 30 (join events to 30
// publishers, routes of 31 sessions republished). The leave afterwards is
// not timed.
func BenchmarkJoin(b *testing.B) {
	join := []byte(joinJSON("r", "new", `{"notifications":true,"data":true}`))
	b.Run("handle", func(b *testing.B) {
		s := benchRoom(b, 30, &benchGateway{}, fakeNegotiator{})
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			id := SessionID(1000 + i)
			b.StopTimer()
			s.CreateSession(id)
			b.StartTimer()
			s.handle(task{id: id, transaction: "t", body: join})
			b.StopTimer()
			s.DestroySession(id)
			b.StartTimer()
		}
	})
	b.Run("e2e", func(b *testing.B) {
		gw := &benchGateway{}
		s := benchRoom(b, 30, gw, fakeNegotiator{})
		gw.signal = make(chan string, 1)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			id := SessionID(1000 + i)
			b.StopTimer()
			s.CreateSession(id)
			b.StartTimer()
			s.HandleMessage(id, "t", join, nil)
			<-gw.signal
			b.StopTimer()
			s.DestroySession(id)
			b.StartTimer()
		}
	})
}

// BenchmarkDataBroadcast30: kind:"data" from one of 30 publishers, pushed
// to the 29 others.
func BenchmarkDataBroadcast30(b *testing.B) {
	msg := []byte(`{"kind":"data","body":"{\"dataType\":\"u\",\"data\":{\"networkId\":\"abc\",\"owner\":\"u1\",\"components\":{\"0\":{\"x\":1,\"y\":2,\"z\":3}}}}"}`)
	b.Run("handle", func(b *testing.B) {
		s := benchRoom(b, 30, &benchGateway{}, fakeNegotiator{})
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.handle(task{id: 1, transaction: "t", body: msg})
		}
	})
	b.Run("e2e", func(b *testing.B) {
		gw := &benchGateway{}
		s := benchRoom(b, 30, gw, fakeNegotiator{})
		gw.signal = make(chan string, 1)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.HandleMessage(1, "t", msg, nil)
			<-gw.signal
		}
	})
}

// BenchmarkOfferAnswer: a publisher (with 5 subscribers to renegotiate)
// sends an offer and gets the answer.
func BenchmarkOfferAnswer(b *testing.B) {
	raw, err := os.ReadFile("../sdp/testdata/chrome.sdp")
	if err != nil {
		b.Fatal(err)
	}
	chrome := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n", "\r\n")
	if _, _, err := sdp.AnswerPublisher(chrome, sdp.Options{}); err != nil {
		b.Fatalf("chrome fixture rejected: %v", err)
	}
	for _, bc := range []struct {
		name  string
		neg   Negotiator
		offer string
	}{
		{"fake", fakeNegotiator{}, "v=0"},
		{"sdp-chrome", sdpNegotiator{}, chrome},
	} {
		jsep := []byte(jsepJSON("offer", bc.offer))
		setup := func(b *testing.B, gw *benchGateway) *Server {
			s := benchRoom(b, 1, gw, bc.neg)
			s.handle(task{id: 1, transaction: "o", jsep: jsep})
			for i := 2; i <= 6; i++ {
				s.CreateSession(SessionID(i))
				s.handle(task{id: SessionID(i), transaction: "j", body: []byte(joinJSON("r", fmt.Sprintf("s%d", i), `{"media":"u1"}`))})
			}
			return s
		}
		b.Run(bc.name+"/handle", func(b *testing.B) {
			s := setup(b, &benchGateway{})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.handle(task{id: 1, transaction: "t", jsep: jsep})
			}
		})
		b.Run(bc.name+"/e2e", func(b *testing.B) {
			gw := &benchGateway{}
			s := setup(b, gw)
			gw.signal = make(chan string, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.HandleMessage(1, "t", nil, jsep)
				<-gw.signal
			}
		})
	}
	b.Run("sdp.AnswerPublisher", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := sdp.AnswerPublisher(chrome, sdp.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
