package cjanus

/*
#include <stdlib.h>
#include "audiolevel.h"
*/
import "C"

// rtpAudioLevel runs the relay path's RFC 6464 parser on an RTP packet
// (for tests and fuzzing: the parser reads untrusted packets from
// publishers). -1 = no level for extID.
func rtpAudioLevel(b []byte, extID int) int {
	if len(b) == 0 {
		return int(C.cj_rtp_audio_level(nil, 0, C.int(extID)))
	}
	p := C.CBytes(b) // exact-size C copy, so overreads would show
	defer C.free(p)
	return int(C.cj_rtp_audio_level((*C.uint8_t)(p), C.int(len(b)), C.int(extID)))
}
