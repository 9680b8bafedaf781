/*
 * Measurement: calibrate each variant to a minimum run time, repeat the
 * variants of a cell round-robin and keep the best run; the gate; and the
 * variants that need a process of their own.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

bench_run bench_run_of(const bench_opts *o, bench_results *res) {
	return (bench_run){.o = o, .min_time = o->min_time, .reps = o->reps, .res = res};
}

/* The plugin's storm variants, which send PLIs into incoming_rtcp. */
static int is_pli_plugin(int variant) {
	return variant == V_PLI_PLUGIN || variant == V_PLI_PLUGIN_UNTHROTTLED || variant == V_PLI_PLUGIN_RR;
}

int is_pli(int variant) {
	return is_pli_plugin(variant) || variant == V_PLI_BARE || variant == V_PLI_BARE_EXE;
}

static int is_data(int variant) {
	return variant == V_DATA_PLUGIN || variant == V_DATA_FLOOR || variant == V_DATA_FLOOR_EXE;
}

/* Iterations for the first (warm-up/calibration) run. */
static long base_n(const bench_opts *o, int variant, int k) {
	long n = o->n / (k > 0 ? k : 1);
	if (is_pli(variant))
		n = o->n / 30;
	if (is_data(variant))
		n = o->n / 30;
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
	const bench_run *run;
	int variant, ki, k, codec, nthreads;
	long n;
	double best;
	int ok;
	task a, b;
} probe;

static void probe_init(probe *p, const bench_run *run, int variant, int ki, int codec, int nthreads) {
	memset(p, 0, sizeof(*p));
	p->run = run;
	p->variant = variant;
	p->ki = ki;
	p->k = is_data(variant) ? DATA_N - 1 : ks[ki];
	p->codec = codec;
	p->nthreads = nthreads;
	p->best = 1e30;
	p->ok = 1;
	p->a = (task){.variant = variant, .room = world.room_k[ki][0], .codec = codec};
	p->b = (task){.variant = variant, .room = world.room_k[ki][1], .codec = codec};
}

/* Warm up and calibrate: grow n until one run lasts min_time. */
static void probe_calibrate(probe *p) {
	long n = base_n(p->run->o, p->variant, p->k);
	for (;;) {
		p->a.n = p->b.n = n;
		double t = run_once(p->nthreads, &p->a, &p->b);
		if (t >= p->run->min_time)
			break;
		double scale = t > 0 ? p->run->min_time * 1.15 / t : 10;
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
	bench_results *res = p->run->res;
	if (res->n >= MAXRES)
		die("too many results");
	result *r = &res->r[res->n++];
	r->variant = variant;
	r->k = k;
	r->codec = p->codec;
	r->threads = p->nthreads;
	r->n = n;
	r->units = units;
	r->ns_unit = p->best * 1e9 / ((double)n * (double)units * p->nthreads);
	r->ns_copy = is_pli(variant) ? r->ns_unit : p->best * 1e9 / ((double)n * (double)k * p->nthreads);
	r->ok = p->ok;
	r->gate = p->run->gate;
	r->reps = p->run->reps;
	r->min_time = p->run->min_time;
	fprintf(stderr, "# %-22s K=%-2d %-4s %dT  %8.2f ns/unit  %7.2f ns/copy  (n=%ld)%s\n", var_name[variant], k,
		codec_name[p->codec], p->nthreads, r->ns_unit, r->ns_copy, n, p->ok ? "" : "  CHECK FAILED");
	return r;
}

/* Measures several variants interleaved: each is calibrated, then the
 * repetitions go round-robin, so a burst of outside load hits all of them
 * alike instead of one variant's whole block; best run wins. */
void measure_group(const bench_run *run, const int *variants, int nv, int ki, int codec, int nthreads) {
	probe ps[16];
	for (int i = 0; i < nv; i++) {
		probe_init(&ps[i], run, variants[i], ki, codec, nthreads);
		probe_calibrate(&ps[i]);
	}
	for (int rep = 0; rep < run->reps; rep++)
		for (int i = 0; i < nv; i++)
			probe_rep(&ps[i]);
	for (int i = 0; i < nv; i++)
		probe_record(&ps[i]);
}

const result *find_last(const bench_results *res, int variant, int k, int codec, int threads) {
	for (int i = res->n - 1; i >= 0; i--)
		if (!res->r[i].gate && res->r[i].variant == variant && res->r[i].k == k && res->r[i].codec == codec && res->r[i].threads == threads)
			return &res->r[i];
	return NULL;
}

const result *find(const bench_results *res, int variant, int k, int codec, int threads) {
	for (int i = 0; i < res->n; i++)
		if (!res->r[i].gate && res->r[i].variant == variant && res->r[i].k == k && res->r[i].codec == codec && res->r[i].threads == threads)
			return &res->r[i];
	return NULL;
}

const result *find_gate_last(const bench_results *res, int variant, int k, int threads) {
	for (int i = res->n - 1; i >= 0; i--)
		if (res->r[i].gate && res->r[i].variant == variant && res->r[i].k == k && res->r[i].threads == threads)
			return &res->r[i];
	return NULL;
}

const result *find_gate(const bench_results *res, int variant, int k, int threads) {
	for (int i = 0; i < res->n; i++)
		if (res->r[i].gate && res->r[i].variant == variant && res->r[i].k == k && res->r[i].threads == threads)
			return &res->r[i];
	return NULL;
}

/* The gate phase (see bench_opts.gate_reps): the same results table, runs
 * as the gate wants them. */
void measure_gate(const bench_run *run) {
	bench_run g = *run;
	g.min_time = run->o->gate_min_time, g.reps = run->o->gate_reps, g.gate = 1;
	static const int rtp[] = {V_FLOOR, V_PLUGIN}, pli[] = {V_PLI_BARE, V_PLI_PLUGIN, V_PLI_PLUGIN_RR};
	if (bench_want(run->o, "floor") && bench_want(run->o, "plugin")) {
		measure_group(&g, rtp, (int)(sizeof(rtp) / sizeof(rtp[0])), 1, OPUS, 1);
		measure_group(&g, rtp, (int)(sizeof(rtp) / sizeof(rtp[0])), 1, OPUS, 2);
	}
	if (bench_want(run->o, "pli"))
		measure_group(&g, pli, (int)(sizeof(pli) / sizeof(pli[0])), 2, OPUS, 1);
	/* Each against its own reference in its own group: the report reads
	 * them with find_gate_last. */
	static const int ms[] = {V_FLOOR, V_MS_PLUGIN}, al[] = {V_PLUGIN, V_AL_PLUGIN};
	if (run->o->abi == 1 && bench_want(run->o, "ms"))
		measure_group(&g, ms, 2, 1, OPUS, 1);
	if (bench_want(run->o, "audio-level"))
		measure_group(&g, al, 2, 1, OPUS, 1);
}

/* Every (K, codec, threads) cell for the given RTP variants. */
void measure_rtp(const bench_run *run, const int *variants, int nv) {
	for (int ki = 0; ki < NK; ki++)
		for (int codec = 0; codec < NCODEC; codec++)
			for (int t = 1; t <= 2; t++)
				measure_group(run, variants, nv, ki, codec, t);
}

/* ------------------------------------------------------------------ */
/* Child processes: go-alt and the unthrottled PLI run.                */

typedef int (*child_fn)(const bench_run *run);

/* Forks (before this process has threads or a Go runtime), runs fn in the
 * child, which appends its results; they come back over a pipe. */
static int run_child(const bench_run *run, child_fn fn, const char *what) {
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	bench_results *res = run->res;
	if (pid == 0) {
		close(fds[0]);
		res->n = 0;
		int rc = fn(run);
		size_t len = (size_t)res->n * sizeof(result);
		const char *p = (const char *)res->r;
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
			if (r.variant != V_FLOOR && res->n < MAXRES)
				res->r[res->n++] = r;
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

/* go-alt: the per-packet path in Go, in its own process (two Go runtimes
 * must not share one). */
static int goalt_child(const bench_run *run) {
	const char *lib = run->o->goalt;
	void *dl = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
	if (!dl) {
		fprintf(stderr, "relay-bench: dlopen %s: %s\n", lib, dlerror());
		return 1;
	}
	void (*incoming_rtp)(void *h, void *pkt) = (void (*)(void *, void *))dlsym(dl, "goalt_incoming_rtp");
	void (*set_relay)(void *fn) = (void (*)(void *))dlsym(dl, "goalt_set_relay");
	int (*new_session)(void) = (int (*)(void))dlsym(dl, "goalt_new_session");
	void (*set_routes)(int id, void **items, int n) = (void (*)(int, void **, int))dlsym(dl, "goalt_set_routes");
	if (!incoming_rtp || !set_relay || !new_session || !set_routes) {
		fprintf(stderr, "relay-bench: %s lacks the goalt_* exports\n", lib);
		return 1;
	}
	set_relay((void *)gw_relay_rtp_fn());
	for (int i = 0; i < world.nrooms; i++) {
		int id = new_session();
		if (id < 0)
			return 1;
		world.rooms[i].goalt_pub->plugin_handle = (void *)(uintptr_t)(id + 1);
		set_routes(id, (void **)world.rooms[i].subs, world.rooms[i].k);
	}
	world.goalt_fn = (incoming_fn)incoming_rtp;
	start_workers();
	static const int v[] = {V_FLOOR, V_GOALT};
	measure_rtp(run, v, 2);
	stop_workers();
	return 0;
}

static int pli_nothrottle_child(const bench_run *run) {
	load_plugin(run->o, 0);
	room *r = world.room_k[2][0];
	setup_plugin_rooms(&r, 1, 0);
	start_workers();
	static const int v[] = {V_PLI_BARE, V_PLI_PLUGIN_UNTHROTTLED};
	measure_group(run, v, (int)(sizeof(v) / sizeof(v[0])), 2, OPUS, 1);
	stop_workers();
	return 0;
}

int run_goalt_child(const bench_run *run) { return run_child(run, goalt_child, "go-alt"); }
int run_pli_nothrottle_child(const bench_run *run) { return run_child(run, pli_nothrottle_child, "unthrottled PLI"); }
