// Package ctest is a fake Janus for cjanus's tests: handles, counting
// gateway callbacks and reader threads driving the C hot path. Only test
// binaries link it.
package ctest

/*
#cgo CFLAGS: -O1 -Wall -std=gnu11
#cgo LDFLAGS: -lpthread
#include <stdlib.h>
#include "ctest.h"
*/
import "C"

import "unsafe"

// Counters readable with Count.
const (
	RTP = iota
	RTCP
	Data
	PLI
	LastMindex
	RefCount
	Freed
	LastPT
)

// Install points the plugin's gateway callbacks at counting stubs for the
// given ABI (0 = Janus 0.x, 1 = Janus 1.x) and turns on poisoning of freed
// routing memory.
func Install(abi int) { C.ctest_install(C.int(abi)) }

// NewHandle allocates a fake janus_plugin_session with refcount 1.
func NewHandle() unsafe.Pointer { return C.ctest_handle_new() }

// FreeHandle releases a handle made by NewHandle.
func FreeHandle(h unsafe.Pointer) { C.ctest_handle_destroy(h) }

// Count reads one of a handle's counters.
func Count(h unsafe.Pointer, what int) int64 { return int64(C.ctest_count(h, C.int(what))) }

// RTPFrom feeds one RTP packet from h into the hot path.
func RTPFrom(h unsafe.Pointer, mindex int) { C.ctest_rtp(h, C.int(mindex)) }

// RTPWithPT feeds one RTP packet with payload type pt (marker bit set).
func RTPWithPT(h unsafe.Pointer, pt int) { C.ctest_rtp_pt(h, 0, C.int(pt)) }

// RTPKind feeds one RTP packet with the given m-line index (1.x), kind
// and payload type.
func RTPKind(h unsafe.Pointer, mindex int, video bool, pt int) {
	v := 0
	if video {
		v = 1
	}
	C.ctest_rtp_kind(h, C.int(mindex), C.int(v), C.int(pt))
}

// RTCPFrom feeds an RTCP packet from h into the hot path.
func RTCPFrom(h unsafe.Pointer, pkt []byte, video bool) {
	v := 0
	if video {
		v = 1
	}
	p := C.CBytes(pkt)
	defer C.free(p)
	C.ctest_rtcp(h, p, C.int(len(pkt)), C.int(v))
}

// DataFrom feeds one data-channel message from h into the hot path.
func DataFrom(h unsafe.Pointer) { C.ctest_data(h) }

// StartReaders starts n C threads relaying RTP from pubs in a loop.
func StartReaders(pubs []unsafe.Pointer, n int) {
	p := C.malloc(C.size_t(len(pubs)) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(p)
	arr := unsafe.Slice((*unsafe.Pointer)(p), len(pubs))
	copy(arr, pubs)
	C.ctest_start_readers((*unsafe.Pointer)(p), C.int(len(pubs)), C.int(n))
}

// StopReaders stops them and returns how many packets they sent.
func StopReaders() int64 { return int64(C.ctest_stop_readers()) }
