package cjanus

import (
	"bytes"
	"testing"
)

func TestRTCPKeyframeKind(t *testing.T) {
	pli := []byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	fir := []byte{0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 7, 0, 0, 0}
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0, 1}
	sdes := []byte{0x81, 202, 0, 1, 0, 0, 0, 1}
	cat := func(b ...[]byte) []byte {
		var out []byte
		for _, x := range b {
			out = append(out, x...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want int
	}{
		{"pli", pli, rtcpPLI},
		{"fir", fir, rtcpFIR},
		{"rr", rr, 0},
		{"compound rr+pli", cat(rr, pli), rtcpPLI},
		{"compound pli+fir", cat(pli, fir), rtcpPLI | rtcpFIR},
		{"compound rr+sdes+pli", cat(rr, sdes, pli), rtcpPLI},
		{"compound rr+sdes+rr+fir", cat(rr, sdes, rr, fir), rtcpFIR},
		{"compound rr+sdes, truncated pli", cat(rr, sdes, pli[:8]), 0},
		{"padded pli", append([]byte{0xa1}, pli[1:]...), rtcpPLI},
		{"tstr (fmt 5) is none", append([]byte{0x85}, pli[1:]...), 0},
		{"fmt 20 is none", append([]byte{0x94}, pli[1:]...), 0},
		{"pli after a bad block", cat([]byte{0x41, 201, 0, 1, 0, 0, 0, 1}, pli), 0},
		{"truncated", pli[:10], 0},
		{"bad version", []byte{0x41, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}, 0},
		{"length past end", []byte{0x81, 206, 0, 9, 0, 0, 0, 1}, 0},
		{"empty", nil, 0},
	} {
		if got := rtcpKeyframeKind(tc.pkt); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
		if got := rtcpHasKeyframeRequest(tc.pkt); got != (tc.want != 0) {
			t.Errorf("%s: has keyframe request %v, want %v", tc.name, got, tc.want != 0)
		}
	}
}

func FuzzRTCPKeyframeKind(f *testing.F) {
	f.Add([]byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{0x80, 201, 0, 1, 0, 0, 0, 1, 0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 7, 0, 0, 0})
	// Truncated and lying compounds: every prefix of a PLI, a length
	// running past the end, a zero-length block looping in place, a FIR
	// whose FCI is cut, a compound of 64 blocks.
	pli := []byte{0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2}
	for n := 0; n < len(pli); n++ {
		f.Add(pli[:n])
	}
	f.Add([]byte{0x81, 206, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{0x80, 201, 0, 0, 0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2})
	f.Add([]byte{0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2})
	f.Add(bytes.Repeat([]byte{0x80, 201, 0, 1, 0, 0, 0, 1}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := rtcpKeyframeKind(b)
		if got&^(rtcpPLI|rtcpFIR) != 0 {
			t.Fatalf("unexpected bits %d", got)
		}
		// The storm path's early exit must agree with the full walk.
		if has := rtcpHasKeyframeRequest(b); has != (got != 0) {
			t.Fatalf("has keyframe request %v, kind %d", has, got)
		}
	})
}
