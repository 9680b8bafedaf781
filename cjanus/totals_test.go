package cjanus

import (
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus/ctest"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// The admin API's relay totals keep counting what retired sessions relayed.
func TestRelayTotalsOutliveSessions(t *testing.T) {
	f := newFixture(t, 1)
	pub, ph := f.session()
	sub, _ := f.session()
	f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{RTP: []sfu.SessionID{sub}}}}, nil)
	for i := 0; i < 4; i++ {
		ctest.RTPFrom(ph, 2)
	}
	ctest.DataFrom(ph)
	want := sfu.RelayCounts{RTPIn: 4, RTPOut: 4, DataIn: 1}
	if got := f.g.RelayTotals(); got != want {
		t.Fatalf("totals %+v, want %+v", got, want)
	}
	// The subscriber goes, then the publisher: nothing is lost.
	f.publish([]sfu.RouteUpdate{{Session: pub}}, []sfu.SessionID{sub})
	ctest.RTPFrom(ph, 2)
	want.RTPIn++
	if got := f.g.RelayTotals(); got != want {
		t.Fatalf("after retiring the subscriber: totals %+v, want %+v", got, want)
	}
	f.g.detach(pub)
	f.publish(nil, []sfu.SessionID{pub})
	if got := f.g.RelayTotals(); got != want {
		t.Fatalf("after retiring everyone: totals %+v, want %+v", got, want)
	}
	if n := len(f.g.sessions); n != 0 {
		t.Fatalf("%d sessions left unfreed", n)
	}
}

func TestVersionNumber(t *testing.T) {
	for v, want := range map[string]int{
		"dev": 0, "5d890c9": 0, "v2.1.3": 20103, "2.1.3": 20103, "v1.0.0-4-g5d890c9-dirty": 10000,
		"v1.2": 0, "v1000.0.0": 0,
	} {
		if got := versionNumber(v); got != want {
			t.Errorf("versionNumber(%q) = %d, want %d", v, got, want)
		}
	}
}
