package cjanus

import (
	"encoding/binary"
	"testing"
)

// rtpWithExtension builds an RTP packet with csrcs CSRCs, the given
// extension profile and block (padded to whole words), and a payload.
func rtpWithExtension(csrcs int, profile uint16, block []byte) []byte {
	pkt := []byte{0x90 | byte(csrcs), 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}
	pkt = append(pkt, make([]byte, 4*csrcs)...)
	for len(block)%4 != 0 {
		block = append(block, 0)
	}
	pkt = binary.BigEndian.AppendUint16(pkt, profile)
	pkt = binary.BigEndian.AppendUint16(pkt, uint16(len(block)/4))
	pkt = append(pkt, block...)
	return append(pkt, 0xfc, 0xff, 0xfe) // Opus payload
}

func TestRTPAudioLevel(t *testing.T) {
	oneByte := func(block ...byte) []byte { return rtpWithExtension(0, 0xbede, block) }
	twoByte := func(block ...byte) []byte { return rtpWithExtension(0, 0x1000, block) }
	for _, tc := range []struct {
		name  string
		pkt   []byte
		extID int
		want  int
	}{
		{"one-byte, level 42 with vad", oneByte(0x10, 0x80|42), 1, 42},
		{"one-byte, vad bit off", oneByte(0x10, 42), 1, 42},
		{"one-byte, silence", oneByte(0x10, 0x7f), 1, 127},
		{"one-byte, after another element", oneByte(0x31, 0xaa, 0xbb, 0x10, 9), 1, 9},
		{"one-byte, after padding", oneByte(0, 0, 0x50, 17), 5, 17},
		{"one-byte, id 14", oneByte(0xe0, 3), 14, 3},
		{"one-byte, other id only", oneByte(0x20, 9), 1, -1},
		{"one-byte, stop id hides the rest", oneByte(0xf0, 0x10, 9), 1, -1},
		{"one-byte, element past the block", rtpWithExtension(0, 0xbede, []byte{0x23, 1, 2, 3})[:20], 1, -1},
		{"one-byte, length runs past the block", oneByte(0x3f, 1, 2, 0x10, 5), 1, -1},
		{"one-byte, data one byte past the block", oneByte(0x13, 1, 2, 3), 1, -1},
		{"two-byte, data one byte past the block", twoByte(1, 3, 20, 21), 1, -1},
		{"one-byte, id 15 is never an element", oneByte(0xf0, 9), 15, -1},
		{"one-byte, with CSRCs", rtpWithExtension(3, 0xbede, []byte{0x10, 61}), 1, 61},
		{"two-byte, level 33", twoByte(1, 1, 0x80|33), 1, 33},
		{"two-byte, app bits 0x1005", rtpWithExtension(0, 0x1005, []byte{7, 1, 12}), 7, 12},
		{"two-byte, id above 14", twoByte(200, 1, 55), 200, 55},
		{"two-byte, after padding and an empty element", twoByte(0, 3, 0, 1, 1, 20), 1, 20},
		{"two-byte, empty element", twoByte(1, 0), 1, -1},
		{"two-byte, length past the block", twoByte(1, 9, 20), 1, -1},
		{"unknown profile", rtpWithExtension(0, 0xabcd, []byte{0x10, 42}), 1, -1},
		{"extension bit clear", func() []byte { p := oneByte(0x10, 42); p[0] &^= 0x10; return p }(), 1, -1},
		{"version 1", func() []byte { p := oneByte(0x10, 42); p[0] = 0x50; return p }(), 1, -1},
		{"block length past the packet", func() []byte { p := oneByte(0x10, 42); p[15] = 9; return p }(), 1, -1},
		{"CSRCs past the packet", []byte{0x9f, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x10, 42, 0, 0}, 1, -1},
		{"header only", oneByte(0x10, 42)[:14], 1, -1},
		{"id 0 never matches", oneByte(0x10, 42), 0, -1},
		{"empty", nil, 1, -1},
	} {
		if got := rtpAudioLevel(tc.pkt, tc.extID); got != tc.want {
			t.Errorf("%s: level %d, want %d", tc.name, got, tc.want)
		}
	}
}

// referenceAudioLevel is RFC 8285's element walk written independently of
// the C one (index arithmetic on a slice), for the fuzzer to compare with.
func referenceAudioLevel(b []byte, extID int) int {
	if len(b) < 12 || b[0]>>6 != 2 || b[0]&0x10 == 0 {
		return -1
	}
	off := 12 + int(b[0]&0x0f)*4
	if off+4 > len(b) {
		return -1
	}
	profile := binary.BigEndian.Uint16(b[off:])
	n := int(binary.BigEndian.Uint16(b[off+2:])) * 4
	if off+4+n > len(b) {
		return -1
	}
	block := b[off+4 : off+4+n]
	twoByte := profile&0xfff0 == 0x1000
	if profile != 0xbede && !twoByte {
		return -1
	}
	for i := 0; i < len(block); {
		var id, size, hdr int
		if twoByte {
			id = int(block[i])
			if id == 0 {
				i++
				continue
			}
			if i+1 >= len(block) {
				return -1
			}
			size, hdr = int(block[i+1]), 2
		} else {
			id = int(block[i] >> 4)
			if id == 0 {
				i++
				continue
			}
			if id == 15 {
				return -1
			}
			size, hdr = int(block[i]&0x0f)+1, 1
		}
		if i+hdr+size > len(block) {
			return -1
		}
		if id == extID {
			if size == 0 {
				return -1
			}
			return int(block[i+hdr] & 0x7f)
		}
		i += hdr + size
	}
	return -1
}

func FuzzRTPAudioLevel(f *testing.F) {
	f.Add(rtpWithExtension(0, 0xbede, []byte{0x31, 0xaa, 0xbb, 0x10, 0x80 | 42}), 1)
	f.Add(rtpWithExtension(2, 0x1000, []byte{0, 3, 0, 1, 1, 20}), 1)
	f.Add(rtpWithExtension(0, 0xbede, []byte{0xf0, 0x10, 9}), 1)
	f.Add(rtpWithExtension(0, 0xbede, []byte{0x20, 1, 0x11, 5}), 1)
	f.Add(rtpWithExtension(0, 0x1000, []byte{2, 0, 1, 1, 7}), 1)
	// Truncated and lying packets: CSRC count past the end, extension
	// length past the end, header only, element length past the block,
	// out-of-range extension ids.
	full := rtpWithExtension(0, 0xbede, []byte{0x10, 0x80 | 42})
	for _, n := range []int{0, 1, 11, 12, 13, 15, 16, 17} {
		f.Add(full[:n], 1)
	}
	f.Add(rtpWithExtension(15, 0xbede, []byte{0x10, 42})[:20], 1)
	f.Add(append([]byte{0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0xff, 0xff}, 0x10, 42), 1)
	f.Add(rtpWithExtension(0, 0xbede, []byte{0xf0, 0x10, 42}), 15)
	f.Add(rtpWithExtension(0, 0x1000, []byte{1, 255, 42}), 1)
	f.Add(full, 0)
	f.Add(full, -1)
	f.Add(full, 256)
	f.Fuzz(func(t *testing.T, b []byte, extID int) {
		got := rtpAudioLevel(b, extID)
		if got < -1 || got > 127 {
			t.Fatalf("level %d out of range", got)
		}
		if want := referenceAudioLevel(b, extID); got != want {
			t.Fatalf("C parser says %d, the reference %d", got, want)
		}
	})
}
