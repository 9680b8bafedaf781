package cjanus

/*
#include <stdlib.h>
#include "core.h"
*/
import "C"

import (
	"errors"
	"fmt"
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
	// retiring holds the sessions Publish has removed from sessions but not
	// yet freed, and retired the counters of those it freed: with sessions
	// they make RelayTotals. Guarded by mu.
	retiring map[sfu.SessionID]*handle
	retired  sfu.RelayCounts

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
	return &Gateway{sessions: make(map[sfu.SessionID]*handle), retiring: make(map[sfu.SessionID]*handle)}
}

func (g *Gateway) attach(h *C.sfu_plugin_session) (sfu.SessionID, error) {
	id := sfu.SessionID(g.next.Add(1))
	c := C.cj_session_new(h, C.uint64_t(id))
	if c == nil {
		return 0, fmt.Errorf("out of memory")
	}
	g.mu.Lock()
	g.sessions[id] = &handle{id: id, c: c}
	g.mu.Unlock()
	return id, nil
}

// attachRaw is attach for callers that only hold an untyped pointer to a
// janus_plugin_session (tests, harnesses).
func (g *Gateway) attachRaw(h unsafe.Pointer) (sfu.SessionID, error) {
	return g.attach((*C.sfu_plugin_session)(h))
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

// EventsEnabled implements sfu.Gateway: Janus's events_is_enabled.
func (g *Gateway) EventsEnabled() bool { return C.cj_events_enabled() != 0 }

// NotifyEvent implements sfu.Gateway: Janus's notify_event, about the handle
// while it lives (Janus drops events about a gone handle), about no handle
// for id 0.
func (g *Gateway) NotifyEvent(id sfu.SessionID, event []byte) {
	if len(event) == 0 {
		return
	}
	ev := (*C.char)(unsafe.Pointer(&event[0]))
	if id == 0 {
		C.cj_notify_event(nil, ev, C.size_t(len(event)))
		return
	}
	_ = g.with(id, func(c *C.cj_session) error {
		C.cj_notify_event(c, ev, C.size_t(len(event)))
		return nil
	})
}

// SetAudioLevelExtension implements sfu.Gateway. Not wired to C yet.
func (g *Gateway) SetAudioLevelExtension(id sfu.SessionID, extID int) {}

// AudioLevel implements sfu.Gateway. Not wired to C yet.
func (g *Gateway) AudioLevel(id sfu.SessionID) (sum, packets uint64, ok bool) { return 0, 0, false }

// SetKeyframeInterval sets the minimum time between two keyframe requests
// sent to one publisher; 0 disables throttling.
func (g *Gateway) SetKeyframeInterval(d time.Duration) {
	C.cj_set_keyframe_interval(C.int64_t(d / time.Microsecond))
}

// Stats reads a session's relay counters.
func (g *Gateway) Stats(id sfu.SessionID) (s RelayStats, ok bool) {
	err := g.with(id, func(c *C.cj_session) error {
		s = countersOf(c)
		return nil
	})
	return s, err == nil
}

// RelayStats are a session's hot-path counters.
type RelayStats = sfu.RelayCounts

// countersOf reads the counters of a session that is not freed yet.
func countersOf(c *C.cj_session) RelayStats {
	var st C.cj_relay_stats
	C.cj_session_stats(c, &st)
	return RelayStats{
		RTPIn: uint64(st.rtp_in), RTPOut: uint64(st.rtp_out), RTCPIn: uint64(st.rtcp_in),
		DataIn: uint64(st.data_in), DataOut: uint64(st.data_out),
		KeyframeRequestsIn: uint64(st.keyframe_requests_in),
		KeyframesSent:      uint64(st.keyframes_sent), KeyframesThrottled: uint64(st.keyframes_throttled),
	}
}

// RelayTotals implements sfu.RelayCounter: the counters of every session
// since start, freed ones included. It reads relaxed atomics under the
// read lock only, never waiting on a grace period.
func (g *Gateway) RelayTotals() sfu.RelayCounts {
	g.mu.RLock()
	defer g.mu.RUnlock()
	t := g.retired
	for _, h := range g.sessions {
		t = t.Add(countersOf(h.c))
	}
	for _, h := range g.retiring {
		t = t.Add(countersOf(h.c))
	}
	return t
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
		g.retiring[id] = h
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
		// After the grace period nothing counts on it any more: its
		// figures are final.
		g.mu.Lock()
		g.retired = g.retired.Add(countersOf(h.c))
		delete(g.retiring, h.id)
		g.mu.Unlock()
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
	if sameHandles(prev, next) {
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

func sameHandles(a, b []*handle) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
