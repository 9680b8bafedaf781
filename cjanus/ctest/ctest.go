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

// Counter names one of a handle's counters, as C's enum ctest_counter.
type Counter C.ctest_counter

// Counters readable with Count.
const (
	RTP        Counter = C.CTEST_RTP
	RTCP       Counter = C.CTEST_RTCP
	Data       Counter = C.CTEST_DATA
	PLI        Counter = C.CTEST_PLI
	LastMindex Counter = C.CTEST_LAST_MINDEX
	RefCount   Counter = C.CTEST_REF_COUNT
	Freed      Counter = C.CTEST_FREED
	LastPT     Counter = C.CTEST_LAST_PT
	// LastRTCPMindex is the mindex of the last relay_rtcp (1.x).
	LastRTCPMindex Counter = C.CTEST_LAST_RTCP_MINDEX
)

// RefPoison is what a handle's refcount holds between NewHandle and Init.
const RefPoison = C.CTEST_REF_POISON

// Install points the plugin's gateway callbacks at counting stubs for the
// given ABI (0 = Janus 0.x, 1 = Janus 1.x) and turns on poisoning of freed
// routing memory.
func Install(abi int) { C.ctest_install(C.int(abi)) }

// NewHandle allocates a fake janus_plugin_session as Janus hands it to
// create_session: its refcount not set up yet (RefPoison, and a free
// function that aborts).
func NewHandle() unsafe.Pointer { return C.ctest_handle_new() }

// Init does what Janus does once create_session returned: refcount 2, one
// reference Janus keeps (its plugin_sessions map) and one it gives the
// plugin, which the plugin drops after destroy_session.
func Init(h unsafe.Pointer) { C.ctest_handle_init(h) }

// ControlCall does what every later Janus call into the plugin does first
// (look the session up, noting that Janus has given the plugin its
// reference); it returns the session id.
func ControlCall(h unsafe.Pointer) uint64 { return uint64(C.ctest_control_call(h)) }

// FreeHandle releases a handle made by NewHandle.
func FreeHandle(h unsafe.Pointer) { C.ctest_handle_destroy(h) }

// Count reads one of a handle's counters.
func Count(h unsafe.Pointer, what Counter) int64 {
	return int64(C.ctest_count(h, C.ctest_counter(what)))
}

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

// RTPBytes feeds pkt as one RTP packet of the given kind arriving on
// m-line mindex (1.x).
func RTPBytes(h unsafe.Pointer, mindex int, video bool, pkt []byte) {
	p := C.CBytes(pkt) // exact size: an overread past the packet would show
	defer C.free(p)
	C.ctest_rtp_bytes(h, C.int(mindex), C.int(boolInt(video)), p, C.int(len(pkt)))
}

// RTCPOn feeds an RTCP packet from h that arrived on m-line mindex (1.x).
func RTCPOn(h unsafe.Pointer, mindex int, pkt []byte, video bool) {
	p := C.CBytes(pkt)
	defer C.free(p)
	C.ctest_rtcp_on(h, C.int(mindex), p, C.int(len(pkt)), C.int(boolInt(video)))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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

// MembarrierInUse says whether the relay's grace periods rely on
// membarrier(2) (else readers fence).
func MembarrierInUse() bool { return C.cj_rcu_uses_membarrier() != 0 }

// FailMembarrier makes every later membarrier(2) call fail (or stops
// that), as a seccomp filter installed after init would.
func FailMembarrier(fail bool) {
	v := 0
	if fail {
		v = 1
	}
	C.cj_rcu_test_fail_membarrier(C.int(v))
}

// RCUFallbacks counts the writers' switches from membarrier to fences.
func RCUFallbacks() uint64 { return uint64(C.cj_rcu_fallbacks()) }

// EpochFenced says whether readers entering now fence.
func EpochFenced() bool { return C.ctest_epoch_fenced() != 0 }
