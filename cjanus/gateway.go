package cjanus

/*
#include <stddef.h>
#include <stdlib.h>
#include "core.h"

// An array of n items for Go to fill before publishing it (cj_routes_new
// would copy them from Go memory, which cgo checks item by item).
static cj_routes *cj_routes_alloc(uint32_t n) {
	cj_routes *r = malloc(sizeof(*r) + (size_t)n * sizeof(void *));
	if (r)
		r->n = n;
	return r;
}

static size_t cj_routes_items_offset(void) {
	return offsetof(cj_routes, items);
}

static cj_routes *cj_routes_current(cj_session *s, int which) {
	return atomic_load_explicit(&s->routes[which], memory_order_relaxed);
}

static cj_routes *cj_group_current(cj_group *g) {
	return atomic_load_explicit(&g->members, memory_order_relaxed);
}
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
	// retired sums the counters of the sessions freed so far: with
	// sessions (which keep retired ones until they are freed) they make
	// RelayTotals. Guarded by mu.
	retired sfu.RelayCounts

	// publishMu serialises route publication and guards the route
	// bookkeeping (handle.routes, handle.refs) and the reclaim lists. It is
	// never held across a grace period.
	publishMu sync.Mutex
	// retired arrays and sessions, waiting for the reclaimer's next grace
	// period.
	oldRoutes  []*C.cj_routes
	oldStreams []*C.cj_stream_routes
	oldGroups  []*C.cj_group
	zombies    []*handle
	// groups are the data groups as published. Guarded by publishMu.
	groups map[sfu.GroupID]*dataGroup
	// reclaimed counts finished reclaim batches; reclaimCond waits on it.
	reclaimed   uint64
	requested   uint64
	reclaimCond *sync.Cond

	wake    chan struct{} // one pending wake-up is enough
	stop    chan struct{}
	stopped chan struct{}
	closing sync.Once
}

// handle is one Janus plugin session as Go sees it.
type handle struct {
	id sfu.SessionID
	c  *C.cj_session
	jh unsafe.Pointer // the janus_plugin_session, the item of RTP and data routes

	// mu guards calls into Janus with c->handle against the release of
	// that handle: callers hold it shared, retire takes it exclusively.
	mu     sync.RWMutex
	closed bool

	// refs counts the published route arrays that contain this session;
	// it may only be freed at zero. Guarded by Gateway.publishMu.
	refs int
	// routes are the ids of the published arrays' items, in the same
	// order (sorted). Guarded by Gateway.publishMu.
	routes  [C.CJ_ROUTE_COUNT][]sfu.SessionID
	retired bool // handed to the reclaimer; guarded by Gateway.publishMu
	warned  bool // deferred release logged
	// The multistream routes as published (streams.go). Guarded by
	// Gateway.publishMu.
	streams  []streamItem
	byMindex []*handle
	// group is the data group its data_group points at (0 = none).
	// Guarded by Gateway.publishMu.
	group sfu.GroupID
}

// dataGroup is one published data group (sfu.Routes.DataGroup).
type dataGroup struct {
	c *C.cj_group
	// members are the ids of the published array's items, sorted; each
	// holds a ref on its handle, like any route.
	members []sfu.SessionID
	senders int // handles whose data_group points here
}

func newGateway() *Gateway {
	g := &Gateway{
		sessions: make(map[sfu.SessionID]*handle),
		groups:   make(map[sfu.GroupID]*dataGroup),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	g.reclaimCond = sync.NewCond(&g.publishMu)
	go g.reclaimer()
	return g
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
	g.sessions[id] = &handle{id: id, c: c, jh: unsafe.Pointer(C.cj_session_handle(c))}
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

// SetAudioLevelExtension implements sfu.Gateway: the relay parses the
// publisher's audio packets for element extID (1..255; anything else
// turns it off).
func (g *Gateway) SetAudioLevelExtension(id sfu.SessionID, extID int) {
	if extID < 0 || extID > 255 {
		extID = 0
	}
	_ = g.with(id, func(c *C.cj_session) error {
		C.cj_session_set_audio_level_ext(c, C.int(extID))
		return nil
	})
}

// AudioLevel implements sfu.Gateway: the publisher's running totals,
// read with relaxed loads (packets first, so that a concurrent packet can
// make the pair at most one level ahead, never one count behind).
func (g *Gateway) AudioLevel(id sfu.SessionID) (sum, packets uint64, ok bool) {
	err := g.with(id, func(c *C.cj_session) error {
		var s, n C.uint64_t
		C.cj_session_audio_level(c, &s, &n)
		sum, packets = uint64(s), uint64(n)
		return nil
	})
	return sum, packets, err == nil
}

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
	return t
}

// Publish implements sfu.Gateway: swap the arrays that changed and hand
// the old ones, the forgotten groups and the retired sessions to the
// reclaimer. It never waits for a grace period, so it may run on any
// thread under any lock; its cost is linear in the lists it is given, with
// no lookup for a recipient that was already published.
func (g *Gateway) Publish(updates []sfu.RouteUpdate, groups []sfu.GroupUpdate, retire []sfu.SessionID) {
	g.publishMu.Lock()
	defer g.publishMu.Unlock()
	// Groups first, so that a session's new group has its members when
	// the session starts pointing at it.
	for _, u := range groups {
		g.setMembers(u.Group, u.Members)
	}
	for _, u := range updates {
		h := g.lookup(u.Session)
		if h == nil {
			continue
		}
		lists := [C.CJ_ROUTE_COUNT][]sfu.SessionID{
			C.CJ_ROUTE_RTP: u.Routes.RTP, C.CJ_ROUTE_DATA: u.Routes.Data, C.CJ_ROUTE_KEYFRAME: u.Routes.Keyframe,
		}
		for which, ids := range lists {
			g.swap(h, which, ids)
		}
		g.swapStreams(h, u.Routes.Streams)
		g.swapKeyframeByMindex(h, u.Routes.KeyframeByMindex)
		g.setGroup(h, u.Routes.DataGroup)
	}
	for _, id := range retire {
		h := g.lookup(id)
		if h == nil || h.retired {
			continue
		}
		g.detach(id)
		// Its own arrays go too, dropping the refs it held on others.
		for which := range h.routes {
			g.swap(h, which, nil)
		}
		g.swapStreams(h, nil)
		g.swapKeyframeByMindex(h, nil)
		g.setGroup(h, 0)
		// It stays in sessions (closed, so unusable) until it is freed:
		// routes that still name it must find it to drop their refs.
		h.retired = true
		g.zombies = append(g.zombies, h)
	}
	if len(g.oldRoutes) > 0 || len(g.oldStreams) > 0 || len(g.oldGroups) > 0 || len(g.zombies) > 0 {
		g.requested++
		select {
		case g.wake <- struct{}{}:
		default: // a wake-up is pending: it will see these too
		}
	}
}

// reclaimer frees what Publish retired, one grace period per batch, off
// every lock that joins, destroys or Janus's threads need.
func (g *Gateway) reclaimer() {
	defer close(g.stopped)
	for {
		select {
		case <-g.wake:
			g.reclaimOnce()
		case <-g.stop:
			g.reclaimOnce()
			return
		}
	}
}

// reclaimOnce takes everything retired so far, waits out one grace period
// and frees it. A retired session that some published array still names
// stays until a later batch.
func (g *Gateway) reclaimOnce() {
	g.publishMu.Lock()
	done := g.requested
	old, oldStreams, oldGroups := g.oldRoutes, g.oldStreams, g.oldGroups
	g.oldRoutes, g.oldStreams, g.oldGroups = nil, nil, nil
	var free []*handle
	kept := g.zombies[:0]
	for _, h := range g.zombies {
		if h.refs > 0 {
			// A route still names it: freeing now would hand the hot path
			// a dangling pointer. Keep it until the last route drops it.
			if !h.warned {
				h.warned = true
				Log.Warnf("session %d retired while %d route lists still name it; deferring its release", h.id, h.refs)
			}
			kept = append(kept, h)
			continue
		}
		free = append(free, h)
	}
	clear(g.zombies[len(kept):])
	g.zombies = kept
	g.publishMu.Unlock()

	if len(old) > 0 || len(oldStreams) > 0 || len(oldGroups) > 0 || len(free) > 0 {
		// Every array in old was swapped out, every group in oldGroups
		// unlinked from the last session pointing at it, and every
		// session in free detached and dropped from the last array naming
		// it, before this point: after one grace period no reader can
		// hold any of them.
		C.cj_synchronize()
		for _, o := range old {
			C.cj_routes_free(o)
		}
		for _, o := range oldStreams {
			C.cj_stream_routes_free(o)
		}
		for _, o := range oldGroups {
			C.cj_group_free(o)
		}
		g.mu.Lock()
		for _, h := range free {
			// After the grace period nothing counts on it any more:
			// its figures are final.
			g.retired = g.retired.Add(countersOf(h.c))
			delete(g.sessions, h.id)
		}
		g.mu.Unlock()
		for _, h := range free {
			C.cj_session_free(h.c)
			h.c = nil
		}
	}
	g.publishMu.Lock()
	if done > g.reclaimed {
		g.reclaimed = done
	}
	g.reclaimCond.Broadcast()
	g.publishMu.Unlock()
}

// reclaimNow waits until everything retired before the call has been
// through a reclaim batch (tests, shutdown).
func (g *Gateway) reclaimNow() {
	g.publishMu.Lock()
	want := g.requested
	for g.reclaimed < want {
		select {
		case g.wake <- struct{}{}:
		default:
		}
		g.reclaimCond.Wait()
	}
	g.publishMu.Unlock()
}

// close stops the reclaimer after a last batch.
func (g *Gateway) close() {
	g.closing.Do(func() {
		close(g.stop)
		<-g.stopped
	})
}

// swap publishes one of a session's lists if it differs from the current
// one; the old array goes to the reclaimer.
func (g *Gateway) swap(h *handle, which int, want []sfu.SessionID) {
	cur := h.routes[which]
	if len(want) == 0 && len(cur) == 0 {
		return
	}
	arr, next, ok := g.merge(cur, func() *C.cj_routes { return C.cj_routes_current(h.c, C.int(which)) }, want,
		func(id sfu.SessionID) (*handle, uintptr) { return g.recipient(h, which, id) })
	if !ok {
		return
	}
	h.routes[which] = next
	if old := C.cj_routes_swap(h.c, C.int(which), arr); old != nil {
		g.oldRoutes = append(g.oldRoutes, old)
	}
}

// merge builds the array for want from the current one, cur its ids: want
// is merged with cur (both sorted), so kept recipients are copied from the
// current array and only added ones are resolved. Refs follow the
// difference. ok is false when nothing changed (or memory ran out: then
// nothing changed either).
func (g *Gateway) merge(cur []sfu.SessionID, current func() *C.cj_routes, want []sfu.SessionID,
	resolve func(sfu.SessionID) (*handle, uintptr)) (arr *C.cj_routes, next []sfu.SessionID, ok bool) {
	if !slices.IsSorted(want) {
		want = slices.Sorted(slices.Values(want))
	}
	var oldItems []uintptr
	if len(cur) > 0 {
		oldItems = routeItems(current())
	}
	var items []uintptr
	if len(want) > 0 {
		// At most len(want) items; n is set to the real count below.
		arr = C.cj_routes_alloc(C.uint32_t(len(want)))
		if arr == nil {
			Log.Errorf("out of memory publishing a route list of %d", len(want))
			return nil, nil, false
		}
		items = routeItems(arr)
	}
	next = make([]sfu.SessionID, 0, len(want))
	var added []*handle
	var dropped []sfu.SessionID
	i := 0
	for j, id := range want {
		if j > 0 && want[j-1] == id {
			continue
		}
		for i < len(cur) && cur[i] < id {
			dropped = append(dropped, cur[i])
			i++
		}
		if i < len(cur) && cur[i] == id {
			items[len(next)] = oldItems[i]
			next = append(next, id)
			i++
			continue
		}
		if t, item := resolve(id); t != nil {
			items[len(next)] = item
			next = append(next, id)
			added = append(added, t)
		}
	}
	dropped = append(dropped, cur[i:]...)
	if len(added) == 0 && len(dropped) == 0 {
		if arr != nil {
			C.free(unsafe.Pointer(arr))
		}
		return nil, nil, false
	}
	if len(next) == 0 {
		C.free(unsafe.Pointer(arr))
		arr, next = nil, nil
	} else {
		arr.n = C.uint32_t(len(next))
	}
	// Refs follow the difference: kept recipients are counted already.
	for _, t := range added {
		t.refs++
	}
	for _, id := range dropped {
		if t := g.lookup(id); t != nil {
			t.refs--
		}
	}
	return arr, next, true
}

// groupFor returns a data group, made empty if it is new (nil when out of
// memory).
func (g *Gateway) groupFor(id sfu.GroupID) *dataGroup {
	if dg := g.groups[id]; dg != nil {
		return dg
	}
	c := C.cj_group_new()
	if c == nil {
		Log.Errorf("out of memory making data group %d", id)
		return nil
	}
	dg := &dataGroup{c: c}
	g.groups[id] = dg
	return dg
}

// setMembers publishes a data group's members if they changed. Members
// are resolved as data recipients: gone and closed handles are left out.
// The sender skips itself in the relay, so nobody is excluded here.
func (g *Gateway) setMembers(id sfu.GroupID, want []sfu.SessionID) {
	if id == 0 || len(want) == 0 && g.groups[id] == nil {
		return
	}
	dg := g.groupFor(id)
	if dg == nil {
		return
	}
	arr, next, ok := g.merge(dg.members, func() *C.cj_routes { return C.cj_group_current(dg.c) }, want,
		func(id sfu.SessionID) (*handle, uintptr) { return g.recipient(nil, C.CJ_ROUTE_DATA, id) })
	if ok {
		dg.members = next
		if old := C.cj_group_swap(dg.c, arr); old != nil {
			g.oldRoutes = append(g.oldRoutes, old)
		}
	}
	g.forgetIfUnused(id, dg)
}

// setGroup points a session's data at a group (0 = none).
func (g *Gateway) setGroup(h *handle, id sfu.GroupID) {
	if h.group == id {
		return
	}
	var dg *dataGroup
	if id != 0 {
		if dg = g.groupFor(id); dg == nil {
			return
		}
	}
	var c *C.cj_group
	if dg != nil {
		c = dg.c
		dg.senders++
	}
	C.cj_session_group_swap(h.c, c)
	if prev := g.groups[h.group]; prev != nil {
		prev.senders--
		g.forgetIfUnused(h.group, prev)
	}
	h.group = id
}

// forgetIfUnused hands a group with no members and no sender to the
// reclaimer: after a grace period no reader can still be in it.
func (g *Gateway) forgetIfUnused(id sfu.GroupID, dg *dataGroup) {
	if len(dg.members) == 0 && dg.senders == 0 {
		delete(g.groups, id)
		g.oldGroups = append(g.oldGroups, dg.c)
	}
}

var routesItemsOffset = uintptr(C.cj_routes_items_offset())

// routeItems views a C array's items (C pointers, held as uintptr so that
// Go neither checks nor scans them).
func routeItems(r *C.cj_routes) []uintptr {
	if r == nil || r.n == 0 {
		return nil
	}
	base := unsafe.Add(unsafe.Pointer(r), routesItemsOffset)
	return unsafe.Slice((*uintptr)(base), int(r.n))
}

// recipient resolves a new recipient and the item its array holds; closed
// handles and a session's own RTP or data are left out (nil). h is nil
// for a group's members.
func (g *Gateway) recipient(h *handle, which int, id sfu.SessionID) (*handle, uintptr) {
	t := g.lookup(id)
	if t == nil || t == h && which != C.CJ_ROUTE_KEYFRAME {
		return nil, 0
	}
	t.mu.RLock()
	closed := t.closed
	t.mu.RUnlock()
	if closed {
		return nil, 0
	}
	if which == C.CJ_ROUTE_KEYFRAME {
		return t, uintptr(unsafe.Pointer(t.c))
	}
	return t, uintptr(t.jh)
}
