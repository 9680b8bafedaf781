/*
 * The C half of the plugin: the relay hot path and the routing tables it
 * reads. Go owns rooms and subscriptions and publishes, per session, an
 * immutable array of recipients; the hot path only loads a pointer and loops.
 * Old arrays are freed after a grace period (see rcu.c), so readers never
 * lock and never write shared memory.
 */
#ifndef SFU_CORE_H
#define SFU_CORE_H

#include <stdatomic.h>
#include <stdint.h>
#include "abi.h"

/* An immutable recipient list. items are sfu_plugin_session* for the RTP and
 * data routes, cj_session* for the keyframe route. */
typedef struct cj_routes {
	uint32_t n;
	void *items[];
} cj_routes;

enum {
	CJ_ROUTE_RTP = 0,      /* subscribers of this publisher: RTP and plain RTCP */
	CJ_ROUTE_DATA = 1,     /* data-channel recipients of this publisher */
	CJ_ROUTE_KEYFRAME = 2, /* publishers this subscriber receives: PLI/FIR go there */
	CJ_ROUTE_COUNT = 3
};

/* Counters written only by the session's own Janus loop thread (single
 * writer, so plain loads and stores, no lock prefix) and read by Go. */
typedef struct cj_counters {
	/* RTCP in = rtcp_other + the keyframe requests below: each packet
	 * bumps exactly one of the three. */
	_Atomic uint64_t rtp_in, rtp_out, rtcp_other, data_in, data_out;
	/* Keyframe requests this session sent as a subscriber: dropped by
	 * its publisher's throttle, and passed on (in = the two together). */
	_Atomic uint64_t keyframe_requests_throttled, keyframe_requests_passed;
} cj_counters;

typedef struct cj_session {
	sfu_plugin_session *handle;
	uint64_t id;
	_Atomic(cj_routes *) routes[CJ_ROUTE_COUNT];
	_Atomic int dead;
	/* Payload-type rewrite for this publisher's RTP: bytes [audio from,
	 * audio to, video from, video to], 0xff = none, stored as one word so
	 * a reader of the word never sees half a map. The hot path compares
	 * single bytes and, on a match, reads the word again. */
	union {
		uint32_t word;
		uint8_t b[4];
	} ptmap;
	/* Keyframe requests sent to this session as a publisher: none before
	 * this time (cj_clock_us), 0 = none sent or no throttle. */
	_Atomic int64_t keyframe_quiet_until_us;
	_Atomic uint32_t fir_seq;
	_Atomic uint64_t keyframes_sent;
	cj_counters c;
} __attribute__((aligned(64))) cj_session;

/* Gateway callbacks normalised across ABIs, filled by init. */
typedef struct cj_gateway {
	int abi;      /* 0 = Janus 0.x layout, 1 = Janus 1.x layout */
	int api;      /* plugin API we report */
	int janus_version;
	void *plugin; /* our janus_plugin struct, passed back in push_event */
	int (*push_event)(sfu_plugin_session *h, struct sfu_plugin *p, const char *transaction, json_t *message, json_t *jsep);
	void (*relay_rtp)(sfu_plugin_session *h, void *packet);
	void (*relay_rtcp)(sfu_plugin_session *h, void *packet);
	void (*relay_data)(sfu_plugin_session *h, sfu_data *packet);
	void (*send_pli)(sfu_plugin_session *h);
	void (*close_pc)(sfu_plugin_session *h);
	void (*end_session)(sfu_plugin_session *h);
	_Atomic int64_t keyframe_interval_us;
	void *user; /* the Go Gateway, as a go-pointer token */
} cj_gateway;

extern cj_gateway cj_gw;
extern int cj_debug_poison;

/* Plugin entry point, called by plugin/create(). */
void *cj_create(void);
int cj_selected_abi(void);

/* Logging through Janus's logger (falls back to stderr). */
#define CJ_LOG_FATAL 1
#define CJ_LOG_ERR 2
#define CJ_LOG_WARN 3
#define CJ_LOG_INFO 4
#define CJ_LOG_VERB 5
#define CJ_LOG_HUGE 6
#define CJ_LOG_DBG 7
int cj_log_enabled(int level);
void cj_log(int level, const char *msg);

/* Read-side critical sections and grace periods (rcu.c). The read side is
 * inline: it runs twice per packet, and cgo builds without link-time
 * optimisation. */
typedef struct cj_reader {
	_Atomic uint64_t seen; /* epoch seen on entry, 0 when outside */
	_Atomic int in_use;
	struct cj_reader *next;
} __attribute__((aligned(64))) cj_reader;

/* The epoch advances by 2; its low bit says whether readers must fence
 * (membarrier unavailable), so the read side tests the value it loads
 * anyway instead of loading a flag. */
#define CJ_RCU_FENCED 1u
extern _Atomic uint64_t cj_rcu_epoch;
extern int cj_rcu_use_membarrier;
extern __thread cj_reader *cj_rcu_self __attribute__((tls_model("initial-exec")));
cj_reader *cj_rcu_register(void);

/* Enter and leave a read-side section on a registered thread (r is its
 * cj_rcu_self). The packet paths check registration once on entry and read
 * the slot from TLS again on exit where that keeps a register free. */
static inline void cj_read_enter(cj_reader *r) {
	uint64_t e = atomic_load_explicit(&cj_rcu_epoch, memory_order_acquire);
	atomic_store_explicit(&r->seen, e, memory_order_relaxed);
	if (__builtin_expect(e & CJ_RCU_FENCED, 0))
		atomic_thread_fence(memory_order_seq_cst);
	else
		atomic_signal_fence(memory_order_seq_cst);
}

static inline void cj_read_exit(cj_reader *r) {
	atomic_store_explicit(&r->seen, 0, memory_order_release);
}

/* The same for any thread, registering it on first use. */
static inline cj_reader *cj_read_lock(void) {
	cj_reader *r = cj_rcu_self;
	if (__builtin_expect(r == NULL, 0))
		r = cj_rcu_register();
	cj_read_enter(r);
	return r;
}

static inline void cj_read_unlock(cj_reader *r) { cj_read_exit(r); }

void cj_synchronize(void);
int cj_rcu_init(void);

/* Sessions and routes, driven by Go. */
cj_session *cj_session_new(sfu_plugin_session *h, uint64_t id);
uint64_t cj_session_id(sfu_plugin_session *h);
void cj_session_detach(cj_session *s);
void cj_session_free(cj_session *s);
sfu_plugin_session *cj_session_handle(cj_session *s);
void cj_set_keyframe_interval(int64_t us);
void cj_session_set_ptmap(cj_session *s, int audio_from, int audio_to, int video_from, int video_to);
#define CJ_STATS_COUNT 8
void cj_session_stats(cj_session *s, uint64_t out[CJ_STATS_COUNT]);
cj_routes *cj_routes_new(void **items, uint32_t n);
cj_routes *cj_routes_swap(cj_session *s, int which, cj_routes *r);
void cj_routes_free(cj_routes *r);

/* Hot path (also the janus_plugin slots). */
void cj_incoming_rtp_v0(sfu_plugin_session *h, void *packet);
void cj_incoming_rtp_v1(sfu_plugin_session *h, void *packet);
void cj_incoming_rtcp_v0(sfu_plugin_session *h, void *packet);
void cj_incoming_rtcp_v1(sfu_plugin_session *h, void *packet);
void cj_incoming_data(sfu_plugin_session *h, sfu_data *packet);

/* Keyframe request to a publisher, throttled per publisher. fir != 0 sends
 * an RTCP FIR with the publisher's own sequence number, else a PLI. */
void cj_request_keyframe(cj_session *pub, int fir);

/* Control-path calls into Janus. */
int cj_push_event(cj_session *s, const char *transaction, const char *body, size_t body_len, const char *jsep, size_t jsep_len);
void cj_end_session(cj_session *s);
void cj_close_pc(cj_session *s);

/* The throttle's clock (clock.c): microseconds, CLOCK_MONOTONIC_COARSE, at
 * most one tick (<= 10 ms) behind while the ticker runs, CJ_CLOCK_STOPPED
 * (later than any deadline) while it does not. */
#define CJ_CLOCK_STOPPED INT64_MAX
extern _Atomic int64_t cj_clock_now_us;
int64_t cj_clock_read_us(void);
void cj_clock_start(int64_t interval_us);
void cj_clock_stop(void);

/* The ticker's value as it is: a deadline check against CJ_CLOCK_STOPPED
 * fails, which sends the caller to a path that reads the real clock. */
static inline int64_t cj_clock_ticker_us(void) {
	return atomic_load_explicit(&cj_clock_now_us, memory_order_relaxed);
}

static inline int64_t cj_clock_us(void) {
	int64_t t = atomic_load_explicit(&cj_clock_now_us, memory_order_relaxed);
	if (__builtin_expect(t == CJ_CLOCK_STOPPED, 0))
		t = cj_clock_read_us();
	return t;
}

/* RTCP inspection. Both walks go block by block by the length words and
 * stop at the first malformed block. */
#define CJ_RTCP_PLI 1
#define CJ_RTCP_FIR 2

/* A block's header word: V(2) P(1) FMT(5) | PT(8) | length in words - 1. */
static inline uint32_t rtcp_word(const uint8_t *p) {
	return __builtin_bswap32(*(const uint32_t __attribute__((aligned(1), may_alias)) *)p);
}

/* PT 206 (payload-specific feedback) with FMT 1 is a PLI, with FMT 4 a
 * FIR; the padding bit is masked off. */
static inline int rtcp_block_kind(uint32_t w) {
	uint32_t hdr = (w >> 16) & 0xdfff;
	return hdr == 0x81ce ? CJ_RTCP_PLI : hdr == 0x84ce ? CJ_RTCP_FIR : 0;
}

/* Which keyframe requests a (compound) packet holds, as a bitmask of
 * CJ_RTCP_*. */
static inline int rtcp_keyframe_kind(const uint8_t *buf, int len) {
	int kind = 0;
	if (buf == NULL)
		return 0;
	for (const uint8_t *p = buf, *end = buf + len; end - p >= 4;) {
		uint32_t w = rtcp_word(p);
		int size = (int)((w & 0xffff) + 1) * 4;
		if ((w >> 30) != 2 || size > end - p)
			break;
		kind |= rtcp_block_kind(w);
		p += size;
	}
	return kind;
}

/* Out of line in relay.c (tests and the fuzzer call it too). */
int cj_rtcp_keyframe_kind(const uint8_t *buf, int len);

/* Whether the packet holds a PLI or FIR, for the PLI storm path. The first
 * two blocks in straight-line code: a lone PLI (pion, Janus's own) and a
 * browser's RR + PLI are decided without a loop, whose registers and
 * branches measured ~1.5 ns of a ~3.5 ns storm path; longer compounds walk
 * on out of line. */
static inline int rtcp_has_keyframe_request(const uint8_t *buf, int len) {
	if (buf == NULL || len < 4)
		return 0;
	uint32_t w = rtcp_word(buf);
	int size = (int)((w & 0xffff) + 1) * 4;
	if ((w >> 30) != 2 || size > len)
		return 0;
	if (rtcp_block_kind(w))
		return 1;
	if (len - size < 4)
		return 0;
	const uint8_t *p = buf + size;
	w = rtcp_word(p);
	int size2 = (int)((w & 0xffff) + 1) * 4;
	if ((w >> 30) != 2 || size2 > len - size)
		return 0;
	if (rtcp_block_kind(w))
		return 1;
	if (len - size - size2 < 4)
		return 0;
	return cj_rtcp_keyframe_kind(p + size2, len - size - size2) != 0;
}
int cj_rtcp_has_keyframe_request(const uint8_t *buf, int len);

#endif
