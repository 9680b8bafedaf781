/*
 * Everything inside a timed interval (see bench.h for why it is one
 * translation unit): the counting gateway callbacks, the packets, one loop
 * per variant, the worker threads, and the loop callgrind counts.
 */
#define _GNU_SOURCE
/* Every timed loop aligned as the plugin's and plugin_side.c's are: a loop
 * of a few instructions that straddles a 64-byte line costs an extra fetch
 * window an iteration on Intel, whoever runs it (BENCHMARKS.md, "What
 * changed in the hot path"). */
#pragma GCC optimize("align-loops=32")
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pin_self(int cpu) {
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % ncpus(), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ------------------------------------------------------------------ */
/* Gateway callbacks: counting no-ops.                                 */

static __thread uint64_t tl_rtp, tl_rtcp, tl_data, tl_pli;

__attribute__((noinline)) static void cb_relay_rtp(h_session *h, void *packet) {
	(void)h;
	(void)packet;
	tl_rtp++;
}
__attribute__((noinline)) static void cb_relay_rtcp(h_session *h, void *packet) {
	(void)h;
	(void)packet;
	tl_rtcp++;
}
__attribute__((noinline)) static void cb_relay_data(h_session *h, h_data *packet) {
	(void)h;
	(void)packet;
	tl_data++;
}
__attribute__((noinline)) static void cb_send_pli(h_session *h) {
	(void)h;
	tl_pli++;
}
static void cb_send_pli_stream(h_session *h, int mindex) {
	(void)h;
	(void)mindex;
}
static void cb_send_remb(h_session *h, uint32_t bitrate) {
	(void)h;
	(void)bitrate;
}
static void cb_close_pc(h_session *h) { (void)h; }
static void cb_end_session(h_session *h) { (void)h; }
static void cb_notify_event(struct h_plugin *p, h_session *h, json_t *event) {
	(void)p;
	(void)h;
	(void)event;
}

static h_callbacks0 callbacks0 = {FJ_CALLBACKS_COMMON(cb_)};

static h_callbacks1 callbacks1 = {
	FJ_CALLBACKS_COMMON(cb_),
	.send_pli_stream = cb_send_pli_stream,
};

/* The callbacks as the floor loops see them: loaded once through a volatile
 * read, so the compiler cannot devirtualise or inline them (the plugin loads
 * them from its own table, too). */
typedef void (*relay_fn)(h_session *, void *);
typedef void (*data_fn)(h_session *, h_data *);
typedef void (*pli_fn)(h_session *);

static relay_fn gw_relay_rtp(void) {
	relay_fn volatile *p = world.abi ? (relay_fn volatile *)&callbacks1.relay_rtp : (relay_fn volatile *)&callbacks0.relay_rtp;
	return *p;
}
static data_fn gw_relay_data(void) {
	data_fn volatile *p = world.abi ? (data_fn volatile *)&callbacks1.relay_data : (data_fn volatile *)&callbacks0.relay_data;
	return *p;
}
static pli_fn gw_send_pli(void) {
	pli_fn volatile *p = world.abi ? (pli_fn volatile *)&callbacks1.send_pli : (pli_fn volatile *)&callbacks0.send_pli;
	return *p;
}

/* ------------------------------------------------------------------ */
/* Packets.                                                            */

const char *const codec_name[NCODEC] = {"opus", "h264"};
static const int codec_len[NCODEC] = {100, 1200};

/* One set of packets per worker thread, each on its own cache lines: the
 * 1.x path writes mindex into the packet (and restores it), and in Janus
 * every loop thread has its own packets. Sharing them would make two threads
 * fight over one cache line and measure the harness, not the plugin. */
#define NWORKERS 2
typedef struct packets {
	char buf[NCODEC][1536];
	h_rtp0 rtp0[NCODEC];
	h_rtp1 rtp1[NCODEC];
	char pli_buf[64];
	h_rtcp0 pli0;
	h_rtcp1 pli1;
	char rr_pli_buf[64]; /* a browser's compound: RR with one report block, then the PLI */
	h_rtcp0 rr_pli0;
	h_rtcp1 rr_pli1;
	char al_buf[128]; /* Opus carrying an RFC 6464 audio level (one-byte form) */
	h_rtp0 al0;
	h_rtp1 al1;
} __attribute__((aligned(64))) packets;
static packets pk[NWORKERS];

static const uint8_t pli_bytes[12] = {0x80 | 1, 206, 0, 2, 0, 0, 0x0b, 0xb9, 0, 0, 0x07, 0xd1};

static char data_buf[64] = "{\"dataType\":\"u\",\"data\":{\"networkId\":\"abc\",\"x\":1.0}}";
static h_data data_pkt;

void make_packets(void) {
	for (int w = 0; w < NWORKERS; w++) {
		packets *P = &pk[w];
		for (int c = 0; c < NCODEC; c++) {
			uint8_t *b = (uint8_t *)P->buf[c];
			int len = codec_len[c];
			memset(b, 0, sizeof(P->buf[c]));
			b[0] = 0x80;                           /* V=2, no padding, no extension, CC=0 */
			b[1] = c == OPUS ? 111 : (0x80 | 102); /* PT (H.264 with the marker bit) */
			b[2] = 0x12, b[3] = 0x34;              /* sequence number */
			b[4] = 0x00, b[5] = 0x01, b[6] = 0xe2, b[7] = 0x40; /* timestamp */
			uint32_t ssrc = c == OPUS ? 1001 : 2001;
			b[8] = ssrc >> 24, b[9] = ssrc >> 16, b[10] = ssrc >> 8, b[11] = ssrc;
			if (c == OPUS)
				b[12] = 0x78; /* TOC: SILK/CELT hybrid FB 20 ms, one frame */
			else
				b[12] = 0x7c, b[13] = 0x85; /* FU-A, start of an IDR slice */
			for (int i = 14; i < len; i++)
				b[i] = (uint8_t)(i * 31);
			memset(&P->rtp0[c], 0, sizeof(P->rtp0[c]));
			memset(&P->rtp1[c], 0, sizeof(P->rtp1[c]));
			P->rtp0[c].video = P->rtp1[c].video = c == H264;
			/* naf-janus-adapter opens its data channels first: m-line 0 is
			 * the application, audio 1, video 2. */
			P->rtp1[c].mindex = c == H264 ? 2 : 1;
			P->rtp0[c].buffer = P->rtp1[c].buffer = P->buf[c];
			P->rtp0[c].length = P->rtp1[c].length = (uint16_t)len;
			P->rtp0[c].extensions.audio_level = P->rtp1[c].extensions.audio_level = -1;
		}
		/* The Opus packet again, with the extension block browsers send
		 * for the audio level alone: 0xBEDE, one word, the element (id,
		 * L=0), level 30 with the voice bit, two bytes of padding. */
		memcpy(P->al_buf, P->buf[OPUS], 12);
		P->al_buf[0] |= 0x10;
		static const uint8_t ext[8] = {0xbe, 0xde, 0, 1, BENCH_AUDIO_LEVEL_EXT << 4, 0x80 | 30, 0, 0};
		memcpy(P->al_buf + 12, ext, sizeof(ext));
		memcpy(P->al_buf + 20, P->buf[OPUS] + 12, (size_t)codec_len[OPUS] - 20);
		P->al0 = (h_rtp0){.video = 0, .buffer = P->al_buf, .length = (uint16_t)codec_len[OPUS]};
		P->al1 = (h_rtp1){.mindex = 1, .video = 0, .buffer = P->al_buf, .length = (uint16_t)codec_len[OPUS]};
		P->al0.extensions.audio_level = P->al1.extensions.audio_level = 30;
		memcpy(P->pli_buf, pli_bytes, sizeof(pli_bytes));
		P->pli0 = (h_rtcp0){.video = 1, .buffer = P->pli_buf, .length = sizeof(pli_bytes)};
		P->pli1 = (h_rtcp1){.mindex = 1, .video = 1, .buffer = P->pli_buf, .length = sizeof(pli_bytes)};
		static const uint8_t rr[32] = {0x81, 201, 0, 7, 0, 0, 0x0b, 0xb9, 0, 0, 0x07, 0xd1};
		memcpy(P->rr_pli_buf, rr, sizeof(rr));
		memcpy(P->rr_pli_buf + sizeof(rr), pli_bytes, sizeof(pli_bytes));
		P->rr_pli0 = (h_rtcp0){.video = 1, .buffer = P->rr_pli_buf, .length = sizeof(rr) + sizeof(pli_bytes)};
		P->rr_pli1 = (h_rtcp1){.mindex = 1, .video = 1, .buffer = P->rr_pli_buf, .length = sizeof(rr) + sizeof(pli_bytes)};
	}
	data_pkt = (h_data){.label = "JanusDataChannel", .protocol = NULL, .binary = 0, .buffer = data_buf, .length = (uint16_t)strlen(data_buf)};
}

static void *rtp_packet(int w, int codec) { return world.abi ? (void *)&pk[w].rtp1[codec] : (void *)&pk[w].rtp0[codec]; }
static void *pli_packet(int w) { return world.abi ? (void *)&pk[w].pli1 : (void *)&pk[w].pli0; }
static void *rr_pli_packet(int w) { return world.abi ? (void *)&pk[w].rr_pli1 : (void *)&pk[w].rr_pli0; }
static void *audio_level_packet(int w) { return world.abi ? (void *)&pk[w].al1 : (void *)&pk[w].al0; }
/* ------------------------------------------------------------------ */
/* Workers: two threads pinned to CPU 0 and 1, driven by barriers.     */

const char *const var_name[NVAR] = {"floor", "floor-exe", "c-nosync", "rwlock", "atomic", "go-alt", "plugin",
	"pli-plugin", "pli-bare", "pli-bare-exe", "data-plugin", "data-floor", "data-floor-exe", "pli-plugin-nothrottle", "pli-plugin-rr", "ms-plugin", "al-plugin"};

static task tasks[2];
static int quit_workers;
static pthread_barrier_t start_b, end_b;
static pthread_t workers[2];


/* One loop per variant. Each returns the number of callback invocations
 * (copies) it caused, counted by the callbacks themselves. The floors run
 * in libplugin_side.so, where a plugin's code runs; the *_exe twins are the same
 * loops compiled into this executable, next to the callbacks. */
__attribute__((noinline)) static uint64_t loop_floor(room *r, void *pkt, long n) {
	uint64_t before = tl_rtp;
	world.floor_rtp((void *const *)r->subs, r->k, pkt, n, (ps_relay_fn)gw_relay_rtp());
	return tl_rtp - before;
}

__attribute__((noinline)) static uint64_t loop_floor_exe(room *r, void *pkt, long n) {
	uint64_t before = tl_rtp;
	relay_fn relay = gw_relay_rtp();
	h_session **subs = r->subs;
	int k = r->k;
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			relay(subs[j], pkt);
	return tl_rtp - before;
}

/* Janus's side of every incoming RTP packet, as ice.c does it: a fresh
 * janus_plugin_rtp (here: its m-line index set again) and the RTP header
 * put back after the call, since "plugins may have messed with it". Two
 * stores a packet, the same for every variant driven through here. */
__attribute__((noinline)) static uint64_t loop_incoming(incoming_fn volatile *fp, h_session *h, void *pkt, long n) {
	uint64_t before = tl_rtp;
	incoming_fn f = *fp;
	uint8_t *pt = world.abi ? (uint8_t *)((h_rtp1 *)pkt)->buffer + 1 : (uint8_t *)((h_rtp0 *)pkt)->buffer + 1;
	int dummy = 0, *mindex = world.abi ? &((h_rtp1 *)pkt)->mindex : &dummy;
	uint8_t pt0 = *pt;
	int mindex0 = *mindex;
	for (long i = 0; i < n; i++) {
		f(h, pkt);
		*pt = pt0;
		*mindex = mindex0;
	}
	return tl_rtp - before;
}

__attribute__((noinline)) static uint64_t loop_pli_plugin(room *r, void *pkt, long n) {
	uint64_t before = tl_pli + tl_rtcp;
	incoming_fn volatile *fp = (incoming_fn volatile *)&world.plugin->incoming_rtcp;
	incoming_fn f = *fp;
	h_session **subs = r->subs;
	int k = r->k;
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			f(subs[j], pkt);
	return tl_pli + tl_rtcp - before;
}

__attribute__((noinline)) static uint64_t loop_pli_bare(room *r, long n) {
	uint64_t before = tl_pli;
	world.floor_pli(r->pub, r->k, n, (ps_pli_fn)gw_send_pli());
	return tl_pli - before;
}

__attribute__((noinline)) static uint64_t loop_pli_bare_exe(room *r, long n) {
	uint64_t before = tl_pli;
	pli_fn send = gw_send_pli();
	h_session *pub = r->pub;
	int k = r->k;
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			send(pub);
	return tl_pli - before;
}

__attribute__((noinline)) static uint64_t loop_data_plugin(long n) {
	uint64_t before = tl_data;
	void (*volatile *fp)(h_session *, h_data *) = (void (*volatile *)(h_session *, h_data *)) & world.plugin->incoming_data;
	void (*f)(h_session *, h_data *) = *fp;
	h_session *h = world.data_pubs[0];
	for (long i = 0; i < n; i++)
		f(h, &data_pkt);
	return tl_data - before;
}

__attribute__((noinline)) static uint64_t loop_data_floor(long n) {
	uint64_t before = tl_data;
	world.floor_data((void *const *)(world.data_pubs + 1), DATA_N - 1, &data_pkt, n, (ps_relay_fn)gw_relay_data());
	return tl_data - before;
}

__attribute__((noinline)) static uint64_t loop_data_floor_exe(long n) {
	uint64_t before = tl_data;
	data_fn relay = gw_relay_data();
	h_session **others = world.data_pubs + 1;
	for (long i = 0; i < n; i++)
		for (int j = 0; j < DATA_N - 1; j++)
			relay(others[j], &data_pkt);
	return tl_data - before;
}

static void run_task(task *t) {
	void *pkt = t->variant == V_PLI_PLUGIN || t->variant == V_PLI_PLUGIN_UNTHROTTLED ? pli_packet(t->worker)
		: t->variant == V_PLI_PLUGIN_RR ? rr_pli_packet(t->worker)
		: t->variant == V_AL_PLUGIN ? audio_level_packet(t->worker) : rtp_packet(t->worker, t->codec);
	room *r = t->room;
	t->t0 = now_s();
	switch (t->variant) {
	case V_FLOOR: t->out = loop_floor(r, pkt, t->n); break;
	case V_FLOOR_EXE: t->out = loop_floor_exe(r, pkt, t->n); break;
	case V_NOSYNC: t->out = loop_incoming(&world.nosync_fn, r->alt_pub, pkt, t->n); break;
	case V_RWLOCK: t->out = loop_incoming(&world.rwlock_fn, r->alt_pub, pkt, t->n); break;
	case V_ATOMIC: t->out = loop_incoming(&world.atomic_fn, r->alt_pub, pkt, t->n); break;
	case V_GOALT: t->out = loop_incoming(&world.goalt_fn, r->goalt_pub, pkt, t->n); break;
	case V_PLUGIN: t->out = loop_incoming((incoming_fn volatile *)&world.plugin->incoming_rtp, r->pub, pkt, t->n); break;
	case V_MS_PLUGIN: t->out = loop_incoming((incoming_fn volatile *)&world.plugin->incoming_rtp, r->ms_pub, pkt, t->n); break;
	case V_AL_PLUGIN: t->out = loop_incoming((incoming_fn volatile *)&world.plugin->incoming_rtp, r->al_pub, pkt, t->n); break;
	case V_PLI_PLUGIN:
	case V_PLI_PLUGIN_UNTHROTTLED:
	case V_PLI_PLUGIN_RR: t->out = loop_pli_plugin(r, pkt, t->n); break;
	case V_PLI_BARE: t->out = loop_pli_bare(r, t->n); break;
	case V_PLI_BARE_EXE: t->out = loop_pli_bare_exe(r, t->n); break;
	case V_DATA_PLUGIN: t->out = loop_data_plugin(t->n); break;
	case V_DATA_FLOOR: t->out = loop_data_floor(t->n); break;
	case V_DATA_FLOOR_EXE: t->out = loop_data_floor_exe(t->n); break;
	default: t->out = 0;
	}
	t->t1 = now_s();
}

static void *worker_main(void *arg) {
	int id = (int)(intptr_t)arg;
	pin_self(id);
	for (;;) {
		pthread_barrier_wait(&start_b);
		if (quit_workers)
			break;
		if (tasks[id].variant >= 0) {
			tasks[id].worker = id;
			run_task(&tasks[id]);
		}
		pthread_barrier_wait(&end_b);
	}
	return NULL;
}

void start_workers(void) {
	pthread_barrier_init(&start_b, NULL, 3);
	pthread_barrier_init(&end_b, NULL, 3);
	for (int i = 0; i < 2; i++)
		pthread_create(&workers[i], NULL, worker_main, (void *)(intptr_t)i);
}

void stop_workers(void) {
	quit_workers = 1;
	pthread_barrier_wait(&start_b);
	for (int i = 0; i < 2; i++)
		pthread_join(workers[i], NULL);
}

/* Runs tasks on 1 or 2 workers, returns wall seconds (earliest start to
 * latest end). */
double run_once(int nthreads, task *t0, task *t1) {
	tasks[0] = *t0;
	memset(&tasks[1], 0, sizeof(tasks[1]));
	tasks[1].variant = -1;
	if (nthreads == 2)
		tasks[1] = *t1;
	pthread_barrier_wait(&start_b);
	pthread_barrier_wait(&end_b);
	*t0 = tasks[0];
	double start = tasks[0].t0, end = tasks[0].t1;
	if (nthreads == 2) {
		*t1 = tasks[1];
		if (tasks[1].t0 < start)
			start = tasks[1].t0;
		if (tasks[1].t1 > end)
			end = tasks[1].t1;
	}
	return end - start;
}
/* ------------------------------------------------------------------ */
/* Go allocations: callgrind over alloc_probe_loop().                  */


/* Everything the hot path does, and nothing else: the only function
 * callgrind collects (--toggle-collect). */
__attribute__((noinline)) void alloc_probe_loop(room *r, long n);
static int probe_rtp_only; /* RELAY_BENCH_PROBE=opus: instruction counts of one path */

__attribute__((noinline)) void alloc_probe_loop(room *r, long n) {
	void *opus = rtp_packet(0, OPUS), *h264 = rtp_packet(0, H264), *pli = pli_packet(0);
	if (probe_rtp_only) {
		for (long i = 0; i < n; i++)
			world.plugin->incoming_rtp(r->pub, opus);
		return;
	}
	for (long i = 0; i < n; i++) {
		world.plugin->incoming_rtp(r->pub, opus);
		world.plugin->incoming_rtp(r->pub, h264);
		world.plugin->incoming_rtcp(r->subs[i % r->k], pli);
		world.plugin->incoming_data(world.data_pubs[0], &data_pkt);
	}
}

static void *alloc_probe_thread(void *arg) {
	room *r = arg;
	uint64_t before = tl_rtp;
	const char *only = getenv("RELAY_BENCH_PROBE");
	probe_rtp_only = only && !strcmp(only, "opus");
	alloc_probe_loop(r, PROBE_PACKETS);
	if (tl_rtp - before != (uint64_t)PROBE_PACKETS * (probe_rtp_only ? 1 : 2) * r->k)
		die("probe relayed %llu packets, want %llu", (unsigned long long)(tl_rtp - before), (unsigned long long)PROBE_PACKETS * 2 * r->k);
	return NULL;
}

/* A fresh thread, as Janus's loop threads are: it has never entered Go,
 * so callgrind's view of its call stack holds the probe and nothing else
 * (Go's stack switches confuse callgrind's shadow stack on the thread that
 * ran the setup). */
void run_alloc_probe(room *r) {
	pthread_t t;
	pthread_create(&t, NULL, alloc_probe_thread, r);
	pthread_join(t, NULL);
}

/* ------------------------------------------------------------------ */
/* For the untimed parts.                                              */

void *gw_callbacks(void) { return world.abi ? (void *)&callbacks1 : (void *)&callbacks0; }
ps_relay_fn gw_relay_rtp_fn(void) { return (ps_relay_fn)gw_relay_rtp(); }
uint64_t relayed_rtp(void) { return tl_rtp; }
uint64_t relayed_data(void) { return tl_data; }
void feed_rtp(h_session *pub) { world.plugin->incoming_rtp(pub, rtp_packet(0, OPUS)); }
void feed_rtp_kind(h_session *pub, int codec) { world.plugin->incoming_rtp(pub, rtp_packet(0, codec)); }
void feed_rtp_audio_level(h_session *pub) { world.plugin->incoming_rtp(pub, audio_level_packet(0)); }
void feed_data(h_session *pub) { world.plugin->incoming_data(pub, &data_pkt); }
