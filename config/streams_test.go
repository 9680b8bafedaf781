package config

import (
	"strings"
	"testing"
	"time"
)

func TestStreamsOfferTimeoutKey(t *testing.T) {
	c, _, err := Parse("x.cfg", []byte("[general]\n"))
	if err != nil || c.StreamsOfferTimeout != 20*time.Second {
		t.Fatalf("default: %v %v", c.StreamsOfferTimeout, err)
	}
	for in, want := range map[string]time.Duration{"0": 0, "100": 100 * time.Millisecond, "3600000": time.Hour} {
		c, warn, err := Parse("x.cfg", []byte("[general]\nstreams_offer_timeout_ms = "+in+"\n"))
		if err != nil || len(warn) != 0 || c.StreamsOfferTimeout != want {
			t.Errorf("%s: %v %v %v, want %v", in, c.StreamsOfferTimeout, warn, err, want)
		}
	}
	for in, want := range map[string]string{
		"99":      "x.cfg:2: streams_offer_timeout_ms: 99 is neither 0 nor within 100..3600000",
		"3600001": "x.cfg:2: streams_offer_timeout_ms: 3600001 is neither 0 nor within 100..3600000",
		"-1":      "x.cfg:2: streams_offer_timeout_ms:",
		"soon":    "x.cfg:2: streams_offer_timeout_ms:",
	} {
		_, _, err := Parse("x.cfg", []byte("[general]\nstreams_offer_timeout_ms = "+in+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

func TestMaxStreamsPerSubscriberKey(t *testing.T) {
	c, _, err := Parse("x.cfg", []byte("[general]\n"))
	if err != nil || c.MaxStreamsPerSubscriber != 128 {
		t.Fatalf("default: %v %v", c.MaxStreamsPerSubscriber, err)
	}
	for in, want := range map[string]int{"0": 0, "2": 2, "1024": 1024} {
		c, warn, err := Parse("x.cfg", []byte("[general]\nmax_streams_per_subscriber = "+in+"\n"))
		if err != nil || len(warn) != 0 || c.MaxStreamsPerSubscriber != want {
			t.Errorf("%s: %v %v %v, want %v", in, c.MaxStreamsPerSubscriber, warn, err, want)
		}
	}
	for in, want := range map[string]string{
		"1":    "x.cfg:2: max_streams_per_subscriber: 1 is neither 0 nor within 2..1024",
		"1025": "x.cfg:2: max_streams_per_subscriber: 1025 is neither 0 nor within 2..1024",
		"-1":   "x.cfg:2: max_streams_per_subscriber:",
		"many": "x.cfg:2: max_streams_per_subscriber:",
	} {
		_, _, err := Parse("x.cfg", []byte("[general]\nmax_streams_per_subscriber = "+in+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}
