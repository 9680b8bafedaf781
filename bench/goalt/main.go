// Command goalt is the design alternative the plugin rejected: a per-packet
// path in Go. It is built as its own c-shared library
// (bench/build/libgoalt.so) and driven by bench/relay_bench.c beside the
// real plugin, with the same counting gateway callbacks.
//
// goalt_incoming_rtp is what a Go plugin's incoming_rtp would at least do:
// enter Go (one C->Go call), load the session's subscriber list from an
// atomic.Pointer (lock-free, immutable slice, as our C path does) and call
// the gateway's relay_rtp once per subscriber, each one a Go->C call through
// a C trampoline.
package main

/*
#include <stdint.h>

// The prefix of janus_plugin_session: plugin_handle holds our session index + 1.
typedef struct goalt_handle {
	void *gateway_handle;
	void *plugin_handle;
} goalt_handle;

typedef void (*goalt_relay_fn)(void *h, void *pkt);

// uintptr_t arguments: unsafe.Pointer ones would make every call run cgo's
// pointer checks (cgoCheckPointer), which a tuned Go plugin would avoid.
static inline void goalt_call_relay(uintptr_t fn, uintptr_t h, uintptr_t pkt) {
	((goalt_relay_fn)fn)((void *)h, (void *)pkt);
}
*/
import "C"

import (
	"sync/atomic"
	"unsafe"
)

type session struct {
	// C handles (janus_plugin_session*), kept as integers: C memory never
	// moves, and integers pass to C without cgo's pointer checks.
	subs atomic.Pointer[[]C.uintptr_t]
	// Written only by the publisher's own thread, like the plugin's
	// single-writer counters: plain adds (Go's atomic.Store is an XCHG on
	// amd64, which would charge Go a locked instruction the C path avoids).
	rtpIn, rtpOut uint64
}

const maxSessions = 1024

var (
	relay    atomic.Uintptr // the gateway's relay_rtp (a C function pointer)
	sessions [maxSessions]atomic.Pointer[session]
	nextID   atomic.Int32
)

//export goalt_set_relay
func goalt_set_relay(fn unsafe.Pointer) {
	relay.Store(uintptr(fn))
}

// goalt_new_session returns a session index (>= 0), or -1 when full.
//
//export goalt_new_session
func goalt_new_session() C.int {
	id := nextID.Add(1) - 1
	if id >= maxSessions {
		return -1
	}
	sessions[id].Store(&session{})
	return C.int(id)
}

// goalt_set_routes publishes a copy of the n subscriber handles.
//
//export goalt_set_routes
func goalt_set_routes(id C.int, items *unsafe.Pointer, n C.int) {
	s := sessions[id].Load()
	if s == nil {
		return
	}
	list := make([]C.uintptr_t, int(n))
	for i, p := range unsafe.Slice(items, int(n)) {
		list[i] = C.uintptr_t(uintptr(p))
	}
	s.subs.Store(&list)
}

//export goalt_incoming_rtp
func goalt_incoming_rtp(h unsafe.Pointer, pkt unsafe.Pointer) {
	if h == nil || pkt == nil {
		return
	}
	idx := uintptr((*C.goalt_handle)(h).plugin_handle)
	if idx == 0 || idx > maxSessions {
		return
	}
	s := sessions[idx-1].Load()
	if s == nil {
		return
	}
	s.rtpIn++
	subs := s.subs.Load()
	if subs == nil {
		return
	}
	fn, p := C.uintptr_t(relay.Load()), C.uintptr_t(uintptr(pkt))
	for _, sub := range *subs {
		C.goalt_call_relay(fn, sub, p)
	}
	s.rtpOut += uint64(len(*subs))
}

func main() {}
