package sfu_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/sdp"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// signalGateway signals each response (a push with a transaction).
type signalGateway struct{ signal chan string }

func (g *signalGateway) PushEvent(_ sfu.SessionID, txn string, _, _ []byte) error {
	if txn != "" && g.signal != nil {
		g.signal <- txn
	}
	return nil
}
func (g *signalGateway) EndSession(sfu.SessionID)                                      {}
func (g *signalGateway) EventsEnabled() bool                                           { return false }
func (g *signalGateway) SetAudioLevelExtension(sfu.SessionID, int)                     {}
func (g *signalGateway) AudioLevel(sfu.SessionID) (uint64, uint64, bool)               { return 0, 0, false }
func (g *signalGateway) NotifyEvent(sfu.SessionID, []byte)                             {}
func (g *signalGateway) RequestKeyframe(sfu.SessionID)                                 {}
func (g *signalGateway) SetPayloadMap(sfu.SessionID, sfu.PayloadMap)                   {}
func (g *signalGateway) Publish([]sfu.RouteUpdate, []sfu.GroupUpdate, []sfu.SessionID) {}

// BenchmarkOfferAnswerSDP: BenchmarkOfferAnswer with the production
// negotiator and Chrome's offer (external test package: sdp imports sfu).
func BenchmarkOfferAnswerSDP(b *testing.B) {
	raw, err := os.ReadFile("../sdp/testdata/chrome.sdp")
	if err != nil {
		b.Fatal(err)
	}
	chrome := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n", "\r\n")
	if _, err := sdp.Negotiate(chrome, sdp.Options{}); err != nil {
		b.Fatalf("chrome fixture rejected: %v", err)
	}
	gw := &signalGateway{signal: make(chan string, 1)}
	s := sfu.NewServer(gw, sfu.Options{Negotiator: sdp.Negotiator{}, Workers: 1})
	b.Cleanup(s.Destroy)
	jsep := []byte(fmt.Sprintf(`{"type":"offer","sdp":%q}`, chrome))
	send := func(id sfu.SessionID, body string, jsep []byte) {
		var bb []byte
		if body != "" {
			bb = []byte(body)
		}
		s.HandleMessage(id, "t", bb, jsep)
		<-gw.signal
	}
	s.CreateSession(1)
	send(1, "", jsep)
	send(1, `{"kind":"join","room_id":"r","user_id":"u1","subscribe":{"notifications":true,"data":true}}`, nil)
	for i := 2; i <= 6; i++ {
		s.CreateSession(sfu.SessionID(i))
		send(sfu.SessionID(i), fmt.Sprintf(`{"kind":"join","room_id":"r","user_id":"s%d","subscribe":{"media":"u1"}}`, i), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		send(1, "", jsep)
	}
}
