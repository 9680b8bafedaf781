package cjanus

/*
#include <stdlib.h>
#include "core.h"
*/
import "C"

const (
	rtcpPLI = int(C.CJ_RTCP_PLI)
	rtcpFIR = int(C.CJ_RTCP_FIR)
)

// rtcpKeyframeKind runs the hot path's RTCP parser on b (for tests and
// fuzzing: the parser reads untrusted packets from browsers).
func rtcpKeyframeKind(b []byte) int {
	if len(b) == 0 {
		return int(C.cj_rtcp_keyframe_kind(nil, 0))
	}
	p := C.CBytes(b) // exact-size C copy, so ASan-style overreads would show
	defer C.free(p)
	return int(C.cj_rtcp_keyframe_kind((*C.uint8_t)(p), C.int(len(b))))
}

// rtcpHasKeyframeRequest runs the PLI-storm path's early-exit check on b.
func rtcpHasKeyframeRequest(b []byte) bool {
	if len(b) == 0 {
		return C.cj_rtcp_has_keyframe_request(nil, 0) != 0
	}
	p := C.CBytes(b)
	defer C.free(p)
	return C.cj_rtcp_has_keyframe_request((*C.uint8_t)(p), C.int(len(b))) != 0
}
