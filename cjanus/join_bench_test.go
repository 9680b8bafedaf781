package cjanus

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus/ctest"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// signalling is the real Gateway with PushEvent replaced: the fake host has
// no push_event, and Janus's own cost of a push is not ours to measure.
type signalling struct {
	*Gateway
	responses chan string
}

func (g signalling) PushEvent(_ sfu.SessionID, txn string, _, _ []byte) error {
	if txn != "" {
		g.responses <- txn
	}
	return nil
}

type noNegotiator struct{}

func (noNegotiator) Negotiate(string) (sfu.Negotiation, error) { return sfu.Negotiation{}, nil }
func (noNegotiator) ValidateAnswer(string) error               { return nil }

// BenchmarkJoinRoomSizeCJanus: the n-th publisher joins a room of n-1
// through the switchboard and the real route publication (C arrays, the
// reclaimer), then leaves untimed.
func BenchmarkJoinRoomSizeCJanus(b *testing.B) {
	for _, n := range []int{40, 400} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctest.Install(1)
			g := newGateway()
			sg := signalling{Gateway: g, responses: make(chan string, 1)}
			s := sfu.NewServer(sg, sfu.Options{Negotiator: noNegotiator{}, Workers: 1})
			var handles []unsafe.Pointer
			join := func(user string) sfu.SessionID {
				h := ctest.NewHandle()
				handles = append(handles, h)
				id, err := g.attach(h)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.CreateSession(id); err != nil {
					b.Fatal(err)
				}
				s.HandleMessage(id, "j", []byte(`{"kind":"join","room_id":"r","user_id":"`+user+`","subscribe":{"notifications":true,"data":true}}`), nil)
				<-sg.responses
				return id
			}
			for i := 1; i < n; i++ {
				join(fmt.Sprint("u", i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := join("new")
				b.StopTimer()
				g.detach(id)
				s.DestroySession(id)
				// The next join must not overlap this leave's work.
				for s.QuerySession(id) != nil && string(s.QuerySession(id)) != "{}" {
				}
				g.reclaimNow()
				b.StartTimer()
			}
			b.StopTimer()
			s.Destroy()
			g.close()
		})
	}
}
