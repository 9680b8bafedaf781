/*
 * relay-bench: a stand-in Janus that loads libjanus_plugin_sfu.so through
 * the plugin ABI and times the per-packet path (incoming_rtp, incoming_rtcp,
 * incoming_data) against a floor and against the design alternatives.
 *
 *   relay-bench --lib path/to/libjanus_plugin_sfu.so [--abi 0|1]
 *               [--goalt path/to/libgoalt.so] [--min-time S] [--reps N]
 *               [--n N] [--quick] [--no-alloc-check]
 *
 * --abi 0 plays Janus 0.x (janus_version 144, plugin API 19 layouts),
 * --abi 1 plays Janus 1.x (janus_version 1102). The gateway callbacks are
 * counting no-ops: relay_rtp/relay_rtcp/relay_data/send_pli bump a
 * per-thread counter (checked after every loop, so nothing can be optimised
 * away); push_event copies nothing, it counts responses and signals a
 * condition variable so setup can wait for the join answers.
 *
 * Variants, all driven by the same loops and callbacks:
 *   floor    a plain loop calling relay_rtp once per subscriber handle from a
 *            plain array: what any plugin must at least do (no per-packet
 *            call, no lookup, no synchronisation).
 *   c-nosync incoming_rtp written in C with no read-side protection at all
 *            (unsafe: it only shows what the per-packet call plus the session
 *            lookup cost).
 *   rwlock   the Rust plugin's shape: one process-wide pthread_rwlock read
 *            lock per packet.
 *   atomic   one atomic increment and decrement of a per-session reference
 *            count per packet (Arc clone/drop).
 *   go-alt   the per-packet path in Go (bench/goalt, its own c-shared
 *            library): one C->Go call per packet and one Go->C call per copy.
 *            Measured in a child process, because two Go runtimes must not
 *            share a process.
 *   plugin   the real plugin: membarrier-RCU read section, session lookup,
 *            immutable recipient array (cjanus/relay.c, cjanus/rcu.c).
 *
 * Go heap allocations are counted with callgrind: the bench re-executes
 * itself under `valgrind --tool=callgrind --collect-atstart=no
 * --toggle-collect=alloc_probe_loop` in --alloc-probe mode, which sets up a
 * room and calls incoming_rtp/rtcp/data in alloc_probe_loop() only, then
 * reads the callgrind profile: every function executed inside that loop, the
 * number of calls to runtime.mallocgc and to any Go function.
 *
 * The last line is
 *   relay fanout=10 plugin_ns=<n> floor_ns=<n> ratio=<r> allocs=<n>
 * (ns per relayed copy at K=10, Opus, single thread; printed for --abi 1;
 * --abi 0 prints the same figures on a line starting "relay-abi0").
 */
#define _GNU_SOURCE
/* Every timed loop aligned as the plugin's and plugin_side.c's are: a loop
 * of a few instructions that straddles a 64-byte line costs ~0.5 ns an
 * iteration on the Intel VMs measured, whoever runs it. */
#pragma GCC optimize("align-loops=32")
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fakejanus.h" /* Janus's ABI declared by hand, shared with test/abi/host.c */
#include "plugin_side.h"

extern char **environ;

/* ------------------------------------------------------------------ */
/* What Janus exports to its plugins.                                  */

int janus_version = 1102;
int janus_log_level = 3; /* warnings and errors only */
int janus_log_timestamps = 0;

void janus_vprintf(const char *format, ...) __attribute__((format(printf, 1, 2)));
void janus_vprintf(const char *format, ...) {
	va_list ap;
	va_start(ap, format);
	fputs("# janus: ", stderr);
	vfprintf(stderr, format, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Options and small helpers.                                          */

static int opt_abi = 1;
static const char *opt_lib;
static const char *opt_goalt;
static const char *opt_plugin_side;
static double opt_min_time = 0.2;
static int opt_reps = 5;
/* The gate: the cells the targets are judged on (K=10 Opus one thread
 * against the floor; the PLI storm against a bare send_pli), measured
 * again at the end as many short runs interleaved pairwise, best of each.
 * This VM's noise comes in bursts of seconds that slow the plugin's
 * data-touching path more than the floor's empty callbacks; hundreds of
 * runs a few ms long find the quiet moments for both alike. */
static int opt_gate_reps = 300;
static double opt_gate_min_time = 0.003;
static int measuring_gate;
static long opt_n = 2000000;
static int opt_alloc_check = 1;
static int opt_throttle_ms = 500;
static const char *opt_variants; /* comma-separated subset of floor,c-nosync,rwlock,atomic,go-alt,plugin,pli,data */

static int want(const char *name) {
	if (!opt_variants)
		return 1;
	size_t n = strlen(name);
	for (const char *p = opt_variants; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fputs("relay-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int ncpus(void) {
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
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

/* push_event copies nothing: it counts answers (events with a transaction),
 * notes failures, and wakes the setup thread. */
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static int ev_answers, ev_failures;

static int cb_push_event(h_session *h, struct h_plugin *p, const char *transaction, json_t *message, json_t *jsep) {
	(void)h;
	(void)p;
	(void)jsep;
	if (!transaction)
		return 0; /* join/leave notifications */
	int ok = message && json_is_true(json_object_get(message, "success"));
	pthread_mutex_lock(&ev_mu);
	ev_answers++;
	if (!ok && ev_failures++ < 3) {
		char *s = message ? json_dumps(message, JSON_COMPACT) : NULL;
		fprintf(stderr, "relay-bench: request %s failed: %s\n", transaction, s ? s : "(null)");
		free(s);
	}
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_mu);
	return 0;
}

static void wait_answers(int want) {
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 120;
	pthread_mutex_lock(&ev_mu);
	while (ev_answers < want) {
		if (pthread_cond_timedwait(&ev_cond, &ev_mu, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&ev_mu);
			die("timed out waiting for answers (%d of %d)", ev_answers, want);
		}
	}
	int failed = ev_failures;
	pthread_mutex_unlock(&ev_mu);
	if (failed)
		die("%d requests failed during setup", failed);
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
	relay_fn volatile *p = opt_abi ? (relay_fn volatile *)&callbacks1.relay_rtp : (relay_fn volatile *)&callbacks0.relay_rtp;
	return *p;
}
static data_fn gw_relay_data(void) {
	data_fn volatile *p = opt_abi ? (data_fn volatile *)&callbacks1.relay_data : (data_fn volatile *)&callbacks0.relay_data;
	return *p;
}
static pli_fn gw_send_pli(void) {
	pli_fn volatile *p = opt_abi ? (pli_fn volatile *)&callbacks1.send_pli : (pli_fn volatile *)&callbacks0.send_pli;
	return *p;
}

/* The floor and the alternatives, from build/libplugin_side.so. */
static void (*ps_floor_rtp)(void *const *subs, int k, void *packet, long n, ps_relay_fn relay);
static void (*ps_floor_pli)(void *pub, int k, long n, ps_pli_fn send);
static void (*ps_floor_data)(void *const *others, int k, void *packet, long n, ps_relay_fn relay);
static void (*ps_alt_set_relay)(ps_relay_fn relay);
typedef void (*incoming_fn)(h_session *, void *);
static incoming_fn nosync_fn, rwlock_fn, atomic_fn;

/* ------------------------------------------------------------------ */
/* Packets.                                                            */

enum { OPUS = 0, H264 = 1, NCODEC = 2 };
static const char *codec_name[NCODEC] = {"opus", "h264"};
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
} __attribute__((aligned(64))) packets;
static packets pk[NWORKERS];

static const uint8_t pli_bytes[12] = {0x80 | 1, 206, 0, 2, 0, 0, 0x0b, 0xb9, 0, 0, 0x07, 0xd1};

static char data_buf[64] = "{\"dataType\":\"u\",\"data\":{\"networkId\":\"abc\",\"x\":1.0}}";
static h_data data_pkt;

static void make_packets(void) {
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

static void *rtp_packet(int w, int codec) { return opt_abi ? (void *)&pk[w].rtp1[codec] : (void *)&pk[w].rtp0[codec]; }
static void *pli_packet(int w) { return opt_abi ? (void *)&pk[w].pli1 : (void *)&pk[w].pli0; }
static void *rr_pli_packet(int w) { return opt_abi ? (void *)&pk[w].rr_pli1 : (void *)&pk[w].rr_pli0; }

/* ------------------------------------------------------------------ */
/* Sessions and rooms.                                                 */

static void session_free(const h_refcount *r) { (void)r; }

static h_session *new_handle(void) {
	h_session *h = aligned_alloc(64, 64);
	memset(h, 0, 64);
	h->gateway_handle = h;
	h->ref.count = 1;
	h->ref.free = session_free;
	return h;
}

#define MAXK 32
typedef struct room {
	char name[16];
	int k;
	h_session *pub;            /* the plugin's publisher handle */
	h_session *subs[MAXK];     /* subscriber handles (plain array for the floor) */
	h_session *alt_pub;        /* publisher handle for the C alternatives */
	h_session *goalt_pub;      /* publisher handle for go-alt */
} room;

#define MAXROOMS 8
static room rooms[MAXROOMS];
static int nrooms;
static room *room_k[3][2];   /* [K index][a/b] */
static const int ks[3] = {1, 10, 30};
#define DATA_N 31
static h_session *data_pubs[DATA_N];

static h_plugin *plugin;

static void new_room(room *r, const char *name, int k) {
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->k = k;
	r->pub = new_handle();
	for (int i = 0; i < k; i++)
		r->subs[i] = new_handle();
	r->alt_pub = new_handle();
	alt_session *s = aligned_alloc(64, sizeof(alt_session));
	memset(s, 0, sizeof(*s));
	alt_routes *rt = malloc(sizeof(*rt) + (size_t)k * sizeof(h_session *));
	rt->n = (uint32_t)k;
	memcpy(rt->items, r->subs, (size_t)k * sizeof(h_session *));
	atomic_store(&s->routes, rt);
	r->alt_pub->plugin_handle = s;
	r->goalt_pub = new_handle();
}

static void build_rooms(void) {
	nrooms = 0;
	for (int ki = 0; ki < 3; ki++)
		for (int x = 0; x < 2; x++) {
			char name[16];
			snprintf(name, sizeof(name), "r%d%c", ks[ki], 'a' + x);
			room_k[ki][x] = &rooms[nrooms];
			new_room(&rooms[nrooms++], name, ks[ki]);
		}
	for (int i = 0; i < DATA_N; i++)
		data_pubs[i] = new_handle();
}

/* ------------------------------------------------------------------ */
/* Plugin setup through the ABI.                                       */

static int txn_seq;

/* libplugin_side.so: --plugin-side, else beside this executable. Loaded
 * before any fork, so the children (go-alt, unthrottled PLI) have it too. */
static void load_plugin_side(void) {
	char path[4096];
	if (!opt_plugin_side) {
		ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 32);
		if (len <= 0)
			die("no --plugin-side and no /proc/self/exe");
		path[len] = 0;
		char *slash = strrchr(path, '/');
		snprintf(slash ? slash + 1 : path, 32, "libplugin_side.so");
		opt_plugin_side = path;
	}
	void *dl = dlopen(opt_plugin_side, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		die("dlopen %s: %s (build it with make -C bench)", opt_plugin_side, dlerror());
#define PS_SYM(var, name) \
	do { \
		*(void **)&(var) = dlsym(dl, name); \
		if (!(var)) \
			die("%s lacks %s", opt_plugin_side, name); \
	} while (0)
	PS_SYM(ps_floor_rtp, "floor_rtp");
	PS_SYM(ps_floor_pli, "floor_pli");
	PS_SYM(ps_floor_data, "floor_data");
	PS_SYM(ps_alt_set_relay, "alt_set_relay");
	PS_SYM(nosync_fn, "alt_nosync_incoming_rtp");
	PS_SYM(rwlock_fn, "alt_rwlock_incoming_rtp");
	PS_SYM(atomic_fn, "alt_atomic_incoming_rtp");
#undef PS_SYM
	opt_plugin_side = NULL; /* path was on the stack */
}

/* Janus hands the plugin a g_strdup'ed transaction and one reference each
 * to the message and the jsep; the plugin releases them. */
static void send_message(h_session *h, const char *body_json, json_t *jsep) {
	json_error_t err;
	json_t *body = json_loads(body_json, 0, &err);
	if (!body)
		die("bad JSON %s: %s", body_json, err.text);
	char txn[32];
	snprintf(txn, sizeof(txn), "t%d", ++txn_seq);
	h_result *r = plugin->handle_message(h, g_strdup(txn), body, jsep);
	if (!r || r->type != 1)
		die("handle_message(%s) did not return OK_WAIT (type %d)", body_json, r ? r->type : -99);
	if (r->content)
		json_decref(r->content);
	g_free(r);
}

static void create_session(h_session *h) {
	int err = 1234;
	plugin->create_session(h, &err);
	if (err != 0 || !h->plugin_handle)
		die("create_session failed (%d)", err);
}

static char config_dir[64];

static void load_plugin(int throttle_ms) {
	janus_version = opt_abi ? 1102 : 144;
	void *dl = dlopen(opt_lib, RTLD_NOW | RTLD_GLOBAL);
	if (!dl)
		die("dlopen %s: %s", opt_lib, dlerror());
	void *(*create)(void) = (void *(*)(void))dlsym(dl, "create");
	if (!create)
		die("%s exports no create()", opt_lib);
	plugin = create();
	if (!plugin)
		die("create() returned NULL for janus_version %d", janus_version);
	snprintf(config_dir, sizeof(config_dir), "/tmp/relay-bench-XXXXXX");
	if (!mkdtemp(config_dir))
		die("mkdtemp: %s", strerror(errno));
	char path[128];
	snprintf(path, sizeof(path), "%s/janus.plugin.sfu.cfg", config_dir);
	FILE *f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "[general]\nmax_room_size = 0\nmax_ccu = 0\nmessage_threads = 2\nkeyframe_throttle_ms = %d\n", throttle_ms);
	fclose(f);
	int rc = plugin->init(opt_abi ? (void *)&callbacks1 : (void *)&callbacks0, config_dir);
	unlink(path);
	rmdir(config_dir);
	if (rc != 0)
		die("init failed (%d)", rc);
}

/* Publishers offer and join, then subscribers join; setup_media for all. */
static void setup_plugin_rooms(room **rs, int n, int data_n) {
	int answers = ev_answers;
	char body[256];
	for (int i = 0; i < n; i++) {
		room *r = rs[i];
		create_session(r->pub);
		for (int j = 0; j < r->k; j++)
			create_session(r->subs[j]);
		json_t *offer = json_pack("{s:s,s:s}", "type", "offer", "sdp", chrome_offer);
		send_message(r->pub, "{}", offer);
		snprintf(body, sizeof(body), "{\"kind\":\"join\",\"room_id\":\"%s\",\"user_id\":\"p_%s\",\"subscribe\":{\"notifications\":true,\"data\":true}}", r->name, r->name);
		send_message(r->pub, body, NULL);
		answers += 2;
	}
	for (int i = 0; i < data_n; i++) {
		create_session(data_pubs[i]);
		snprintf(body, sizeof(body), "{\"kind\":\"join\",\"room_id\":\"rdata\",\"user_id\":\"d%d\",\"subscribe\":{\"notifications\":true,\"data\":true}}", i);
		send_message(data_pubs[i], body, NULL);
		answers++;
	}
	wait_answers(answers);
	for (int i = 0; i < n; i++) {
		room *r = rs[i];
		for (int j = 0; j < r->k; j++) {
			snprintf(body, sizeof(body), "{\"kind\":\"join\",\"room_id\":\"%s\",\"user_id\":\"s_%s_%d\",\"subscribe\":{\"media\":\"p_%s\"}}", r->name, r->name, j, r->name);
			send_message(r->subs[j], body, NULL);
			answers++;
		}
	}
	wait_answers(answers);
	for (int i = 0; i < n; i++) {
		plugin->setup_media(rs[i]->pub);
		for (int j = 0; j < rs[i]->k; j++)
			plugin->setup_media(rs[i]->subs[j]);
	}
	for (int i = 0; i < data_n; i++)
		plugin->setup_media(data_pubs[i]);
	/* Routes are published before the answers are pushed; check anyway. */
	for (int i = 0; i < n; i++) {
		uint64_t before = tl_rtp;
		plugin->incoming_rtp(rs[i]->pub, rtp_packet(0, OPUS));
		if (tl_rtp - before != (uint64_t)rs[i]->k)
			die("room %s: one packet relayed %llu times, want %d", rs[i]->name, (unsigned long long)(tl_rtp - before), rs[i]->k);
	}
	if (data_n) {
		uint64_t before = tl_data;
		plugin->incoming_data(data_pubs[0], &data_pkt);
		if (tl_data - before != (uint64_t)data_n - 1)
			die("data room: one message relayed %llu times, want %d", (unsigned long long)(tl_data - before), data_n - 1);
	}
}

/* ------------------------------------------------------------------ */
/* The C alternatives to the plugin's read side.                       */

static relay_fn alt_relay; /* the gateway's relay_rtp, as the plugin keeps it in cj_gw */

/* go-alt entry points (child process only). */
static void (*goalt_incoming_rtp)(void *h, void *pkt);
static void (*goalt_set_relay)(void *fn);
static int (*goalt_new_session)(void);
static void (*goalt_set_routes)(int id, void **items, int n);

/* ------------------------------------------------------------------ */
/* Workers: two threads pinned to CPU 0 and 1, driven by barriers.     */

enum {
	V_FLOOR, V_FLOOR_EXE, V_NOSYNC, V_RWLOCK, V_ATOMIC, V_GOALT, V_PLUGIN, NVAR_RTP,
	V_PLI_PLUGIN = NVAR_RTP, V_PLI_BARE, V_PLI_BARE_EXE, V_DATA_PLUGIN, V_DATA_FLOOR, V_DATA_FLOOR_EXE,
	V_PLI_PLUGIN_UNTHROTTLED, V_PLI_PLUGIN_RR, NVAR
};
static const char *var_name[NVAR] = {"floor", "floor-exe", "c-nosync", "rwlock", "atomic", "go-alt", "plugin",
	"pli-plugin", "pli-bare", "pli-bare-exe", "data-plugin", "data-floor", "data-floor-exe", "pli-plugin-nothrottle", "pli-plugin-rr"};


typedef struct task {
	int variant;
	int worker;
	room *room;
	int codec;
	long n;
	double t0, t1;
	uint64_t out, want;
} task;

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
	ps_floor_rtp((void *const *)r->subs, r->k, pkt, n, (ps_relay_fn)gw_relay_rtp());
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
	uint8_t *pt = opt_abi ? (uint8_t *)((h_rtp1 *)pkt)->buffer + 1 : (uint8_t *)((h_rtp0 *)pkt)->buffer + 1;
	int dummy = 0, *mindex = opt_abi ? &((h_rtp1 *)pkt)->mindex : &dummy;
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
	incoming_fn volatile *fp = (incoming_fn volatile *)&plugin->incoming_rtcp;
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
	ps_floor_pli(r->pub, r->k, n, (ps_pli_fn)gw_send_pli());
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
	void (*volatile *fp)(h_session *, h_data *) = (void (*volatile *)(h_session *, h_data *)) & plugin->incoming_data;
	void (*f)(h_session *, h_data *) = *fp;
	h_session *h = data_pubs[0];
	for (long i = 0; i < n; i++)
		f(h, &data_pkt);
	return tl_data - before;
}

__attribute__((noinline)) static uint64_t loop_data_floor(long n) {
	uint64_t before = tl_data;
	ps_floor_data((void *const *)(data_pubs + 1), DATA_N - 1, &data_pkt, n, (ps_relay_fn)gw_relay_data());
	return tl_data - before;
}

__attribute__((noinline)) static uint64_t loop_data_floor_exe(long n) {
	uint64_t before = tl_data;
	data_fn relay = gw_relay_data();
	h_session **others = data_pubs + 1;
	for (long i = 0; i < n; i++)
		for (int j = 0; j < DATA_N - 1; j++)
			relay(others[j], &data_pkt);
	return tl_data - before;
}

static incoming_fn goalt_fn;

static void run_task(task *t) {
	void *pkt = t->variant == V_PLI_PLUGIN || t->variant == V_PLI_PLUGIN_UNTHROTTLED ? pli_packet(t->worker)
		: t->variant == V_PLI_PLUGIN_RR ? rr_pli_packet(t->worker) : rtp_packet(t->worker, t->codec);
	room *r = t->room;
	t->t0 = now_s();
	switch (t->variant) {
	case V_FLOOR: t->out = loop_floor(r, pkt, t->n); break;
	case V_FLOOR_EXE: t->out = loop_floor_exe(r, pkt, t->n); break;
	case V_NOSYNC: t->out = loop_incoming(&nosync_fn, r->alt_pub, pkt, t->n); break;
	case V_RWLOCK: t->out = loop_incoming(&rwlock_fn, r->alt_pub, pkt, t->n); break;
	case V_ATOMIC: t->out = loop_incoming(&atomic_fn, r->alt_pub, pkt, t->n); break;
	case V_GOALT: t->out = loop_incoming(&goalt_fn, r->goalt_pub, pkt, t->n); break;
	case V_PLUGIN: t->out = loop_incoming((incoming_fn volatile *)&plugin->incoming_rtp, r->pub, pkt, t->n); break;
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

static void start_workers(void) {
	pthread_barrier_init(&start_b, NULL, 3);
	pthread_barrier_init(&end_b, NULL, 3);
	for (int i = 0; i < 2; i++)
		pthread_create(&workers[i], NULL, worker_main, (void *)(intptr_t)i);
}

static void stop_workers(void) {
	quit_workers = 1;
	pthread_barrier_wait(&start_b);
	for (int i = 0; i < 2; i++)
		pthread_join(workers[i], NULL);
}

/* Runs tasks on 1 or 2 workers, returns wall seconds (earliest start to
 * latest end). */
static double run_once(int nthreads, task *t0, task *t1) {
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
/* Measurement and results.                                            */

typedef struct result {
	int variant, k, codec, threads;
	long n;          /* iterations per thread */
	long units;      /* incoming packets (or PLIs) per iteration per thread */
	double ns_unit;  /* ns per incoming packet / PLI / message (aggregate over threads) */
	double ns_copy;  /* ns per relayed copy */
	int ok;
	int gate;        /* measured in the gate phase */
	int reps;
	double min_time;
} result;

#define MAXRES 256
static result results[MAXRES];
static int nres;

/* The plugin's storm variants, which send PLIs into incoming_rtcp. */
static int is_pli_plugin(int variant) {
	return variant == V_PLI_PLUGIN || variant == V_PLI_PLUGIN_UNTHROTTLED || variant == V_PLI_PLUGIN_RR;
}

static int is_pli(int variant) {
	return is_pli_plugin(variant) || variant == V_PLI_BARE || variant == V_PLI_BARE_EXE;
}

static int is_data(int variant) {
	return variant == V_DATA_PLUGIN || variant == V_DATA_FLOOR || variant == V_DATA_FLOOR_EXE;
}

/* Iterations for the first (warm-up/calibration) run. */
static long base_n(int variant, int k) {
	long n = opt_n / (k > 0 ? k : 1);
	if (is_pli(variant))
		n = opt_n / 30;
	if (is_data(variant))
		n = opt_n / 30;
	return n < 1000 ? 1000 : n;
}

static uint64_t expected_out(int variant, int k, long n) {
	switch (variant) {
	case V_PLI_PLUGIN:
	case V_PLI_PLUGIN_UNTHROTTLED:
	case V_PLI_PLUGIN_RR:
	case V_PLI_BARE:
	case V_PLI_BARE_EXE: return 0; /* checked separately */
	case V_DATA_PLUGIN:
	case V_DATA_FLOOR:
	case V_DATA_FLOOR_EXE: return (uint64_t)n * (DATA_N - 1);
	default: return (uint64_t)n * (uint64_t)k;
	}
}


/* One measurement in progress. */
typedef struct probe {
	int variant, ki, k, codec, nthreads;
	long n;
	double best;
	int ok;
	task a, b;
} probe;

static void probe_init(probe *p, int variant, int ki, int codec, int nthreads) {
	memset(p, 0, sizeof(*p));
	p->variant = variant;
	p->ki = ki;
	p->k = is_data(variant) ? DATA_N - 1 : ks[ki];
	p->codec = codec;
	p->nthreads = nthreads;
	p->best = 1e30;
	p->ok = 1;
	p->a = (task){.variant = variant, .room = room_k[ki][0], .codec = codec};
	p->b = (task){.variant = variant, .room = room_k[ki][1], .codec = codec};
}

/* Warm up and calibrate: grow n until one run lasts min_time. */
static void probe_calibrate(probe *p) {
	long n = base_n(p->variant, p->k);
	for (;;) {
		p->a.n = p->b.n = n;
		double t = run_once(p->nthreads, &p->a, &p->b);
		if (t >= opt_min_time)
			break;
		double scale = t > 0 ? opt_min_time * 1.15 / t : 10;
		if (scale > 10)
			scale = 10;
		if (scale < 1.2)
			scale = 1.2;
		n = (long)((double)n * scale);
	}
	p->n = n;
}

static void probe_rep(probe *p) {
	long n = p->n;
	int k = p->k, variant = p->variant;
	p->a.n = p->b.n = n;
	double t = run_once(p->nthreads, &p->a, &p->b);
	if (t < p->best)
		p->best = t;
	if (getenv("RELAY_BENCH_TRACE"))
		fprintf(stderr, "#   rep %-22s K=%-2d %dT %8.3f ns/unit\n", var_name[variant], k, p->nthreads,
			t * 1e9 / ((double)n * (is_pli(variant) ? k : 1) * p->nthreads));
	uint64_t want = expected_out(variant, k, n);
	if (want && (p->a.out != want || (p->nthreads == 2 && p->b.out != want))) {
		fprintf(stderr, "relay-bench: %s K=%d: %llu copies, want %llu\n", var_name[variant], k, (unsigned long long)p->a.out,
			(unsigned long long)want);
		p->ok = 0;
	}
	if (is_pli_plugin(variant) && p->a.out > (uint64_t)n * k) {
		fprintf(stderr, "relay-bench: PLI storm caused %llu send_pli/relay_rtcp for %ld PLIs\n", (unsigned long long)p->a.out, n * k);
		p->ok = 0;
	}
	if (variant == V_PLI_PLUGIN_UNTHROTTLED && p->a.out != (uint64_t)n * k) {
		fprintf(stderr, "relay-bench: unthrottled PLI storm: %llu send_pli for %ld PLIs\n", (unsigned long long)p->a.out, n * k);
		p->ok = 0;
	}
	if ((variant == V_PLI_BARE || variant == V_PLI_BARE_EXE) && p->a.out != (uint64_t)n * k)
		p->ok = 0;
}

static result *probe_record(probe *p) {
	int variant = p->variant, k = p->k;
	long n = p->n, units = is_pli(variant) ? k : 1;
	if (nres >= MAXRES)
		die("too many results");
	result *r = &results[nres++];
	r->variant = variant;
	r->k = k;
	r->codec = p->codec;
	r->threads = p->nthreads;
	r->n = n;
	r->units = units;
	r->ns_unit = p->best * 1e9 / ((double)n * (double)units * p->nthreads);
	r->ns_copy = is_pli(variant) ? r->ns_unit : p->best * 1e9 / ((double)n * (double)k * p->nthreads);
	r->ok = p->ok;
	r->gate = measuring_gate;
	r->reps = opt_reps;
	r->min_time = opt_min_time;
	fprintf(stderr, "# %-22s K=%-2d %-4s %dT  %8.2f ns/unit  %7.2f ns/copy  (n=%ld)%s\n", var_name[variant], k,
		codec_name[p->codec], p->nthreads, r->ns_unit, r->ns_copy, n, p->ok ? "" : "  CHECK FAILED");
	return r;
}

/* Measures several variants interleaved: each is calibrated, then the
 * repetitions go round-robin, so a burst of outside load hits all of them
 * alike instead of one variant's whole block; best run wins. */
static void measure_group(const int *variants, int nv, int ki, int codec, int nthreads) {
	probe ps[16];
	for (int i = 0; i < nv; i++) {
		probe_init(&ps[i], variants[i], ki, codec, nthreads);
		probe_calibrate(&ps[i]);
	}
	for (int rep = 0; rep < opt_reps; rep++)
		for (int i = 0; i < nv; i++)
			probe_rep(&ps[i]);
	for (int i = 0; i < nv; i++)
		probe_record(&ps[i]);
}

static result *find_last(int variant, int k, int codec, int threads) {
	for (int i = nres - 1; i >= 0; i--)
		if (!results[i].gate && results[i].variant == variant && results[i].k == k && results[i].codec == codec && results[i].threads == threads)
			return &results[i];
	return NULL;
}

static result *find(int variant, int k, int codec, int threads) {
	for (int i = 0; i < nres; i++)
		if (!results[i].gate && results[i].variant == variant && results[i].k == k && results[i].codec == codec && results[i].threads == threads)
			return &results[i];
	return NULL;
}

static result *find_gate(int variant, int k, int threads) {
	for (int i = 0; i < nres; i++)
		if (results[i].gate && results[i].variant == variant && results[i].k == k && results[i].threads == threads)
			return &results[i];
	return NULL;
}

/* The gate phase (see opt_gate_reps). */
static void measure_gate(void) {
	double min_time = opt_min_time;
	int reps = opt_reps;
	opt_min_time = opt_gate_min_time, opt_reps = opt_gate_reps, measuring_gate = 1;
	static const int rtp[] = {V_FLOOR, V_PLUGIN}, pli[] = {V_PLI_BARE, V_PLI_PLUGIN, V_PLI_PLUGIN_RR};
	if (want("floor") && want("plugin")) {
		measure_group(rtp, (int)(sizeof(rtp) / sizeof(rtp[0])), 1, OPUS, 1);
		measure_group(rtp, (int)(sizeof(rtp) / sizeof(rtp[0])), 1, OPUS, 2);
	}
	if (want("pli"))
		measure_group(pli, (int)(sizeof(pli) / sizeof(pli[0])), 2, OPUS, 1);
	opt_min_time = min_time, opt_reps = reps, measuring_gate = 0;
}

/* Every (K, codec, threads) cell for the given RTP variants. */
static void measure_rtp(const int *variants, int nv) {
	for (int ki = 0; ki < 3; ki++)
		for (int codec = 0; codec < NCODEC; codec++)
			for (int t = 1; t <= 2; t++)
				measure_group(variants, nv, ki, codec, t);
}

/* ------------------------------------------------------------------ */
/* Child processes: go-alt and the unthrottled PLI run.                */

typedef int (*child_fn)(void);

/* Forks (before this process has threads or a Go runtime), runs fn in the
 * child, which appends its results; they come back over a pipe. */
static int run_child(child_fn fn, const char *what) {
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		nres = 0;
		int rc = fn();
		size_t len = (size_t)nres * sizeof(result);
		const char *p = (const char *)results;
		while (len > 0) {
			ssize_t w = write(fds[1], p, len);
			if (w <= 0)
				break;
			p += w;
			len -= (size_t)w;
		}
		close(fds[1]);
		fflush(stderr);
		_exit(rc);
	}
	close(fds[1]);
	result r;
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fds[0], (char *)&r + got, sizeof(r) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(r)) {
			/* A child measures its own floor to interleave with its
			 * variant; the tables compare against the floor measured in
			 * this process, interleaved with the plugin. */
			if (r.variant != V_FLOOR && nres < MAXRES)
				results[nres++] = r;
			got = 0;
		}
	}
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "relay-bench: %s child failed (status %d)\n", what, status);
		return -1;
	}
	return 0;
}

static int goalt_child(void) {
	void *dl = dlopen(opt_goalt, RTLD_NOW | RTLD_GLOBAL);
	if (!dl) {
		fprintf(stderr, "relay-bench: dlopen %s: %s\n", opt_goalt, dlerror());
		return 1;
	}
	goalt_incoming_rtp = (void (*)(void *, void *))dlsym(dl, "goalt_incoming_rtp");
	goalt_set_relay = (void (*)(void *))dlsym(dl, "goalt_set_relay");
	goalt_new_session = (int (*)(void))dlsym(dl, "goalt_new_session");
	goalt_set_routes = (void (*)(int, void **, int))dlsym(dl, "goalt_set_routes");
	if (!goalt_incoming_rtp || !goalt_set_relay || !goalt_new_session || !goalt_set_routes) {
		fprintf(stderr, "relay-bench: %s lacks the goalt_* exports\n", opt_goalt);
		return 1;
	}
	goalt_set_relay((void *)gw_relay_rtp());
	for (int i = 0; i < nrooms; i++) {
		int id = goalt_new_session();
		if (id < 0)
			return 1;
		rooms[i].goalt_pub->plugin_handle = (void *)(uintptr_t)(id + 1);
		goalt_set_routes(id, (void **)rooms[i].subs, rooms[i].k);
	}
	goalt_fn = (incoming_fn)goalt_incoming_rtp;
	start_workers();
	static const int v[] = {V_FLOOR, V_GOALT};
	measure_rtp(v, 2);
	stop_workers();
	return 0;
}

static int pli_nothrottle_child(void) {
	load_plugin(0);
	room *r = room_k[2][0];
	setup_plugin_rooms(&r, 1, 0);
	start_workers();
	static const int v[] = {V_PLI_BARE, V_PLI_PLUGIN_UNTHROTTLED};
	measure_group(v, (int)(sizeof(v) / sizeof(v[0])), 2, OPUS, 1);
	stop_workers();
	return 0;
}

/* ------------------------------------------------------------------ */
/* Go allocations: callgrind over alloc_probe_loop().                  */

#define PROBE_PACKETS 20000

/* Everything the hot path does, and nothing else: the only function
 * callgrind collects (--toggle-collect). */
__attribute__((noinline)) void alloc_probe_loop(room *r, long n);
static int probe_rtp_only; /* RELAY_BENCH_PROBE=opus: instruction counts of one path */

__attribute__((noinline)) void alloc_probe_loop(room *r, long n) {
	void *opus = rtp_packet(0, OPUS), *h264 = rtp_packet(0, H264), *pli = pli_packet(0);
	if (probe_rtp_only) {
		for (long i = 0; i < n; i++)
			plugin->incoming_rtp(r->pub, opus);
		return;
	}
	for (long i = 0; i < n; i++) {
		plugin->incoming_rtp(r->pub, opus);
		plugin->incoming_rtp(r->pub, h264);
		plugin->incoming_rtcp(r->subs[i % r->k], pli);
		plugin->incoming_data(data_pubs[0], &data_pkt);
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

static int alloc_probe_main(void) {
	load_plugin(opt_throttle_ms);
	room *r = room_k[1][0];
	setup_plugin_rooms(&r, 1, 4);
	/* Let the message threads settle so nothing else is in flight. */
	sleep_ms(200);
	/* A fresh thread, as Janus's loop threads are: it has never entered Go,
	 * so callgrind's view of its call stack holds the probe and nothing
	 * else (Go's stack switches confuse callgrind's shadow stack on the
	 * thread that ran the setup). */
	pthread_t t;
	pthread_create(&t, NULL, alloc_probe_thread, r);
	pthread_join(t, NULL);
	printf("probe done: %d iterations of incoming_rtp x2 (opus, h264), incoming_rtcp (PLI), incoming_data\n", PROBE_PACKETS);
	fflush(stdout);
	_exit(0); /* a Go runtime cannot be torn down */
}

/* What callgrind saw inside alloc_probe_loop. */
typedef struct probe_result {
	int ran;            /* callgrind ran and produced a profile */
	long mallocgc;      /* calls to runtime.mallocgc */
	long go_calls;      /* calls to any Go (or cgo glue) function */
	long go_fns;        /* Go functions with own cost inside the probe */
	long c_malloc;      /* calls to malloc/calloc/realloc */
	long packets;       /* incoming_* calls in the probe */
	char fns[2048];     /* every function executed */
} probe_result;

static int is_go_symbol(const char *fn) {
	/* cgo's glue: crosscall2, _cgo_*, x_cgo_*, and the plugin's exports. */
	if (!strncmp(fn, "crosscall", 9) || !strncmp(fn, "_cgo", 4) || !strncmp(fn, "x_cgo", 5) || !strncmp(fn, "cjGo", 4))
		return 1;
	/* Go symbols are package-qualified (runtime.mallocgc, main.x,
	 * github.com/...). C symbols with a dot are gcc clones (.part.0,
	 * .constprop.0, .isra.0, .cold) or versioned (@); unknown ones are 0x... */
	if (!strchr(fn, '.') || !strncmp(fn, "0x", 2) || strchr(fn, '@'))
		return 0;
	static const char *clones[] = {".part.", ".constprop.", ".isra.", ".cold", ".lto_priv."};
	for (size_t i = 0; i < sizeof(clones) / sizeof(clones[0]); i++)
		if (strstr(fn, clones[i]))
			return 0;
	return 1;
}

static void probe_allocs(const char *self, probe_result *pr) {
	memset(pr, 0, sizeof(*pr));
	pr->packets = (long)PROBE_PACKETS * 4;
	char out[] = "/tmp/relay-bench-callgrind-XXXXXX";
	int fd = mkstemp(out);
	if (fd < 0)
		return;
	close(fd);
	char outopt[128], abiopt[8], thr[16];
	snprintf(outopt, sizeof(outopt), "--callgrind-out-file=%s", out);
	snprintf(abiopt, sizeof(abiopt), "%d", opt_abi);
	snprintf(thr, sizeof(thr), "%d", opt_throttle_ms);
	/* Go under valgrind 3.19: asyncpreemptoff avoids the SIGURG preemption
	 * signals callgrind's signal handling trips on, cpu.rdtscp=off keeps
	 * runtime.cputicks off RDTSCP, which VEX cannot decode. Neither changes
	 * what the C hot path does or whether Go allocates. */
	char *envp[256];
	int ne = 0;
	for (char **e = environ; *e && ne < 250; e++)
		if (strncmp(*e, "GODEBUG=", 8))
			envp[ne++] = *e;
	envp[ne++] = "GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off";
	envp[ne] = NULL;
	char *argv[] = {"valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=alloc_probe_loop",
		"--compress-strings=no", "--compress-pos=no", "--separate-threads=no", outopt, "--quiet",
		(char *)self, "--alloc-probe", "--abi", abiopt, "--lib", (char *)opt_lib, "--throttle-ms", thr, NULL};
	fprintf(stderr, "# alloc check: valgrind --tool=callgrind --collect-atstart=no --toggle-collect=alloc_probe_loop %s --alloc-probe --abi %d\n", self, opt_abi);
	pid_t pid;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int err = posix_spawnp(&pid, "valgrind", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		fprintf(stderr, "# alloc check: cannot run valgrind (%s)\n", strerror(err));
		unlink(out);
		return;
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "# alloc check: valgrind run failed (status %d)\n", status);
		unlink(out);
		return;
	}
	FILE *f = fopen(out, "r");
	if (!f) {
		unlink(out);
		return;
	}
	/* Callgrind format: "fn=" opens a function; a "calls=" line is followed
	 * by one line of inclusive cost for that call; every other numeric line
	 * is the function's own cost. A function counts as executed in the probe
	 * only if it has own cost. */
	char line[4096], fn[4096] = "", cfn[4096] = "";
	int saw_probe = 0, skip_next = 0, fn_counted = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "fn=", 3)) {
			snprintf(fn, sizeof(fn), "%s", line + 3);
			/* callgrind marks recursion levels with 'N */
			char *q = strchr(fn, '\'');
			if (q)
				*q = 0;
			fn_counted = 0;
		} else if (!strncmp(line, "cfn=", 4)) {
			snprintf(cfn, sizeof(cfn), "%s", line + 4);
			char *q = strchr(cfn, '\'');
			if (q)
				*q = 0;
		} else if (!strncmp(line, "calls=", 6) && cfn[0]) {
			long c = atol(line + 6);
			if (strstr(cfn, "mallocgc"))
				pr->mallocgc += c;
			if (is_go_symbol(cfn))
				pr->go_calls += c;
			if (!strcmp(cfn, "malloc") || !strcmp(cfn, "calloc") || !strcmp(cfn, "realloc"))
				pr->c_malloc += c;
			cfn[0] = 0;
			skip_next = 1;
		} else if ((line[0] >= '0' && line[0] <= '9') || line[0] == '+' || line[0] == '-' || line[0] == '*') {
			if (skip_next) {
				skip_next = 0;
				continue;
			}
			/* own cost: "<position> <Ir>" */
			const char *sp = strchr(line, ' ');
			if (!sp || atol(sp + 1) == 0 || !fn[0] || fn_counted)
				continue;
			fn_counted = 1;
			if (!strcmp(fn, "alloc_probe_loop"))
				saw_probe = 1;
			if (is_go_symbol(fn))
				pr->go_fns++;
			if (!strstr(pr->fns, fn) && strlen(pr->fns) + strlen(fn) + 3 < sizeof(pr->fns)) {
				if (pr->fns[0])
					strcat(pr->fns, ", ");
				strcat(pr->fns, fn);
			}
		}
	}
	fclose(f);
	unlink(out);
	pr->ran = saw_probe;
	if (!saw_probe)
		fprintf(stderr, "# alloc check: alloc_probe_loop not found in the profile\n");
}

/* ------------------------------------------------------------------ */
/* Report.                                                             */

static double ns_copy(int variant, int k, int codec, int threads) {
	result *r = find(variant, k, codec, threads);
	return r ? r->ns_copy : NAN;
}
static double ns_pkt(int variant, int k, int codec, int threads) {
	result *r = find(variant, k, codec, threads);
	return r ? r->ns_unit : NAN;
}

static void print_cell(double v) {
	if (isnan(v))
		printf(" %9s", "-");
	else
		printf(" %9.2f", v);
}

/* One table of every variant per codec, K and thread count, plus the
 * plugin/floor ratio, in the unit that cell() gives. */
static void print_table(const char *title, double (*cell)(int, int, int, int)) {
	printf("%s", title);
	printf("%-5s %2s %2s", "codec", "K", "T");
	for (int v = 0; v < NVAR_RTP; v++)
		printf(" %9s", var_name[v]);
	printf(" %9s %9s\n", "plug/flr", "plug/fexe");
	for (int codec = 0; codec < NCODEC; codec++)
		for (int ki = 0; ki < 3; ki++)
			for (int t = 1; t <= 2; t++) {
				printf("%-5s %2d %2d", codec_name[codec], ks[ki], t);
				for (int v = 0; v < NVAR_RTP; v++)
					print_cell(cell(v, ks[ki], codec, t));
				print_cell(cell(V_PLUGIN, ks[ki], codec, t) / cell(V_FLOOR, ks[ki], codec, t));
				print_cell(cell(V_PLUGIN, ks[ki], codec, t) / cell(V_FLOOR_EXE, ks[ki], codec, t));
				printf("\n");
			}
}

/* Prints the report; returns whether every relay count matched. */
static int report(const probe_result *pr) {
	const char *abi = opt_abi ? "1.x (janus_version 1102)" : "0.x (janus_version 144)";
	printf("relay-bench: ABI %s, best of %d runs of >= %.2f s, %d CPUs\n", abi, opt_reps, opt_min_time, ncpus());
	/* Where the code is: the callbacks in this executable, the floor and
	 * the plugin in dlopened objects, as relay_rtp in Janus and a plugin. */
	uintptr_t cb = (uintptr_t)gw_relay_rtp(), fl = (uintptr_t)ps_floor_rtp, pl = (uintptr_t)plugin->incoming_rtp;
	printf("code: relay_rtp callback %#lx (executable), floor %#lx (libplugin_side.so, %.1f TiB away), incoming_rtp %#lx (plugin, %.1f TiB away)\n",
		(unsigned long)cb, (unsigned long)fl, (double)(fl > cb ? fl - cb : cb - fl) / (1024.0 * 1024 * 1024 * 1024), (unsigned long)pl,
		(double)(pl > cb ? pl - cb : cb - pl) / (1024.0 * 1024 * 1024 * 1024));
	print_table("\nns per incoming packet (2T = two publishers in two rooms on two pinned threads, aggregate: wall time / packets)\n", ns_pkt);
	print_table("\nns per relayed copy (= ns per packet / K)\n", ns_copy);

	/* Growth with K: least-squares line through (K, ns per packet). */
	printf("\ncost vs K (opus, 1 thread): ns/packet = a + b*K, least squares over K=1,10,30\n");
	printf("%-9s %9s %9s %9s\n", "variant", "a (ns)", "b (ns/K)", "max resid");
	double plugin_a = NAN;
	for (int v = 0; v < NVAR_RTP; v++) {
		double x[3], y[3], sx = 0, sy = 0, sxx = 0, sxy = 0;
		int m = 0;
		for (int ki = 0; ki < 3; ki++) {
			double val = ns_pkt(v, ks[ki], OPUS, 1);
			if (isnan(val))
				continue;
			x[m] = ks[ki], y[m] = val;
			sx += x[m], sy += y[m], sxx += x[m] * x[m], sxy += x[m] * y[m];
			m++;
		}
		if (m < 3)
			continue;
		double b = (m * sxy - sx * sy) / (m * sxx - sx * sx), a = (sy - b * sx) / m, res = 0;
		for (int i = 0; i < m; i++)
			res = fmax(res, fabs(y[i] - (a + b * x[i])));
		printf("%-9s %9.2f %9.2f %9.2f\n", var_name[v], a, b, res);
		if (v == V_PLUGIN)
			plugin_a = a;
	}
	double fixed = ns_pkt(V_PLUGIN, 1, OPUS, 1) - ns_pkt(V_FLOOR, 1, OPUS, 1);
	printf("plugin fixed cost per incoming packet: %.2f ns (plugin - floor at K=1), intercept %.2f ns\n", fixed, plugin_a);
	for (int ki = 0; ki < 3; ki++) {
		double one = ns_pkt(V_PLUGIN, ks[ki], OPUS, 1), two = ns_pkt(V_PLUGIN, ks[ki], OPUS, 2);
		double r1 = ns_pkt(V_RWLOCK, ks[ki], OPUS, 1), r2 = ns_pkt(V_RWLOCK, ks[ki], OPUS, 2);
		printf("two rooms on two threads, K=%-2d: plugin %.2f -> %.2f ns/packet aggregate (x%.2f); rwlock x%.2f\n", ks[ki], one,
			two, two / one, r2 / r1);
	}

	double f1 = ns_pkt(V_FLOOR, 10, OPUS, 1), f2 = ns_pkt(V_FLOOR, 10, OPUS, 2);
	printf("machine ceiling: the floor (no shared state at all) runs two rooms on two threads at x%.2f of one (K=10; 0.50 = perfect)\n",
		f2 / f1);

	printf("\nPLI storm: 30 subscribers of one publisher each send PLIs (RTCP PT 206 FMT 1, 12 bytes), one thread\n");
	/* The unthrottled run happens in a child with its own bare loop (the
	 * first pli-bare result); the parent's is the last. */
	result *bare_c = find(V_PLI_BARE, 30, OPUS, 1), *bare_p = find_last(V_PLI_BARE, 30, OPUS, 1);
	double bare = bare_p ? bare_p->ns_unit : NAN, bare2 = bare_c ? bare_c->ns_unit : NAN;
	double thr = ns_pkt(V_PLI_PLUGIN, 30, OPUS, 1), unthr = ns_pkt(V_PLI_PLUGIN_UNTHROTTLED, 30, OPUS, 1);
	double bare_exe = ns_pkt(V_PLI_BARE_EXE, 30, OPUS, 1);
	printf("  bare send_pli loop                        %8.2f ns/PLI  (in a shared object, as a plugin's calls are)\n", bare);
	printf("  bare send_pli loop in the executable      %8.2f ns/PLI  (plugin x%.2f of it)\n", bare_exe, thr / bare_exe);
	printf("  plugin incoming_rtcp, %3d ms throttle     %8.2f ns/PLI  (x%.2f bare)\n", opt_throttle_ms, thr, thr / bare);
	printf("  plugin incoming_rtcp, no throttle         %8.2f ns/PLI  (x%.2f bare %.2f ns; every PLI reaches send_pli)\n", unthr,
		unthr / bare2, bare2);
	double rrp = ns_pkt(V_PLI_PLUGIN_RR, 30, OPUS, 1);
	printf("  plugin, RR + PLI compound (44 B, as browsers send), throttled %6.2f ns/PLI  (x%.2f bare)\n", rrp, rrp / bare);

	printf("\nData channel: one publisher's message to 30 other publishers (room of 31), one thread\n");
	double dp = ns_pkt(V_DATA_PLUGIN, DATA_N - 1, OPUS, 1), df = ns_pkt(V_DATA_FLOOR, DATA_N - 1, OPUS, 1);
	double dfe = ns_pkt(V_DATA_FLOOR_EXE, DATA_N - 1, OPUS, 1);
	printf("  floor (30 relay_data)                     %8.2f ns/message  %6.2f ns/copy\n", df, df / 30);
	printf("  floor in the executable                   %8.2f ns/message  %6.2f ns/copy\n", dfe, dfe / 30);
	printf("  plugin incoming_data                      %8.2f ns/message  %6.2f ns/copy  (x%.2f floor)\n", dp, dp / 30, dp / df);

	printf("\nGo heap allocations in the per-packet path (callgrind, %ld incoming_rtp/rtcp/data calls):\n", pr->packets);
	if (pr->ran) {
		printf("  runtime.mallocgc calls: %ld, calls into Go: %ld, Go functions executed: %ld, C malloc calls: %ld\n", pr->mallocgc,
			pr->go_calls, pr->go_fns, pr->c_malloc);
		printf("  functions executed: %s\n", pr->fns);
	} else {
		printf("  not measured (valgrind unavailable or --no-alloc-check)\n");
	}

	int all_ok = 1;
	for (int i = 0; i < nres; i++)
		all_ok &= results[i].ok;
	if (!all_ok)
		printf("\nWARNING: some relay counts did not match (see stderr)\n");

	double p = ns_copy(V_PLUGIN, 10, OPUS, 1), f = ns_copy(V_FLOOR, 10, OPUS, 1), fe = ns_copy(V_FLOOR_EXE, 10, OPUS, 1);
	printf("\nK=10 opus 1T against the floor compiled into the executable (a loop no plugin can run): plugin %.2f, floor-exe %.2f ns per copy, x%.2f\n",
		p, fe, p / fe);
	result *gp = find_gate(V_PLUGIN, 10, 1), *gf = find_gate(V_FLOOR, 10, 1), *gpli = find_gate(V_PLI_PLUGIN, 30, 1),
	       *gbare = find_gate(V_PLI_BARE, 30, 1), *gp2 = find_gate(V_PLUGIN, 10, 2), *gf2 = find_gate(V_FLOOR, 10, 2);
	if (gp && gf) {
		printf("\nGate: best of %d interleaved runs of >= %.3f s each (the tables above: best of %d runs of >= %.2f s)\n", gp->reps,
			gp->min_time, opt_reps, opt_min_time);
		printf("  K=10 opus 1T: plugin %.3f, floor %.3f ns per copy: x%.3f (target <= 1.2); fixed cost (plugin - floor) %.2f ns per packet\n",
			gp->ns_copy, gf->ns_copy, gp->ns_copy / gf->ns_copy, gp->ns_unit - gf->ns_unit);
		p = gp->ns_copy, f = gf->ns_copy;
	}
	if (gp && gp2 && gf && gf2)
		printf("  K=10 opus, two rooms on two threads: plugin x%.3f of one thread (target <= 0.6), floor x%.3f (0.5 = two real cores)\n",
			gp2->ns_unit / gp->ns_unit, gf2->ns_unit / gf->ns_unit);
	if (gpli && gbare)
		printf("  PLI storm: plugin %.3f, bare send_pli %.3f ns per PLI: x%.3f (target <= 2)\n", gpli->ns_unit, gbare->ns_unit,
			gpli->ns_unit / gbare->ns_unit);
	result *grr = find_gate(V_PLI_PLUGIN_RR, 30, 1);
	if (grr && gbare)
		printf("  PLI storm, RR + PLI compounds as browsers send them: plugin %.3f ns per PLI: x%.3f\n", grr->ns_unit,
			grr->ns_unit / gbare->ns_unit);
	char allocs[32];
	if (pr->ran && pr->go_calls == 0 && pr->go_fns == 0 && pr->mallocgc == 0)
		snprintf(allocs, sizeof(allocs), "0");
	else if (pr->ran)
		snprintf(allocs, sizeof(allocs), "%.3f", (double)pr->mallocgc / (double)pr->packets);
	else
		snprintf(allocs, sizeof(allocs), "unmeasured");
	printf("%s fanout=10 plugin_ns=%.2f floor_ns=%.2f ratio=%.2f allocs=%s\n", opt_abi ? "relay" : "relay-abi0", p, f, p / f, allocs);
	return all_ok;
}

/* ------------------------------------------------------------------ */

static void usage(void) {
	fprintf(stderr,
		"usage: relay-bench --lib libjanus_plugin_sfu.so [--abi 0|1] [--goalt libgoalt.so]\n"
		"                   [--min-time S] [--reps N] [--n N] [--quick] [--no-alloc-check] [--throttle-ms MS]\n"
		"                   [--variants floor,c-nosync,rwlock,atomic,go-alt,plugin,pli,data]\n");
	exit(2);
}

int main(int argc, char **argv) {
	int alloc_probe = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			opt_lib = argv[++i];
		else if (!strcmp(argv[i], "--abi") && i + 1 < argc)
			opt_abi = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--goalt") && i + 1 < argc)
			opt_goalt = argv[++i];
		else if (!strcmp(argv[i], "--plugin-side") && i + 1 < argc)
			opt_plugin_side = argv[++i];
		else if (!strcmp(argv[i], "--min-time") && i + 1 < argc)
			opt_min_time = atof(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			opt_reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--n") && i + 1 < argc)
			opt_n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--throttle-ms") && i + 1 < argc)
			opt_throttle_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--variants") && i + 1 < argc)
			opt_variants = argv[++i];
		else if (!strcmp(argv[i], "--gate-reps") && i + 1 < argc)
			opt_gate_reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--quick"))
			opt_min_time = 0.02, opt_reps = 5;
		else if (!strcmp(argv[i], "--no-alloc-check"))
			opt_alloc_check = 0;
		else if (!strcmp(argv[i], "--alloc-probe"))
			alloc_probe = 1;
		else
			usage();
	}
	if (!opt_lib || (opt_abi != 0 && opt_abi != 1) || opt_reps < 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	load_plugin_side();
	make_packets();
	build_rooms();
	alt_relay = gw_relay_rtp();
	ps_alt_set_relay((ps_relay_fn)alt_relay);
	if (alloc_probe)
		return alloc_probe_main();

	/* Children first, while this process has neither threads nor a Go
	 * runtime: go-alt, then the unthrottled PLI storm. */
	if (opt_goalt && want("go-alt"))
		run_child(goalt_child, "go-alt");
	if (want("pli"))
		run_child(pli_nothrottle_child, "unthrottled PLI");
	probe_result pr;
	memset(&pr, 0, sizeof(pr));
	if (opt_alloc_check) {
		char self[4096];
		ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (len > 0) {
			self[len] = 0;
			probe_allocs(self, &pr);
		}
	}

	load_plugin(opt_throttle_ms);
	room *all[6];
	for (int ki = 0; ki < 3; ki++)
		for (int x = 0; x < 2; x++)
			all[ki * 2 + x] = room_k[ki][x];
	setup_plugin_rooms(all, 6, DATA_N);
	sleep_ms(100);
	start_workers();
	static const int rtp_order[] = {V_FLOOR, V_FLOOR_EXE, V_NOSYNC, V_RWLOCK, V_ATOMIC, V_PLUGIN};
	int sel[8], nsel = 0;
	for (size_t i = 0; i < sizeof(rtp_order) / sizeof(rtp_order[0]); i++)
		if (want(var_name[rtp_order[i]]))
			sel[nsel++] = rtp_order[i];
	if (nsel)
		measure_rtp(sel, nsel);
	if (want("pli")) {
		static const int v[] = {V_PLI_BARE, V_PLI_BARE_EXE, V_PLI_PLUGIN, V_PLI_PLUGIN_RR};
		measure_group(v, (int)(sizeof(v) / sizeof(v[0])), 2, OPUS, 1);
	}
	if (want("data")) {
		static const int v[] = {V_DATA_FLOOR, V_DATA_FLOOR_EXE, V_DATA_PLUGIN};
		measure_group(v, (int)(sizeof(v) / sizeof(v[0])), 0, OPUS, 1);
	}
	if (opt_gate_reps > 0)
		measure_gate();
	stop_workers();
	int ok = report(&pr);
	fflush(stdout);
	_exit(ok ? 0 : 1); /* the plugin's Go runtime is not torn down (Janus never unloads it either) */
}
