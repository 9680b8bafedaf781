/*
 * The per-packet path. Janus calls these straight from its loop threads; they
 * never enter Go. Each one: enter a read-side section, load the session's
 * immutable recipient array, call the gateway's relay function per recipient.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "audiolevel.h"
#include "clock.h"
#include "host.h"
#include "rcu.h"
#include "relay.h"
#include "rtcp.h"

/* Fan-out loops are five instructions around an indirect call; at gcc's
 * default 16-byte alignment one may straddle a 64-byte line, which costs a
 * second fetch window per iteration on Intel (BENCHMARKS.md, "What changed
 * in the hot path"). cgo takes no -falign-loops, hence the pragma. */
#pragma GCC optimize("align-loops=32", "align-functions=64")

/* held went into padding, and the multistream fields come after the
 * counters: the classic path's offsets are what they were. */
_Static_assert(offsetof(cj_session, held) == 60 && offsetof(cj_session, keyframes_sent) == 64 &&
		offsetof(cj_session, c) == 72 && offsetof(cj_session, streams) == 144 &&
		offsetof(cj_session, data_group) == 168 && sizeof(cj_session) == 192,
	"cj_session layout");

int cj_debug_poison;

static void poison_free(void *p, size_t n) {
	if (p && cj_debug_poison)
		memset(p, 0xdd, n);
	free(p);
}

static inline cj_session *session_of(sfu_plugin_session *h) {
	if (__builtin_expect(h == NULL, 0))
		return NULL;
	/* Detach clears plugin_handle before anything is freed, so a non-NULL
	 * pointer read inside the section is live for its duration. */
	return __atomic_load_n((cj_session **)&h->plugin_handle, __ATOMIC_ACQUIRE);
}

static inline cj_routes *routes_of(cj_session *s, int which) {
	return atomic_load_explicit(&s->routes[which], memory_order_acquire);
}

static inline cj_stream_routes *streams_of(cj_session *s) {
	return atomic_load_explicit(&s->streams, memory_order_acquire);
}

/* Single-writer counter bump: a plain load and store, no lock prefix. */
static inline void bump(_Atomic uint64_t *c, uint64_t by) {
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by, memory_order_relaxed);
}

#define PT_NONE 0xffu

/* Rewrites the payload type in place when the publisher's number differs
 * from the fixed one subscribers negotiated. Janus copies the buffer per
 * relay_rtp and puts the RTP header back itself once incoming_rtp returns
 * ("plugins may have messed with it", in every ice.c from 0.12 to 1.3), so
 * nothing is restored here. The map is read again as one word: it may have
 * changed since the caller's byte compare (then: no pair, no change). */
static __attribute__((noinline)) void rewrite_pt(cj_session *s, uint8_t *buf) {
	uint8_t map[4];
	uint32_t word = __atomic_load_n(&s->ptmap.word, __ATOMIC_RELAXED);
	memcpy(map, &word, sizeof(map));
	uint8_t pt = buf[1] & 0x7f;
	uint8_t to = pt == map[0] ? map[1] : pt == map[2] ? map[3] : pt;
	buf[1] = (uint8_t)((buf[1] & 0x80) | to);
}

/* set_ptmap stores no pair whose sides are equal, and 0xff never matches a
 * 7-bit payload type. */
static inline void maybe_rewrite_pt(cj_session *s, uint8_t *buf) {
	uint8_t pt = buf[1] & 0x7f;
	if (__builtin_expect((pt == __atomic_load_n(&s->ptmap.b[0], __ATOMIC_RELAXED)) |
			(pt == __atomic_load_n(&s->ptmap.b[2], __ATOMIC_RELAXED)), 0))
		rewrite_pt(s, buf);
}

/* A publisher's audio packet with its audio-level extension negotiated:
 * the level, when the packet carries one, goes into the running totals
 * (written by this loop thread only). */
static __attribute__((noinline)) void count_audio_level(cj_session *s, const uint8_t *buf, uint16_t len) {
	int level = rtp_audio_level(buf, len, atomic_load_explicit(&s->audio_level_ext, memory_order_relaxed));
	if (level >= 0) {
		bump(&s->c.audio_level_sum, (uint64_t)level);
		bump(&s->c.audio_level_packets, 1);
	}
}

/* The RTP fan-out of a publisher with multistream subscribers (1.x): the
 * classic subscribers as in incoming_rtp, then each multistream one on
 * its m-line for the packet's kind. Janus reads the index once per call
 * (janus_ice_relay_rtp copies it into the queued packet) and picks the
 * recipient's medium by it, so the one packet struct serves every call.
 * Items without an m-line of the kind (paused, blocked) cost a compare,
 * no call. */
static __attribute__((noinline)) void relay_streams(cj_session *s, cj_routes *r, cj_stream_routes *m, void *packet,
		uint8_t *buf, int *mindex, int video) {
	bump(&s->c.rtp_out, (r ? r->n : 0) + (video ? m->n_video : m->n_audio));
	maybe_rewrite_pt(s, buf);
	void (*relay)(sfu_plugin_session *, void *) = cj_gw.relay_rtp;
	*mindex = -1;
	if (r)
		for (void *const *it = r->items, *const *end = it + r->n; it < end; it++)
			relay(*it, packet);
	const cj_stream_item *it = m->items, *end = it + m->n;
	if (video) {
		for (; it < end; it++)
			if (it->video_mindex >= 0) {
				*mindex = it->video_mindex;
				relay(it->handle, packet);
			}
	} else {
		for (; it < end; it++)
			if (it->audio_mindex >= 0) {
				*mindex = it->audio_mindex;
				relay(it->handle, packet);
			}
	}
}

/* Everything the plugin does per incoming RTP packet, for both layouts
 * (mindex is NULL on 0.x). On 1.x the publisher's m-line index means
 * nothing on a subscriber's PeerConnection: -1 makes Janus pick the
 * subscriber's stream of the packet's kind. Janus builds the
 * janus_plugin_rtp on its stack for each packet and reads nothing of it
 * after the call, so the index is simply overwritten: one store, no load,
 * nothing live across the loop. (naf-janus-adapter opens its data channels
 * before adding tracks, so its audio and video arrive on m-lines 1 and 2,
 * never matching the subscribers' 0 and 1: every one of its packets needs
 * the -1.) The reader slot is read from TLS again on exit rather than kept
 * in a saved register across the loop. */
static inline __attribute__((always_inline)) void incoming_rtp(sfu_plugin_session *h, void *packet, char *buffer, uint16_t len,
		int *mindex, int video) {
	cj_read_enter(cj_rcu_self);
	cj_session *s = session_of(h);
	if (s == NULL)
		goto out;
	cj_routes *r = routes_of(s, CJ_ROUTE_RTP);
	bump(&s->c.rtp_in, 1);
	uint8_t *buf = (uint8_t *)buffer;
	if (buf == NULL || len < 12)
		goto out;
	/* Audio levels and multistream subscribers cost the classic path a
	 * load and a branch each; their work is out of line. */
	if (!video && __builtin_expect(atomic_load_explicit(&s->audio_level_ext, memory_order_relaxed) != 0, 0))
		count_audio_level(s, buf, len);
	if (mindex) {
		cj_stream_routes *m = streams_of(s);
		if (__builtin_expect(m != NULL, 0)) {
			relay_streams(s, r, m, packet, buf, mindex, video);
			goto out;
		}
	}
	if (r == NULL)
		goto out;
	/* Counted before the loop: a load and store after it would queue
	 * behind the callbacks' own stores (BENCHMARKS.md, "What changed in
	 * the hot path"). */
	bump(&s->c.rtp_out, r->n);
	maybe_rewrite_pt(s, buf);
	if (mindex)
		*mindex = -1;
	void (*relay)(sfu_plugin_session *, void *) = cj_gw.relay_rtp;
	for (void *const *it = r->items, *const *end = it + r->n; it < end; it++)
		relay(*it, packet);
out:
	cj_read_exit(cj_rcu_self);
}

void cj_session_set_ptmap(cj_session *s, int audio_from, int audio_to, int video_from, int video_to) {
	uint8_t m[4];
	int v[4] = {audio_from, audio_to, video_from, video_to};
	for (int i = 0; i < 4; i++)
		m[i] = (v[i] >= 0 && v[i] <= 127) ? (uint8_t)v[i] : PT_NONE;
	/* A pair with one side missing, or with nothing to change, is no pair. */
	for (int i = 0; i < 4; i += 2)
		if (m[i] == PT_NONE || m[i + 1] == PT_NONE || m[i] == m[i + 1])
			m[i] = m[i + 1] = PT_NONE;
	uint32_t word;
	memcpy(&word, m, sizeof(word));
	__atomic_store_n(&s->ptmap.word, word, __ATOMIC_RELAXED);
}

/* A thread's first packet: register it as a reader, then go on. */
static __attribute__((noinline)) void first_packet(void (*fn)(sfu_plugin_session *, void *), sfu_plugin_session *h, void *packet) {
	cj_rcu_register();
	fn(h, packet);
}

void cj_incoming_rtp_v0(sfu_plugin_session *h, void *packet) {
	if (__builtin_expect(cj_rcu_self == NULL, 0)) {
		first_packet(cj_incoming_rtp_v0, h, packet);
		return;
	}
	sfu_rtp_v0 *p = packet;
	if (p)
		incoming_rtp(h, packet, p->buffer, p->length, NULL, p->video);
}

void cj_incoming_rtp_v1(sfu_plugin_session *h, void *packet) {
	if (__builtin_expect(cj_rcu_self == NULL, 0)) {
		first_packet(cj_incoming_rtp_v1, h, packet);
		return;
	}
	sfu_rtp_v1 *p = packet;
	if (p)
		incoming_rtp(h, packet, p->buffer, p->length, &p->mindex, p->video);
}

/* noinline: the storm path calls it for compounds of three blocks or more
 * and must not carry the loop itself. */
__attribute__((noinline)) int cj_rtcp_keyframe_kind(const uint8_t *buf, int len) {
	return cj_rtcp_walk_kind(buf, len);
}

int cj_rtcp_has_keyframe_request(const uint8_t *buf, int len) {
	return cj_rtcp_wants_keyframe(buf, len);
}

/* A keyframe request that passed the throttle check: claim the window
 * (several subscribers may race here; one wins, the rest are throttled),
 * then PLI or FIR. from is the asking subscriber, NULL for the plugin's own
 * requests (setup_media, unblock). */
static __attribute__((noinline)) void send_keyframe(cj_session *pub, cj_session *from, int fir, int64_t now, int64_t until) {
	if (atomic_load_explicit(&pub->dead, memory_order_relaxed))
		return;
	int64_t interval = atomic_load_explicit(&cj_gw.keyframe_interval_us, memory_order_relaxed);
	if (interval > 0 && !atomic_compare_exchange_strong(&pub->keyframe_quiet_until_us, &until, now + interval)) {
		if (from)
			bump(&from->c.keyframe_requests_throttled, 1);
		return;
	}
	if (from)
		bump(&from->c.keyframe_requests_passed, 1);
	atomic_fetch_add_explicit(&pub->keyframes_sent, 1, memory_order_relaxed);
	/* PLI (RFC 4585, 12 bytes) or FIR (RFC 5104, 20 bytes: header, sender
	 * SSRC, media SSRC, one FCI entry of SSRC + sequence number); Janus
	 * rewrites the SSRCs for the peer. Both go through relay_rtcp, never
	 * send_pli: Janus 1.x's send_pli walks the handle's PeerConnection
	 * without its mutex, so a PLI racing the handle's hangup on another
	 * loop thread reads a freed PeerConnection; relay_rtcp looks it up
	 * under the mutex (0.x's send_pli is this same relay_rtcp call). */
	uint8_t buf[20];
	memset(buf, 0, sizeof(buf));
	uint16_t len = 12;
	buf[1] = 206;
	if (fir) {
		buf[0] = 0x80 | 4;
		buf[3] = 4;
		buf[12] = (uint8_t)atomic_fetch_add_explicit(&pub->fir_seq, 1, memory_order_relaxed);
		len = 20;
	} else {
		buf[0] = 0x80 | 1;
		buf[3] = 2;
	}
	if (cj_gw.abi == 1) {
		sfu_rtcp_v1 pkt = {.mindex = -1, .video = 1, .buffer = (char *)buf, .length = len};
		cj_gw.relay_rtcp(pub->handle, &pkt);
	} else {
		sfu_rtcp_v0 pkt = {.video = 1, .buffer = (char *)buf, .length = len};
		cj_gw.relay_rtcp(pub->handle, &pkt);
	}
}

/* Whether a keyframe request to pub falls inside its quiet window. The
 * window's end is stored, not its start, so this is one compare; with
 * throttling off it stays 0. */
static inline int keyframe_quiet(cj_session *pub, int64_t now, int64_t *until) {
	*until = atomic_load_explicit(&pub->keyframe_quiet_until_us, memory_order_relaxed);
	return now < *until;
}

static void request_keyframe(cj_session *pub, cj_session *from, int fir) {
	int64_t now = 0, until = 0;
	if (atomic_load_explicit(&cj_gw.keyframe_interval_us, memory_order_relaxed) > 0) {
		now = cj_clock_us();
		if (keyframe_quiet(pub, now, &until)) {
			if (from)
				bump(&from->c.keyframe_requests_throttled, 1);
			return;
		}
	}
	send_keyframe(pub, from, fir, now, until);
}

void cj_request_keyframe(cj_session *pub, int fir) {
	if (pub != NULL)
		request_keyframe(pub, NULL, fir);
}

/* The general keyframe path: any number of publishers, PLI or FIR. The
 * subscriber's counts take the packet's outcome at its first publisher, so
 * that each packet counts once. */
static __attribute__((noinline)) void request_keyframes(cj_session *from, cj_routes *r, const uint8_t *buf, uint16_t len) {
	int fir = !(cj_rtcp_walk_kind(buf, len) & CJ_RTCP_PLI);
	for (void *const *it = r->items, *const *end = it + r->n; it < end; it++, from = NULL)
		request_keyframe(*it, from, fir);
}

/* RTCP that is no keyframe request (sender reports and the like) goes to
 * the session's subscribers: the classic ones on the stream of the
 * packet's kind (-1), the multistream ones on their m-line of that kind. */
static __attribute__((noinline)) void relay_rtcp_all(cj_session *s, void *packet, int *mindex, int video) {
	cj_routes *r = routes_of(s, CJ_ROUTE_RTP);
	cj_stream_routes *m = mindex ? streams_of(s) : NULL;
	if (r == NULL && m == NULL)
		return;
	int saved = mindex ? *mindex : 0;
	if (mindex)
		*mindex = -1;
	void (*relay)(sfu_plugin_session *, void *) = cj_gw.relay_rtcp;
	if (r)
		for (void *const *it = r->items, *const *end = it + r->n; it < end; it++)
			relay(*it, packet);
	if (m)
		for (const cj_stream_item *it = m->items, *end = it + m->n; it < end; it++) {
			int32_t to = video ? it->video_mindex : it->audio_mindex;
			if (to >= 0) {
				*mindex = to;
				relay(it->handle, packet);
			}
		}
	if (mindex)
		*mindex = saved;
}

/* A keyframe request from a session with no classic publisher: on 1.x, a
 * multistream subscriber's, for the publisher behind the m-line it came
 * on (Janus's mindex for it: the medium its SSRCs name). */
static __attribute__((noinline)) void request_keyframe_by_mindex(cj_session *s, const uint8_t *buf, uint16_t len, const int *mindex) {
	cj_routes *r = mindex ? atomic_load_explicit(&s->keyframe_by_mindex, memory_order_acquire) : NULL;
	int m = mindex ? *mindex : -1;
	cj_session *pub = (r && m >= 0 && (uint32_t)m < r->n) ? r->items[m] : NULL;
	if (pub == NULL) {
		bump(&s->c.keyframe_requests_passed, 1); /* to nobody */
		return;
	}
	request_keyframe(pub, s, !(cj_rtcp_walk_kind(buf, len) & CJ_RTCP_PLI));
}

/* A PLI storm lands here: every subscriber of a publisher asking at once.
 * The common outcome, a request inside the publisher's throttle window,
 * makes no call at all; everything that does call out is out of line, and
 * only the reader slot is live across those calls (one saved register). */
static inline __attribute__((always_inline)) void incoming_rtcp(sfu_plugin_session *h, void *packet, const char *buf, uint16_t len, int *mindex,
		int video) {
	cj_reader *rd = cj_rcu_self;
	cj_read_enter(rd);
	cj_session *s = session_of(h);
	if (s == NULL)
		goto out;
	/* Not gated on the packet's `video` flag: Janus classifies RTCP by
	 * SSRC, and a PLI whose sender SSRC is 0 (pion, some SFUs) lands on the
	 * audio medium. A PLI or FIR is a keyframe request whatever stream
	 * carried it; which of the two only matters once one goes out. */
	if (!cj_rtcp_wants_keyframe((const uint8_t *)buf, len)) {
		bump(&s->c.rtcp_other, 1);
		relay_rtcp_all(s, packet, mindex, video);
		goto out;
	}
	/* A subscriber wants a keyframe: ask its publisher(s), throttled. */
	cj_routes *r = routes_of(s, CJ_ROUTE_KEYFRAME);
	if (r == NULL) {
		request_keyframe_by_mindex(s, (const uint8_t *)buf, len, mindex);
		goto out;
	}
	/* One publisher per subscriber handle is the rule; more take the
	 * general path, and so does a stopped ticker (never quiet here). The
	 * counts are the subscriber's own, written by its own loop thread:
	 * nothing on this path writes memory another thread writes. */
	int64_t until;
	if (__builtin_expect(r->n == 1, 1) && keyframe_quiet(r->items[0], cj_clock_ticker_us(), &until)) {
		bump(&s->c.keyframe_requests_throttled, 1);
		goto out;
	}
	request_keyframes(s, r, (const uint8_t *)buf, len);
out:
	cj_read_exit(rd);
}

void cj_incoming_rtcp_v0(sfu_plugin_session *h, void *packet) {
	sfu_rtcp_v0 *p = packet;
	if (__builtin_expect(cj_rcu_self == NULL, 0)) {
		first_packet(cj_incoming_rtcp_v0, h, packet);
		return;
	}
	if (p)
		incoming_rtcp(h, packet, p->buffer, p->length, NULL, p->video);
}

void cj_incoming_rtcp_v1(sfu_plugin_session *h, void *packet) {
	sfu_rtcp_v1 *p = packet;
	if (__builtin_expect(cj_rcu_self == NULL, 0)) {
		first_packet(cj_incoming_rtcp_v1, h, packet);
		return;
	}
	if (p)
		incoming_rtcp(h, packet, p->buffer, p->length, &p->mindex, p->video);
}

/* Data through the sender's room group: every member but the sender (one
 * compare per member; the sender is in the list unless its handle had
 * closed when the list was published, hence the count after the loop). */
static void relay_data_group(cj_session *s, sfu_plugin_session *h, cj_group *g, sfu_data *packet) {
	cj_routes *r = atomic_load_explicit(&g->members, memory_order_acquire);
	if (r == NULL)
		return;
	void (*relay)(sfu_plugin_session *, sfu_data *) = cj_gw.relay_data;
	uint32_t self = 0;
	for (void *const *it = r->items, *const *end = it + r->n; it < end; it++) {
		if (__builtin_expect(*it == h, 0)) {
			self = 1;
			continue;
		}
		relay(*it, packet);
	}
	bump(&s->c.data_out, r->n - self);
}

void cj_incoming_data(sfu_plugin_session *h, sfu_data *packet) {
	cj_reader *rd = cj_read_lock();
	cj_session *s = session_of(h);
	if (s && packet) {
		bump(&s->c.data_in, 1);
		/* A list of its own (a publisher in a block) wins over the group. */
		cj_routes *r = routes_of(s, CJ_ROUTE_DATA);
		cj_group *g;
		if (r) {
			bump(&s->c.data_out, r->n);
			void (*relay)(sfu_plugin_session *, sfu_data *) = cj_gw.relay_data;
			for (void *const *it = r->items, *const *end = it + r->n; it < end; it++)
				relay(*it, packet);
		} else if ((g = atomic_load_explicit(&s->data_group, memory_order_acquire)) != NULL)
			relay_data_group(s, h, g, packet);
	}
	cj_read_unlock(rd);
}

/* ---- sessions and routes (control path, called from Go) ---- */

cj_session *cj_session_new(sfu_plugin_session *h, uint64_t id) {
	/* Whole cache lines: the counters are written by the Janus thread that
	 * serves this handle, and must not share a line with another session's
	 * (another thread's) fields. */
	cj_session *s = aligned_alloc(64, sizeof(*s));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->handle = h;
	s->id = id;
	s->ptmap.word = 0xffffffffu;
	/* h's refcount is not ours to touch yet: Janus g_mallocs the handle,
	 * calls create_session and only then runs janus_refcount_init (on
	 * error it g_frees the handle). After the init it adds the reference
	 * that is the plugin's; cj_session_id_hold notes that we have it. */
	__atomic_store_n((cj_session **)&h->plugin_handle, s, __ATOMIC_RELEASE);
	return s;
}

uint64_t cj_session_id(sfu_plugin_session *h) {
	uint64_t id = 0;
	cj_reader *rd = cj_read_lock();
	cj_session *s = session_of(h);
	if (s)
		id = s->id;
	cj_read_unlock(rd);
	return id;
}

/* cj_session_id for Janus's control-path calls. The first of them marks
 * the session as holding the reference Janus gave the plugin: every call
 * after create_session comes after Janus set the refcount up and added
 * that reference (0.12 through 1.x), and before Go can hand the handle to
 * routes or to Janus (a handle joins through handle_message). Janus's own
 * reference goes with the detach; ours keeps the handle alive until
 * cj_session_free, a grace period after, and dropping it lets Janus free
 * the handle and, with its last handle, the Janus session. Inside the
 * read section, so that cj_session_free sees held. */
uint64_t cj_session_id_hold(sfu_plugin_session *h) {
	uint64_t id = 0;
	cj_reader *rd = cj_read_lock();
	cj_session *s = session_of(h);
	if (s) {
		id = s->id;
		if (!atomic_load_explicit(&s->held, memory_order_relaxed))
			atomic_store(&s->held, 1);
	}
	cj_read_unlock(rd);
	return id;
}

void cj_session_detach(cj_session *s) {
	atomic_store(&s->dead, 1);
	cj_session *expected = s;
	__atomic_compare_exchange_n((cj_session **)&s->handle->plugin_handle, &expected, NULL, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Only after a grace period following the last publish that dropped every
 * reference to s. A session that never got past create_session (its error
 * path) holds no reference, and its handle may be gone already. The
 * reference dropped here may be the handle's last: Janus's free then runs
 * on this thread (janus_ice_plugin_session_free, which releases the
 * handle, which releases the Janus session). */
void cj_session_free(cj_session *s) {
	for (int i = 0; i < CJ_ROUTE_COUNT; i++)
		cj_routes_free(atomic_load(&s->routes[i]));
	cj_stream_routes_free(atomic_load(&s->streams));
	cj_routes_free(atomic_load(&s->keyframe_by_mindex));
	sfu_plugin_session *h = s->handle;
	if (atomic_load(&s->held) && __atomic_sub_fetch(&h->ref.count, 1, __ATOMIC_SEQ_CST) == 0 && h->ref.free)
		h->ref.free(&h->ref);
	poison_free(s, sizeof(*s));
}

cj_routes *cj_routes_new(void **items, uint32_t n) {
	if (n == 0)
		return NULL;
	cj_routes *r = malloc(sizeof(*r) + n * sizeof(void *));
	if (!r)
		return NULL;
	r->n = n;
	memcpy(r->items, items, n * sizeof(void *));
	return r;
}

cj_routes *cj_routes_swap(cj_session *s, int which, cj_routes *r) {
	return atomic_exchange(&s->routes[which], r);
}

void cj_routes_free(cj_routes *r) {
	if (r)
		poison_free(r, sizeof(*r) + r->n * sizeof(void *));
}

cj_group *cj_group_new(void) {
	cj_group *g = malloc(sizeof(*g));
	if (g)
		atomic_init(&g->members, NULL);
	return g;
}

cj_routes *cj_group_swap(cj_group *g, cj_routes *r) {
	return atomic_exchange(&g->members, r);
}

cj_group *cj_session_group_swap(cj_session *s, cj_group *g) {
	return atomic_exchange(&s->data_group, g);
}

void cj_group_free(cj_group *g) {
	if (g) {
		cj_routes_free(atomic_load(&g->members));
		poison_free(g, sizeof(*g));
	}
}

cj_stream_routes *cj_stream_routes_alloc(uint32_t n) {
	if (n == 0)
		return NULL;
	cj_stream_routes *r = malloc(sizeof(*r) + (size_t)n * sizeof(cj_stream_item));
	if (r)
		*r = (cj_stream_routes){.n = n};
	return r;
}

cj_stream_routes *cj_streams_swap(cj_session *s, cj_stream_routes *r) {
	if (r) {
		r->n_audio = r->n_video = 0;
		for (uint32_t i = 0; i < r->n; i++) {
			r->n_audio += r->items[i].audio_mindex >= 0;
			r->n_video += r->items[i].video_mindex >= 0;
		}
	}
	return atomic_exchange(&s->streams, r);
}

void cj_stream_routes_free(cj_stream_routes *r) {
	if (r)
		poison_free(r, sizeof(*r) + r->n * sizeof(cj_stream_item));
}

cj_routes *cj_keyframe_by_mindex_swap(cj_session *s, cj_routes *r) {
	return atomic_exchange(&s->keyframe_by_mindex, r);
}

void cj_session_set_audio_level_ext(cj_session *s, int ext_id) {
	atomic_store_explicit(&s->audio_level_ext, (ext_id >= 1 && ext_id <= 255) ? (uint8_t)ext_id : 0, memory_order_relaxed);
}

void cj_session_audio_level(cj_session *s, uint64_t *sum, uint64_t *packets) {
	*packets = atomic_load_explicit(&s->c.audio_level_packets, memory_order_relaxed);
	*sum = atomic_load_explicit(&s->c.audio_level_sum, memory_order_relaxed);
}

void cj_set_keyframe_interval(int64_t us) {
	atomic_store(&cj_gw.keyframe_interval_us, us);
	if (us > 0)
		cj_clock_start(us);
	else
		cj_clock_stop();
}

void cj_session_stats(cj_session *s, cj_relay_stats *out) {
	uint64_t passed = atomic_load_explicit(&s->c.keyframe_requests_passed, memory_order_relaxed);
	uint64_t throttled = atomic_load_explicit(&s->c.keyframe_requests_throttled, memory_order_relaxed);
	*out = (cj_relay_stats){
		.rtp_in = atomic_load_explicit(&s->c.rtp_in, memory_order_relaxed),
		.rtp_out = atomic_load_explicit(&s->c.rtp_out, memory_order_relaxed),
		.rtcp_in = atomic_load_explicit(&s->c.rtcp_other, memory_order_relaxed) + throttled + passed,
		.data_in = atomic_load_explicit(&s->c.data_in, memory_order_relaxed),
		.data_out = atomic_load_explicit(&s->c.data_out, memory_order_relaxed),
		.keyframe_requests_in = throttled + passed,
		.keyframes_sent = atomic_load_explicit(&s->keyframes_sent, memory_order_relaxed),
		.keyframes_throttled = throttled,
	};
}

sfu_plugin_session *cj_session_handle(cj_session *s) {
	return s->handle;
}
