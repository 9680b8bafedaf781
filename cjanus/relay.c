/*
 * The per-packet path. Janus calls these straight from its loop threads; they
 * never enter Go. Each one: enter a read-side section, load the session's
 * immutable recipient array, call the gateway's relay function per recipient.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

cj_gateway cj_gw;

/* Tests set this so that freed routes and sessions are overwritten first:
 * a reader still holding one would then crash instead of passing silently. */
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

/* Single-writer counter bump: a plain load and store, no lock prefix. */
static inline void bump(_Atomic uint64_t *c, uint64_t by) {
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by, memory_order_relaxed);
}

#define PT_NONE 0xffu

/* The payload type the subscribers expect for this packet's, or the same
 * one when there is nothing to rewrite. */
static inline uint8_t mapped_pt(uint32_t map, uint8_t pt) {
	if (pt == (map & 0xff))
		return (map >> 8) & 0xff;
	if (pt == ((map >> 16) & 0xff))
		return (map >> 24) & 0xff;
	return pt;
}

/* The fan-out loop on its own: four live values, so they all stay in
 * callee-saved registers across the calls (inlined into the caller, the
 * function pointer was reloaded from the stack on every copy). */
static __attribute__((noinline)) void fan_out(void *const *items, uint32_t n, void *packet,
		void (*relay)(sfu_plugin_session *, void *)) {
	for (void *const *end = items + n; items < end; items++)
		relay(*items, packet);
}

static inline void relay_rtp_all(cj_session *s, void *packet, char *buf, uint16_t len) {
	cj_routes *r = routes_of(s, CJ_ROUTE_RTP);
	bump(&s->c.rtp_in, 1);
	if (r == NULL || buf == NULL || len < 12)
		return;
	/* Subscribers negotiated fixed payload types; the publisher's may
	 * differ. Janus copies the buffer per relay, so rewrite the byte in
	 * place for the loop and put Janus's value back after. */
	uint8_t *b1 = (uint8_t *)buf + 1;
	uint8_t orig = *b1;
	uint8_t pt = mapped_pt(atomic_load_explicit(&s->ptmap, memory_order_relaxed), orig & 0x7f);
	int rewrite = pt != PT_NONE && pt != (orig & 0x7f);
	if (rewrite)
		*b1 = (uint8_t)((orig & 0x80) | pt);
	uint32_t n = r->n;
	fan_out(r->items, n, packet, cj_gw.relay_rtp);
	if (rewrite)
		*b1 = orig;
	bump(&s->c.rtp_out, n);
}

void cj_session_set_ptmap(cj_session *s, int audio_from, int audio_to, int video_from, int video_to) {
	uint32_t m = 0;
	int v[4] = {audio_from, audio_to, video_from, video_to};
	for (int i = 0; i < 4; i++)
		m |= (uint32_t)((v[i] >= 0 && v[i] <= 127) ? v[i] : PT_NONE) << (8 * i);
	/* A pair with one side missing rewrites nothing. */
	if ((m & 0xff) == PT_NONE || ((m >> 8) & 0xff) == PT_NONE)
		m |= 0xffffu;
	if (((m >> 16) & 0xff) == PT_NONE || ((m >> 24) & 0xff) == PT_NONE)
		m |= 0xffff0000u;
	atomic_store_explicit(&s->ptmap, m, memory_order_relaxed);
}

void cj_incoming_rtp_v0(sfu_plugin_session *h, void *packet) {
	cj_reader *rd = cj_read_lock();
	cj_session *s = session_of(h);
	if (s && packet) {
		sfu_rtp_v0 *p = packet;
		relay_rtp_all(s, packet, p->buffer, p->length);
	}
	cj_read_unlock(rd);
}

void cj_incoming_rtp_v1(sfu_plugin_session *h, void *packet) {
	cj_reader *rd = cj_read_lock();
	cj_session *s = session_of(h);
	if (s && packet) {
		/* The publisher's m-line index means nothing on a subscriber's
		 * PeerConnection: -1 makes Janus pick the subscriber's first stream of
		 * the packet's kind (audio or video). Restored for Janus's own use. */
		sfu_rtp_v1 *p = packet;
		int mindex = p->mindex;
		p->mindex = -1;
		relay_rtp_all(s, packet, p->buffer, p->length);
		p->mindex = mindex;
	}
	cj_read_unlock(rd);
}

int cj_rtcp_keyframe_kind(const uint8_t *buf, int len) {
	int kind = 0;
	int off = 0;
	while (buf && off + 4 <= len) {
		uint8_t v = buf[off] >> 6;
		uint8_t fmt = buf[off] & 0x1f;
		uint8_t pt = buf[off + 1];
		int words = (buf[off + 2] << 8) | buf[off + 3];
		int size = (words + 1) * 4;
		if (v != 2 || off + size > len)
			break;
		if (pt == 206 && fmt == 1)
			kind |= CJ_RTCP_PLI;
		else if (pt == 206 && fmt == 4)
			kind |= CJ_RTCP_FIR;
		off += size;
	}
	return kind;
}

/* The coarse clock is a plain read of the vDSO page (a few ns, where
 * CLOCK_MONOTONIC costs ~20 ns on kvm-clock); its few-ms resolution is
 * plenty for a throttle measured in hundreds of ms. */
static int64_t monotonic_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void cj_request_keyframe(cj_session *pub, int fir) {
	if (pub == NULL || atomic_load_explicit(&pub->dead, memory_order_relaxed))
		return;
	int64_t interval = atomic_load_explicit(&cj_gw.keyframe_interval_us, memory_order_relaxed);
	int64_t now = monotonic_us();
	int64_t last = atomic_load_explicit(&pub->last_keyframe_us, memory_order_relaxed);
	/* The throttled count is a statistic: subscribers on other threads
	 * may lose an increment now and then, never corrupt it. */
	if (interval > 0 && last != 0 && now - last < interval) {
		bump(&pub->keyframes_throttled, 1);
		return;
	}
	/* Several subscribers may race here; one wins, the rest are throttled. */
	if (interval > 0 && !atomic_compare_exchange_strong(&pub->last_keyframe_us, &last, now)) {
		bump(&pub->keyframes_throttled, 1);
		return;
	}
	if (interval <= 0)
		atomic_store_explicit(&pub->last_keyframe_us, now, memory_order_relaxed);
	atomic_fetch_add_explicit(&pub->keyframes_sent, 1, memory_order_relaxed);
	if (!fir) {
		cj_gw.send_pli(pub->handle);
		return;
	}
	/* RFC 5104 FIR: header, sender SSRC, media SSRC, then one FCI entry
	 * (SSRC + sequence number). Janus rewrites the SSRCs for the peer. */
	uint8_t buf[20];
	memset(buf, 0, sizeof(buf));
	buf[0] = 0x80 | 4;
	buf[1] = 206;
	buf[3] = 4;
	buf[12] = (uint8_t)atomic_fetch_add_explicit(&pub->fir_seq, 1, memory_order_relaxed);
	if (cj_gw.abi == 1) {
		sfu_rtcp_v1 pkt = {.mindex = -1, .video = 1, .buffer = (char *)buf, .length = sizeof(buf)};
		cj_gw.relay_rtcp(pub->handle, &pkt);
	} else {
		sfu_rtcp_v0 pkt = {.video = 1, .buffer = (char *)buf, .length = sizeof(buf)};
		cj_gw.relay_rtcp(pub->handle, &pkt);
	}
}

static inline void incoming_rtcp(sfu_plugin_session *h, void *packet, int video, const char *buf, uint16_t len, int *mindex) {
	cj_reader *rd = cj_read_lock();
	cj_session *s = session_of(h);
	if (s == NULL)
		goto out;
	bump(&s->c.rtcp_in, 1);
	/* Not gated on `video`: Janus classifies RTCP by SSRC, and a PLI whose
	 * sender SSRC is 0 (pion, some SFUs) lands on the audio medium. A PLI
	 * or FIR is a keyframe request whatever stream carried it. */
	(void)video;
	int kind = cj_rtcp_keyframe_kind((const uint8_t *)buf, len);
	if (kind) {
		/* A subscriber wants a keyframe: ask its publisher(s), throttled. */
		bump(&s->c.keyframe_requests_in, 1);
		cj_routes *r = routes_of(s, CJ_ROUTE_KEYFRAME);
		if (r)
			for (uint32_t i = 0; i < r->n; i++)
				cj_request_keyframe(r->items[i], (kind & CJ_RTCP_PLI) ? 0 : 1);
		goto out;
	}
	cj_routes *r = routes_of(s, CJ_ROUTE_RTP);
	if (r && r->n) {
		int saved = mindex ? *mindex : 0;
		if (mindex)
			*mindex = -1;
		for (uint32_t i = 0; i < r->n; i++)
			cj_gw.relay_rtcp(r->items[i], packet);
		if (mindex)
			*mindex = saved;
	}
out:
	cj_read_unlock(rd);
}

void cj_incoming_rtcp_v0(sfu_plugin_session *h, void *packet) {
	sfu_rtcp_v0 *p = packet;
	if (p)
		incoming_rtcp(h, packet, p->video, p->buffer, p->length, NULL);
}

void cj_incoming_rtcp_v1(sfu_plugin_session *h, void *packet) {
	sfu_rtcp_v1 *p = packet;
	if (p)
		incoming_rtcp(h, packet, p->video, p->buffer, p->length, &p->mindex);
}

void cj_incoming_data(sfu_plugin_session *h, sfu_data *packet) {
	cj_reader *rd = cj_read_lock();
	cj_session *s = session_of(h);
	if (s && packet) {
		bump(&s->c.data_in, 1);
		cj_routes *r = routes_of(s, CJ_ROUTE_DATA);
		if (r) {
			for (uint32_t i = 0; i < r->n; i++)
				cj_gw.relay_data(r->items[i], packet);
			bump(&s->c.data_out, r->n);
		}
	}
	cj_read_unlock(rd);
}

/* ---- sessions and routes (control path, called from Go) ---- */

cj_session *cj_session_new(sfu_plugin_session *h, uint64_t id) {
	cj_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->handle = h;
	s->id = id;
	atomic_store(&s->ptmap, 0xffffffffu);
	/* Hold the handle until we are done with it, as Janus's own plugins do
	 * (janus_refcount_increase on the plugin session). */
	__atomic_add_fetch(&h->ref.count, 1, __ATOMIC_SEQ_CST);
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

void cj_session_detach(cj_session *s) {
	atomic_store(&s->dead, 1);
	cj_session *expected = s;
	__atomic_compare_exchange_n((cj_session **)&s->handle->plugin_handle, &expected, NULL, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Only after a grace period following the last publish that dropped every
 * reference to s. */
void cj_session_free(cj_session *s) {
	for (int i = 0; i < CJ_ROUTE_COUNT; i++)
		cj_routes_free(atomic_load(&s->routes[i]));
	sfu_plugin_session *h = s->handle;
	if (__atomic_sub_fetch(&h->ref.count, 1, __ATOMIC_SEQ_CST) == 0 && h->ref.free)
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

void cj_set_keyframe_interval(int64_t us) {
	atomic_store(&cj_gw.keyframe_interval_us, us);
}

void cj_session_stats(cj_session *s, uint64_t out[CJ_STATS_COUNT]) {
	out[0] = atomic_load_explicit(&s->c.rtp_in, memory_order_relaxed);
	out[1] = atomic_load_explicit(&s->c.rtp_out, memory_order_relaxed);
	out[2] = atomic_load_explicit(&s->c.rtcp_in, memory_order_relaxed);
	out[3] = atomic_load_explicit(&s->c.data_in, memory_order_relaxed);
	out[4] = atomic_load_explicit(&s->c.data_out, memory_order_relaxed);
	out[5] = atomic_load_explicit(&s->c.keyframe_requests_in, memory_order_relaxed);
	out[6] = atomic_load_explicit(&s->keyframes_sent, memory_order_relaxed);
	out[7] = atomic_load_explicit(&s->keyframes_throttled, memory_order_relaxed);
}

sfu_plugin_session *cj_session_handle(cj_session *s) {
	return s->handle;
}
