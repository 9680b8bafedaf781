package sfu

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuoted(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"short", "video", `"video"`},
		{"64 bytes", strings.Repeat("a", 64), strconv.Quote(strings.Repeat("a", 64))},
		{"long", strings.Repeat("a", 65), strconv.Quote(strings.Repeat("a", 64) + "…")},
		// 3-byte characters: byte 64 is inside the 22nd, so 21 are shown.
		{"cut between characters", strings.Repeat("€", 30), strconv.Quote(strings.Repeat("€", 21) + "…")},
		// Invalid bytes quote as \x escapes, 4 each: 23 fit in 100.
		{"invalid UTF-8", strings.Repeat("\x91", 100), strconv.Quote(strings.Repeat("\x91", 23) + "…")},
		{"short but escaped long", strings.Repeat("\x00", 30), strconv.Quote(strings.Repeat("\x00", 23) + "…")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Quoted(tc.in)
			if got != tc.want {
				t.Errorf("Quoted(%q) = %s, want %s", tc.in, got, tc.want)
			}
			if len(got) > 100 {
				t.Errorf("%d bytes", len(got))
			}
			if u, err := strconv.Unquote(got); err != nil || utf8.ValidString(tc.in) && !utf8.ValidString(u) {
				t.Errorf("%s: a character was cut (%v)", got, err)
			}
		})
	}
}
