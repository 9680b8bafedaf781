package sfu

import (
	"fmt"
	"strings"
	"testing"
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
func (g *benchGateway) EndSession(SessionID)                              {}
func (g *benchGateway) SetAudioLevelExtension(SessionID, int)             {}
func (g *benchGateway) AudioLevel(SessionID) (uint64, uint64, bool)       { return 0, 0, false }
func (g *benchGateway) EventsEnabled() bool                               { return false }
func (g *benchGateway) NotifyEvent(SessionID, []byte)                     {}
func (g *benchGateway) RequestKeyframe(SessionID)                         {}
func (g *benchGateway) SetPayloadMap(SessionID, PayloadMap)               {}
func (g *benchGateway) Publish([]RouteUpdate, []GroupUpdate, []SessionID) {}

// benchRoom builds a server with n publishers in room "r" (ids 1..n).
func benchRoom(b *testing.B, n int, gw *benchGateway, neg Negotiator) *Server {
	return benchRoomSubscribed(b, n, gw, neg, `{"notifications":true,"data":true}`)
}

// benchRoomSubscribed is benchRoom with the members' subscribe object.
func benchRoomSubscribed(b *testing.B, n int, gw *benchGateway, neg Negotiator, subscribe string) *Server {
	b.Helper()
	s := NewServer(gw, Options{Negotiator: neg, Workers: 1})
	b.Cleanup(s.Destroy)
	for i := 1; i <= n; i++ {
		id := SessionID(i)
		if err := s.CreateSession(id); err != nil {
			b.Fatal(err)
		}
		s.handle(task{id: id, transaction: "o", jsep: []byte(jsepJSON("offer", fmt.Sprintf("o%d", i)))})
		s.handle(task{id: id, transaction: "j", body: []byte(joinJSON("r", fmt.Sprintf("u%d", i), subscribe))})
	}
	return s
}

// BenchmarkJoin: a publisher joins a room of 30 (join events to 30
// publishers, routes of 31 sessions republished). The leave afterwards is
// not timed.
func BenchmarkJoin(b *testing.B) {
	join := []byte(joinJSON("r", "new", `{"notifications":true,"data":true}`))
	b.Run("handle", func(b *testing.B) { benchJoinLeave(b, 30, join) })
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
			s.settle()
			b.StartTimer()
		}
	})
}

// BenchmarkDataBroadcast30: kind:"data" from one of 30 publishers, pushed
// to the 29 others.
func BenchmarkDataBroadcast30(b *testing.B) {
	msg := []byte(`{"kind":"data","body":"{\"dataType\":\"u\",\"data\":{\"networkId\":\"abc\",\"owner\":\"u1\",\"components\":{\"0\":{\"x\":1,\"y\":2,\"z\":3}}}}"}`)
	benchMessage(b, "", func(b *testing.B, gw *benchGateway) *Server { return benchRoom(b, 30, gw, fakeNegotiator{}) },
		task{id: 1, transaction: "t", body: msg})
}

// benchMessage times one message, from setup's server, two ways: handle
// (the worker's processing alone) and e2e (HandleMessage through the
// queue until the response is pushed). prefix names the pair.
func benchMessage(b *testing.B, prefix string, setup func(*testing.B, *benchGateway) *Server, t task) {
	b.Run(prefix+"handle", func(b *testing.B) {
		s := setup(b, &benchGateway{})
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.handle(t)
		}
	})
	b.Run(prefix+"e2e", func(b *testing.B) {
		gw := &benchGateway{}
		s := setup(b, gw)
		gw.signal = make(chan string, 1)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.HandleMessage(t.id, t.transaction, t.body, t.jsep)
			<-gw.signal
		}
	})
}

// BenchmarkOfferAnswer: a publisher (with 5 subscribers to renegotiate)
// sends an offer and gets the answer, with the fake negotiator (the real
// SDP code is timed in sdp_bench_test.go).
func BenchmarkOfferAnswer(b *testing.B) {
	jsep := []byte(jsepJSON("offer", "v=0"))
	setup := func(b *testing.B, gw *benchGateway) *Server {
		s := benchRoom(b, 1, gw, fakeNegotiator{})
		s.handle(task{id: 1, transaction: "o", jsep: jsep})
		for i := 2; i <= 6; i++ {
			s.CreateSession(SessionID(i))
			s.handle(task{id: SessionID(i), transaction: "j", body: []byte(joinJSON("r", fmt.Sprintf("s%d", i), `{"media":"u1"}`))})
		}
		return s
	}
	benchMessage(b, "fake/", setup, task{id: 1, transaction: "t", jsep: jsep})
}

// benchJoinLeave times one publisher's join to a room of n publishers;
// its leave is not timed.
func benchJoinLeave(b *testing.B, n int, join []byte) {
	benchJoinLeaveIn(b, benchRoom(b, n, &benchGateway{}, fakeNegotiator{}), join)
}

func benchJoinLeaveIn(b *testing.B, s *Server, join []byte) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := SessionID(100000 + i)
		b.StopTimer()
		s.CreateSession(id)
		b.StartTimer()
		s.handle(task{id: id, transaction: "t", body: join})
		b.StopTimer()
		s.DestroySession(id)
		s.settle()
		b.StartTimer()
	}
}

// BenchmarkJoinRoomSize: the n-th publisher joins a room of n-1 (join
// events to all of them, the room's data group gains it). Flat per-join
// cost apart from the n notifications is the goal; the quiet variant's
// members take no notifications, which leaves the join response's n users
// as the only work that grows with n.
func BenchmarkJoinRoomSize(b *testing.B) {
	join := []byte(joinJSON("r", "new", `{"notifications":true,"data":true}`))
	for _, n := range []int{40, 400} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchJoinLeave(b, n-1, join) })
	}
	for _, n := range []int{40, 400} {
		b.Run(fmt.Sprint(n, "-quiet"), func(b *testing.B) {
			benchJoinLeaveIn(b, benchRoomSubscribed(b, n-1, &benchGateway{}, fakeNegotiator{}, `{"data":true}`), join)
		})
	}
}

// BenchmarkLeaveRoomSize: the n-th publisher of a room leaves (destroy).
func BenchmarkLeaveRoomSize(b *testing.B) {
	join := []byte(joinJSON("r", "new", `{"notifications":true,"data":true}`))
	for _, n := range []int{40, 400} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := benchRoom(b, n-1, &benchGateway{}, fakeNegotiator{})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				id := SessionID(100000 + i)
				b.StopTimer()
				s.CreateSession(id)
				s.handle(task{id: id, transaction: "t", body: join})
				b.StartTimer()
				s.destroySession(id)
			}
		})
	}
}

// BenchmarkParseMessageLargeData: ParseMessage of a kind:"data" message
// near MaxDataBytes (what one large NAF sync costs a worker).
func BenchmarkParseMessageLargeData(b *testing.B) {
	msg := []byte(`{"kind":"data","body":"` + strings.Repeat("x", MaxDataBytes-1024) + `"}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseMessage(msg); err != nil {
			b.Fatal(err)
		}
	}
}
