package peer

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// The publisher offers what naf-janus-adapter's does.
func TestPublisherOffer(t *testing.T) {
	api, err := NewAPI(Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := api.NewPublisher("alice")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	offer, err := p.PC.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, l := range strings.Split(offer.SDP, "\r\n") {
		if strings.HasPrefix(l, "m=") {
			kinds = append(kinds, strings.Fields(l[2:])[0])
		}
	}
	slices.Sort(kinds)
	if strings.Join(kinds, ",") != "application,audio,video" {
		t.Errorf("m-lines %v, want application, audio, video", kinds)
	}
	if !strings.Contains(offer.SDP, H264Fmtp) || !strings.Contains(offer.SDP, "opus/48000/2") {
		t.Errorf("offer lacks Opus or H.264 %s:\n%s", H264Fmtp, offer.SDP)
	}
	if len(p.Channels) != 2 || p.Channels[Reliable] == nil || p.Channels[Unreliable] == nil {
		t.Errorf("channels %v", p.Channels)
	}

	m, err := api.NewMediaPublisher("bob")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if o, _ := m.PC.CreateOffer(nil); strings.Contains(o.SDP, "m=application") || len(m.Channels) != 0 {
		t.Errorf("media publisher has data channels:\n%s", o.SDP)
	}
}

func TestUsersAndJoin(t *testing.T) {
	if u, err := Users([]byte(`{"users":{"r":["a","b"]}}`), "r"); err != nil || strings.Join(u, ",") != "a,b" {
		t.Errorf("Users: %v %v", u, err)
	}
	if _, err := Users([]byte(`{"users":{}}`), "r"); err == nil {
		t.Error("Users of a missing room: no error")
	}
	j := Join("r", "u", nil, "")
	if _, has := j["subscribe"]; has || j["kind"] != "join" {
		t.Errorf("Join without subscribe/token: %v", j)
	}
	if j := Join("r", "u", MediaSubscribe("x"), "tok"); j["token"] != "tok" || j["subscribe"].(map[string]any)["media"] != "x" {
		t.Errorf("Join: %v", j)
	}
}

func TestParallel(t *testing.T) {
	var ran, inFlight, most atomic.Int64
	boom := errors.New("boom")
	err := Parallel(3, 50, func(i int) error {
		ran.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("err %v, want boom", err)
	}
	if most.Load() > 3 {
		t.Errorf("%d calls at once, limit 3", most.Load())
	}
	if ran.Load() == 50 {
		t.Log("every call ran before the failure was seen (allowed, unlikely)")
	}
}
