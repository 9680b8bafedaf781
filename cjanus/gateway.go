package cjanus

/*
#include <stdlib.h>
#include "core.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// ErrGone is returned for a handle that Janus has destroyed.
var ErrGone = errors.New("handle is gone")

// Gateway implements sfu.Gateway over the Janus callbacks.
type Gateway struct {
	next atomic.Uint64

	mu       sync.RWMutex
	sessions map[sfu.SessionID]*handle

	// publishMu serialises route publication and owns the refs counts.
	publishMu sync.Mutex
	zombies   []*handle
}

// handle is one Janus plugin session as Go sees it.
type handle struct {
	id sfu.SessionID
	c  *C.cj_session

	// mu guards calls into Janus with c->handle against the release of
	// that handle: callers hold it shared, retire takes it exclusively.
	mu     sync.RWMutex
	closed bool

	// refs counts the published route arrays that contain this session;
	// it may only be freed at zero. Guarded by Gateway.publishMu.
	refs    int
	current [C.CJ_ROUTE_COUNT][]*handle
}

func newGateway() *Gateway {
	return &Gateway{sessions: make(map[sfu.SessionID]*handle)}
}

// attach makes a cj_session for a janus_plugin_session (an untyped pointer
// so that the tests' fake handles can come in too).
func (g *Gateway) attach(h unsafe.Pointer) (sfu.SessionID, error) {
	id := sfu.SessionID(g.next.Add(1))
	c := C.cj_session_new((*C.sfu_plugin_session)(h), C.uint64_t(id))
	if c == nil {
		return 0, fmt.Errorf("out of memory")
	}
	g.mu.Lock()
	g.sessions[id] = &handle{id: id, c: c}
	g.mu.Unlock()
	return id, nil
}

// detach stops the hot path from serving the session and Go from calling
// Janus with it. Its memory stays until Publish retires it.
func (g *Gateway) detach(id sfu.SessionID) {
	h := g.lookup(id)
	if h == nil {
		return
	}
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		C.cj_session_detach(h.c)
	}
	h.mu.Unlock()
}

func (g *Gateway) lookup(id sfu.SessionID) *handle {
	g.mu.RLock()
	h := g.sessions[id]
	g.mu.RUnlock()
	return h
}

// with runs f while the handle is guaranteed alive.
func (g *Gateway) with(id sfu.SessionID, f func(c *C.cj_session) error) error {
	h := g.lookup(id)
	if h == nil {
		return ErrGone
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return ErrGone
	}
	return f(h.c)
}

// PushEvent implements sfu.Gateway.
func (g *Gateway) PushEvent(id sfu.SessionID, transaction string, body, jsep []byte) error {
	if len(body) == 0 {
		return errors.New("push_event: empty body")
	}
	return g.with(id, func(c *C.cj_session) error {
		var txn *C.char
		if transaction != "" {
			txn = C.CString(transaction)
			defer C.free(unsafe.Pointer(txn))
		}
		var jp *C.char
		if len(jsep) > 0 {
			jp = (*C.char)(unsafe.Pointer(&jsep[0]))
		}
		rc := C.cj_push_event(c, txn, (*C.char)(unsafe.Pointer(&body[0])), C.size_t(len(body)), jp, C.size_t(len(jsep)))
		if rc != 0 {
			return fmt.Errorf("push_event returned %d", int(rc))
		}
		return nil
	})
}

// EndSession implements sfu.Gateway.
func (g *Gateway) EndSession(id sfu.SessionID) {
	_ = g.with(id, func(c *C.cj_session) error {
		C.cj_end_session(c)
		return nil
	})
}

// RequestKeyframe implements sfu.Gateway.
func (g *Gateway) RequestKeyframe(id sfu.SessionID) {
	_ = g.with(id, func(c *C.cj_session) error {
		C.cj_request_keyframe(c, 0)
		return nil
	})
}

// SetPayloadMap implements sfu.Gateway.
func (g *Gateway) SetPayloadMap(id sfu.SessionID, m sfu.PayloadMap) {
	_ = g.with(id, func(c *C.cj_session) error {
		C.cj_session_set_ptmap(c, C.int(m.AudioFrom), C.int(m.AudioTo), C.int(m.VideoFrom), C.int(m.VideoTo))
		return nil
	})
}

// EventsEnabled implements sfu.Gateway. Not wired to Janus yet.
func (g *Gateway) EventsEnabled() bool { return false }

// NotifyEvent implements sfu.Gateway. Not wired to Janus yet.
func (g *Gateway) NotifyEvent(id sfu.SessionID, event []byte) {}

// SetKeyframeInterval sets the minimum time between two keyframe requests
// sent to one publisher; 0 disables throttling.
func (g *Gateway) SetKeyframeInterval(d time.Duration) {
	C.cj_set_keyframe_interval(C.int64_t(d / time.Microsecond))
}

// Stats reads a session's relay counters.
func (g *Gateway) Stats(id sfu.SessionID) (s RelayStats, ok bool) {
	err := g.with(id, func(c *C.cj_session) error {
		var out [C.CJ_STATS_COUNT]C.uint64_t
		C.cj_session_stats(c, &out[0])
		s = RelayStats{
			RTPIn: uint64(out[0]), RTPOut: uint64(out[1]), RTCPIn: uint64(out[2]),
			DataIn: uint64(out[3]), DataOut: uint64(out[4]), KeyframeRequestsIn: uint64(out[5]),
			KeyframesSent: uint64(out[6]), KeyframesThrottled: uint64(out[7]),
		}
		return nil
	})
	return s, err == nil
}

// RelayStats are a session's hot-path counters.
type RelayStats struct {
	RTPIn, RTPOut, RTCPIn, DataIn, DataOut uint64
	KeyframeRequestsIn                     uint64
	KeyframesSent, KeyframesThrottled      uint64
}

// Publish implements sfu.Gateway: swap every array, wait out one grace
// period, then free what no reader can see any more.
func (g *Gateway) Publish(updates []sfu.RouteUpdate, retire []sfu.SessionID) {
	g.publishMu.Lock()
	defer g.publishMu.Unlock()

	var old []*C.cj_routes
	for _, u := range updates {
		h := g.lookup(u.Session)
		if h == nil {
			continue
		}
		lists := [C.CJ_ROUTE_COUNT][]sfu.SessionID{u.Routes.RTP, u.Routes.Data, u.Routes.Keyframe}
		for which, ids := range lists {
			if o := g.swap(h, which, ids); o != nil {
				old = append(old, o)
			}
		}
	}
	var free []*handle
	for _, id := range retire {
		h := g.lookup(id)
		if h == nil {
			continue
		}
		g.detach(id)
		// Its own arrays go too, dropping the refs it held on others.
		for which := range h.current {
			if o := g.swap(h, which, nil); o != nil {
				old = append(old, o)
			}
		}
		g.mu.Lock()
		delete(g.sessions, id)
		g.mu.Unlock()
		g.zombies = append(g.zombies, h)
	}
	if len(old) == 0 && len(g.zombies) == 0 {
		return
	}
	C.cj_synchronize()
	for _, o := range old {
		C.cj_routes_free(o)
	}
	kept := g.zombies[:0]
	for _, h := range g.zombies {
		if h.refs > 0 {
			// A route still names it: freeing now would hand the hot path
			// a dangling pointer. Keep it until the last route drops it.
			Log.Warnf("session %d retired while %d route lists still name it; deferring its release", h.id, h.refs)
			kept = append(kept, h)
			continue
		}
		free = append(free, h)
	}
	g.zombies = kept
	for _, h := range free {
		C.cj_session_free(h.c)
		h.c = nil
	}
}

// swap publishes one list and returns the array it replaced.
func (g *Gateway) swap(h *handle, which int, ids []sfu.SessionID) *C.cj_routes {
	next := make([]*handle, 0, len(ids))
	for _, id := range ids {
		t := g.lookup(id)
		if t == nil || t == h && which != C.CJ_ROUTE_KEYFRAME {
			continue
		}
		t.mu.RLock()
		closed := t.closed
		t.mu.RUnlock()
		if closed {
			continue
		}
		next = append(next, t)
	}
	prev := h.current[which]
	if slices.Equal(prev, next) {
		return nil
	}
	var arr *C.cj_routes
	if len(next) > 0 {
		items := make([]unsafe.Pointer, len(next))
		for i, t := range next {
			if which == C.CJ_ROUTE_KEYFRAME {
				items[i] = unsafe.Pointer(t.c)
			} else {
				items[i] = unsafe.Pointer(C.cj_session_handle(t.c))
			}
		}
		arr = C.cj_routes_new(&items[0], C.uint32_t(len(items)))
		if arr == nil {
			Log.Errorf("out of memory publishing routes for session %d", h.id)
			return nil
		}
	}
	for _, t := range next {
		t.refs++
	}
	for _, t := range prev {
		t.refs--
	}
	h.current[which] = next
	return C.cj_routes_swap(h.c, C.int(which), arr)
}
