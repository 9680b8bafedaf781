package cjanus

/*
#include <stddef.h>
#include "core.h"

static size_t cj_stream_items_offset(void) {
	return offsetof(cj_stream_routes, items);
}
*/
import "C"

import (
	"math"
	"slices"
	"unsafe"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// streamItem is one published multistream recipient of a publisher: the
// subscriber and its m-lines for the publisher's audio and video (-1 =
// none).
type streamItem struct {
	to           *handle
	audio, video int32
}

// mindexOrNone maps anything that is no m-line index to -1.
func mindexOrNone(m int) int32 {
	if m < 0 || m > math.MaxInt32 {
		return -1
	}
	return int32(m)
}

// swapStreams publishes a publisher's multistream subscribers if they
// changed. Items for a session that is gone or closed, for the publisher
// itself, or with no m-line of either kind are left out: the relay would
// only skip them. The old array goes to the reclaimer.
func (g *Gateway) swapStreams(h *handle, want []sfu.StreamRoute) {
	if len(want) == 0 && len(h.streams) == 0 {
		return
	}
	next := make([]streamItem, 0, len(want))
	for _, w := range want {
		it := streamItem{audio: mindexOrNone(w.AudioMindex), video: mindexOrNone(w.VideoMindex)}
		if it.audio < 0 && it.video < 0 {
			continue
		}
		if it.to, _ = g.recipient(h, C.CJ_ROUTE_RTP, w.Session); it.to != nil {
			next = append(next, it)
		}
	}
	if slices.Equal(next, h.streams) {
		return
	}
	var arr *C.cj_stream_routes
	if len(next) > 0 {
		arr = C.cj_stream_routes_alloc(C.uint32_t(len(next)))
		if arr == nil {
			Log.Errorf("out of memory publishing stream routes for session %d", h.id)
			return
		}
		items := unsafe.Slice((*C.cj_stream_item)(unsafe.Add(unsafe.Pointer(arr), streamItemsOffset)), len(next))
		for i, it := range next {
			items[i] = C.cj_stream_item{
				handle:       (*C.sfu_plugin_session)(it.to.jh),
				audio_mindex: C.int32_t(it.audio),
				video_mindex: C.int32_t(it.video),
			}
		}
	} else {
		next = nil
	}
	for _, it := range next {
		it.to.refs++
	}
	for _, it := range h.streams {
		it.to.refs--
	}
	h.streams = next
	if old := C.cj_streams_swap(h.c, arr); old != nil {
		g.oldStreams = append(g.oldStreams, old)
	}
}

var streamItemsOffset = uintptr(C.cj_stream_items_offset())

// swapKeyframeByMindex publishes, for a multistream subscriber, the
// publisher behind each of its m-lines if that changed (0, a gone or a
// closed session = none). The old array goes to the reclaimer.
func (g *Gateway) swapKeyframeByMindex(h *handle, want []sfu.SessionID) {
	if len(want) == 0 && len(h.byMindex) == 0 {
		return
	}
	next := make([]*handle, len(want))
	for m, id := range want {
		if id != 0 {
			next[m], _ = g.recipient(h, C.CJ_ROUTE_KEYFRAME, id)
		}
	}
	// Trailing m-lines without a publisher need no slot.
	for len(next) > 0 && next[len(next)-1] == nil {
		next = next[:len(next)-1]
	}
	if slices.Equal(next, h.byMindex) {
		return
	}
	var arr *C.cj_routes
	if len(next) > 0 {
		items := make([]unsafe.Pointer, len(next)) // C pointers only
		for m, t := range next {
			if t != nil {
				items[m] = unsafe.Pointer(t.c)
			}
		}
		arr = C.cj_routes_new(&items[0], C.uint32_t(len(items)))
		if arr == nil {
			Log.Errorf("out of memory publishing keyframe routes for session %d", h.id)
			return
		}
	} else {
		next = nil
	}
	for _, t := range next {
		if t != nil {
			t.refs++
		}
	}
	for _, t := range h.byMindex {
		if t != nil {
			t.refs--
		}
	}
	h.byMindex = next
	if old := C.cj_keyframe_by_mindex_swap(h.c, arr); old != nil {
		g.oldRoutes = append(g.oldRoutes, old)
	}
}

// relayedMindexes lists, sorted, the m-lines of multistream subscriber id
// that a publisher's published stream routes send to: the relay's view,
// which handle_info sets beside the sfu's (docs/admin.md 3). It scans every
// publisher's routes under publishMu, for the admin API only.
func (g *Gateway) relayedMindexes(id sfu.SessionID) []int {
	g.publishMu.Lock()
	defer g.publishMu.Unlock()
	sub := g.lookup(id)
	if sub == nil {
		return nil
	}
	var out []int
	g.mu.RLock()
	for _, h := range g.sessions {
		for _, it := range h.streams {
			if it.to != sub {
				continue
			}
			if it.audio >= 0 {
				out = append(out, int(it.audio))
			}
			if it.video >= 0 {
				out = append(out, int(it.video))
			}
		}
	}
	g.mu.RUnlock()
	slices.Sort(out)
	return out
}
