package config

import (
	"os"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"[general]\n",
		"[general]\nauth_key = /etc/janus/public.der\nmax_room_size = 30\n",
		"[general]\nauth_key = \"/a\\\"b\" ; c\nvideo_codecs = h264,vp8\nh264_profile = 42e01f\n",
		"x = 1\n[other]\ny : 2\n[general]\nfoo=bar\n",
		"[general]\nmax_ccu = 1\nmax_ccu = 2\n",
		"[general\n",
		"[general]\nauth_key = '\x00\x7f\r'\n",
		"\ufeff[general]\r\nkeyframe_throttle_ms = 99999999999999999999\r\n",
		// Hostile: a huge line, many sections, negative and odd numbers.
		"[general]\nauth_key = " + strings.Repeat("a", 1<<20) + "\n",
		strings.Repeat("[general]\n", 10000),
		"[general]\nmax_room_size = -1\nmax_ccu = 0x10\nmessage_threads = 1e9\nvideo_codecs = ,\nh264_profile = 42e01\n",
		"[general]\nredis_url = redis://" + strings.Repeat("x", 4096) + "\n",
	}
	if data, err := os.ReadFile("../janus.plugin.sfu.cfg.example"); err == nil {
		seeds = append(seeds, string(data))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, warnings, err := Parse("f.cfg", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.cfg:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, w := range warnings {
			if !strings.HasPrefix(w, "f.cfg:") {
				t.Fatalf("warning does not name the file: %q", w)
			}
		}
		if c.MaxRoomSize < 0 || c.MaxCCU < 0 || c.MessageThreads < 0 || c.KeyframeInterval < 0 ||
			len(c.VideoCodecs) == 0 || len(c.H264Profile) != 6 {
			t.Fatalf("invalid config accepted: %+v", c)
		}
	})
}
