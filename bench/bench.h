/*
 * relay-bench's parts (see main.c for what it measures):
 *   host.c     the fake Janus around the plugin: push_event, plugin loading,
 *              handles, rooms and the joins that build the plugin's routes
 *   timed.c    everything inside a timed interval: the counting gateway
 *              callbacks, the packets, every variant's loop, the worker
 *              threads and the callgrind probe loop. One translation unit,
 *              so that the loops compile as they always did (the callbacks'
 *              thread-local counters stay local-exec, nothing is inlined
 *              across a file boundary that was not before)
 *   measure.c  calibration, interleaved repetitions, the gate, the child
 *              processes (go-alt, unthrottled PLI)
 *   allocs.c   the callgrind run that counts Go allocations in the hot path
 *   report.c   tables and the summary line
 *   main.c     options and the order of the phases
 * The fake Janus's ABI comes from test/fakejanus, shared with test/abi.
 */
#ifndef RELAY_BENCH_H
#define RELAY_BENCH_H

#include <stdint.h>

#include "fakejanus.h"
#include "plugin_side.h"

/* ---- options ---- */

typedef struct bench_opts {
	int abi; /* 0 = Janus 0.x layouts (janus_version 144), 1 = 1.x (1102) */
	const char *lib, *goalt, *plugin_side;
	double min_time; /* seconds per timed run, at least */
	int reps;        /* runs per cell, best one wins */
	/* The gate: the cells the targets are judged on (K=10 Opus one thread
	 * against the floor; the PLI storm against a bare send_pli), measured
	 * again at the end as many short runs interleaved pairwise, best of
	 * each. This VM's noise comes in bursts of seconds that slow the
	 * plugin's data-touching path more than the floor's empty callbacks;
	 * hundreds of runs a few ms long find the quiet moments for both
	 * alike. */
	int gate_reps;
	double gate_min_time;
	long n; /* iterations of the first (calibration) run, scaled by K */
	int alloc_check;
	int throttle_ms;
	const char *variants; /* comma-separated subset of floor,c-nosync,rwlock,atomic,go-alt,plugin,pli,data */
} bench_opts;

int bench_want(const bench_opts *o, const char *name);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int ncpus(void);

/* ---- the fake host's world: the plugin, its handles and rooms ---- */

enum { OPUS = 0, H264 = 1, NCODEC = 2 };
extern const char *const codec_name[NCODEC];

#define MAXK 32
typedef struct room {
	char name[16];
	int k;
	h_session *pub;        /* the plugin's publisher handle */
	h_session *subs[MAXK]; /* subscriber handles (plain array for the floor) */
	h_session *alt_pub;    /* publisher handle for the C alternatives */
	h_session *goalt_pub;  /* publisher handle for go-alt */
	/* Plugin sessions whose routes the bench installs itself (see
	 * install_extra_routes): a publisher with the K subscribers as
	 * multistream subscribers (1.x), and one with them as classic
	 * subscribers and its audio-level extension on. */
	h_session *ms_pub, *al_pub;
} room;

#define MAXROOMS 8
#define NK 3
#define DATA_N 31
extern const int ks[NK]; /* fan-outs measured: 1, 10, 30 */

typedef void (*incoming_fn)(h_session *, void *);

/* One per process. Janus's callbacks carry no context pointer, so the
 * callbacks and the loops reach the host through this. */
typedef struct bench_world {
	int abi;
	h_plugin *plugin;
	void *plugin_dl; /* its dlopen handle */
	room rooms[MAXROOMS];
	int nrooms;
	room *room_k[NK][2]; /* [K index][a/b] */
	h_session *data_pubs[DATA_N];
	/* From build/libplugin_side.so: the floors and the alternatives. */
	void (*floor_rtp)(void *const *subs, int k, void *packet, long n, ps_relay_fn relay);
	void (*floor_pli)(void *pub, int k, long n, ps_pli_fn send);
	void (*floor_data)(void *const *others, int k, void *packet, long n, ps_relay_fn relay);
	void (*alt_set_relay)(ps_relay_fn relay);
	incoming_fn nosync_fn, rwlock_fn, atomic_fn;
	incoming_fn goalt_fn; /* go-alt child only */
} bench_world;
extern bench_world world;

/* host.c */
void load_plugin_side(const bench_opts *o);
void build_rooms(void);
void load_plugin(const bench_opts *o, int throttle_ms);
void setup_plugin_rooms(room **rs, int n, int data_n);
/* The audio-level element id the al_pub sessions parse for. */
#define BENCH_AUDIO_LEVEL_EXT 1
void install_extra_routes(room **rs, int n);
int cb_push_event(h_session *h, struct h_plugin *p, const char *transaction, json_t *message, json_t *jsep);

/* ---- variants and the timed side (timed.c) ---- */

enum {
	V_FLOOR, V_FLOOR_EXE, V_NOSYNC, V_RWLOCK, V_ATOMIC, V_GOALT, V_PLUGIN, NVAR_RTP,
	V_PLI_PLUGIN = NVAR_RTP, V_PLI_BARE, V_PLI_BARE_EXE, V_DATA_PLUGIN, V_DATA_FLOOR, V_DATA_FLOOR_EXE,
	V_PLI_PLUGIN_UNTHROTTLED, V_PLI_PLUGIN_RR, V_MS_PLUGIN, V_AL_PLUGIN, NVAR
};
extern const char *const var_name[NVAR];

typedef struct task {
	int variant;
	int worker;
	room *room;
	int codec;
	long n;
	double t0, t1;
	uint64_t out, want;
} task;

void make_packets(void);
void *gw_callbacks(void); /* what init gets, for world.abi */
ps_relay_fn gw_relay_rtp_fn(void);
/* What the counting callbacks counted on this thread. */
uint64_t relayed_rtp(void);
uint64_t relayed_data(void);
/* One packet through the plugin, outside any timing: setup's checks. */
void feed_rtp(h_session *pub);
void feed_rtp_kind(h_session *pub, int codec);
void feed_rtp_audio_level(h_session *pub);
void feed_data(h_session *pub);
void start_workers(void);
void stop_workers(void);
double run_once(int nthreads, task *t0, task *t1);
/* The callgrind probe (allocs.c runs it under valgrind). */
#define PROBE_PACKETS 20000
void run_alloc_probe(room *r);

/* ---- measurement (measure.c) ---- */

typedef struct result {
	int variant, k, codec, threads;
	long n;         /* iterations per thread */
	long units;     /* incoming packets (or PLIs) per iteration per thread */
	double ns_unit; /* ns per incoming packet / PLI / message (aggregate over threads) */
	double ns_copy; /* ns per relayed copy */
	int ok;
	int gate; /* measured in the gate phase */
	int reps;
	double min_time;
} result;

#define MAXRES 256
typedef struct bench_results {
	result r[MAXRES];
	int n;
} bench_results;

/* A measuring phase: its run length and repetitions, and where its results
 * go. */
typedef struct bench_run {
	const bench_opts *o;
	double min_time;
	int reps;
	int gate;
	bench_results *res;
} bench_run;

bench_run bench_run_of(const bench_opts *o, bench_results *res);
int is_pli(int variant);
void measure_group(const bench_run *run, const int *variants, int nv, int ki, int codec, int nthreads);
void measure_rtp(const bench_run *run, const int *variants, int nv);
void measure_gate(const bench_run *run);
const result *find(const bench_results *res, int variant, int k, int codec, int threads);
const result *find_last(const bench_results *res, int variant, int k, int codec, int threads);
const result *find_gate(const bench_results *res, int variant, int k, int threads);
const result *find_gate_last(const bench_results *res, int variant, int k, int threads);
int run_goalt_child(const bench_run *run);
int run_pli_nothrottle_child(const bench_run *run);

/* ---- Go allocations (allocs.c) ---- */

typedef struct probe_result {
	int ran;        /* callgrind ran and produced a profile */
	long mallocgc;  /* calls to runtime.mallocgc */
	long go_calls;  /* calls to any Go (or cgo glue) function */
	long go_fns;    /* Go functions with own cost inside the probe */
	long c_malloc;  /* calls to malloc/calloc/realloc */
	long packets;   /* incoming_* calls in the probe */
	char fns[2048]; /* every function executed */
} probe_result;

void probe_allocs(const bench_opts *o, const char *self, probe_result *pr);
int alloc_probe_main(const bench_opts *o);

/* ---- report (report.c) ---- */

int report(const bench_opts *o, const bench_results *res, const probe_result *pr);

#endif
