package config

import (
	"strings"
	"testing"
	"time"
)

func TestTalkingKeys(t *testing.T) {
	c, _, err := Parse("x.cfg", []byte("[general]\n"))
	if err != nil || !c.TalkingEvents || c.AudioLevelThreshold != 25 || c.AudioActive != time.Second {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, warn, err := Parse("x.cfg", []byte("[general]\ntalking_events = off\naudio_level_threshold = 40\naudio_active_ms = 500\n"))
	if err != nil || len(warn) != 0 || c.TalkingEvents || c.AudioLevelThreshold != 40 || c.AudioActive != 500*time.Millisecond {
		t.Fatalf("set: %+v %v %v", c, warn, err)
	}
	for in, want := range map[string]string{
		"talking_events = maybe":      `x.cfg:2: talking_events: "maybe" is not a boolean (true or false)`,
		"audio_level_threshold = 128": "x.cfg:2: audio_level_threshold: 128 is not a level in dBov (0 loudest .. 127 silence)",
		"audio_level_threshold = -1":  "x.cfg:2: audio_level_threshold:",
		"audio_active_ms = 99":        "x.cfg:2: audio_active_ms: 99 is outside 100..60000",
		"audio_active_ms = 60001":     "x.cfg:2: audio_active_ms: 60001 is outside 100..60000",
	} {
		_, _, err := Parse("x.cfg", []byte("[general]\n"+in+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}
