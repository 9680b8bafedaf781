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
 * The parts are listed in bench.h.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static void usage(void) {
	fprintf(stderr,
		"usage: relay-bench --lib libjanus_plugin_sfu.so [--abi 0|1] [--goalt libgoalt.so]\n"
		"                   [--min-time S] [--reps N] [--n N] [--quick] [--no-alloc-check] [--throttle-ms MS]\n"
		"                   [--variants floor,c-nosync,rwlock,atomic,go-alt,plugin,pli,data,ms,audio-level]\n");
	exit(2);
}

int main(int argc, char **argv) {
	bench_opts o = {
		.abi = 1,
		.min_time = 0.2,
		.reps = 5,
		.gate_reps = 300,
		.gate_min_time = 0.003,
		.n = 2000000,
		.alloc_check = 1,
		.throttle_ms = 500,
	};
	int alloc_probe = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			o.lib = argv[++i];
		else if (!strcmp(argv[i], "--abi") && i + 1 < argc)
			o.abi = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--goalt") && i + 1 < argc)
			o.goalt = argv[++i];
		else if (!strcmp(argv[i], "--plugin-side") && i + 1 < argc)
			o.plugin_side = argv[++i];
		else if (!strcmp(argv[i], "--min-time") && i + 1 < argc)
			o.min_time = atof(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			o.reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--n") && i + 1 < argc)
			o.n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--throttle-ms") && i + 1 < argc)
			o.throttle_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--variants") && i + 1 < argc)
			o.variants = argv[++i];
		else if (!strcmp(argv[i], "--gate-reps") && i + 1 < argc)
			o.gate_reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--quick"))
			o.min_time = 0.02, o.reps = 5;
		else if (!strcmp(argv[i], "--no-alloc-check"))
			o.alloc_check = 0;
		else if (!strcmp(argv[i], "--alloc-probe"))
			alloc_probe = 1;
		else
			usage();
	}
	if (!o.lib || (o.abi != 0 && o.abi != 1) || o.reps < 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	janus_log_level = 3; /* warnings and errors only */
	world.abi = o.abi;
	load_plugin_side(&o);
	make_packets();
	build_rooms();
	world.alt_set_relay(gw_relay_rtp_fn());
	if (alloc_probe)
		return alloc_probe_main(&o);

	static bench_results res; /* 256 results: too big for the stack */
	bench_run run = bench_run_of(&o, &res);
	/* Children first, while this process has neither threads nor a Go
	 * runtime: go-alt, then the unthrottled PLI storm. */
	if (o.goalt && bench_want(&o, "go-alt"))
		run_goalt_child(&run);
	if (bench_want(&o, "pli"))
		run_pli_nothrottle_child(&run);
	probe_result pr;
	memset(&pr, 0, sizeof(pr));
	if (o.alloc_check) {
		char self[4096];
		ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (len > 0) {
			self[len] = 0;
			probe_allocs(&o, self, &pr);
		}
	}

	load_plugin(&o, o.throttle_ms);
	room *all[2 * NK];
	for (int ki = 0; ki < NK; ki++)
		for (int x = 0; x < 2; x++)
			all[ki * 2 + x] = world.room_k[ki][x];
	setup_plugin_rooms(all, 2 * NK, DATA_N);
	install_extra_routes(all, 2 * NK);
	sleep_ms(100);
	start_workers();
	static const int rtp_order[] = {V_FLOOR, V_FLOOR_EXE, V_NOSYNC, V_RWLOCK, V_ATOMIC, V_PLUGIN};
	int sel[8], nsel = 0;
	for (size_t i = 0; i < sizeof(rtp_order) / sizeof(rtp_order[0]); i++)
		if (bench_want(&o, var_name[rtp_order[i]]))
			sel[nsel++] = rtp_order[i];
	if (nsel)
		measure_rtp(&run, sel, nsel);
	if (bench_want(&o, "pli")) {
		static const int v[] = {V_PLI_BARE, V_PLI_BARE_EXE, V_PLI_PLUGIN, V_PLI_PLUGIN_RR};
		measure_group(&run, v, (int)(sizeof(v) / sizeof(v[0])), 2, OPUS, 1);
	}
	if (bench_want(&o, "data")) {
		static const int v[] = {V_DATA_FLOOR, V_DATA_FLOOR_EXE, V_DATA_PLUGIN};
		measure_group(&run, v, (int)(sizeof(v) / sizeof(v[0])), 0, OPUS, 1);
	}
	/* Multistream subscribers (1.x) and the audio-level parse, each
	 * interleaved with the floor and the classic path at K=10. */
	if (o.abi == 1 && bench_want(&o, "ms")) {
		static const int v[] = {V_FLOOR, V_PLUGIN, V_MS_PLUGIN};
		measure_group(&run, v, 3, 1, OPUS, 1);
		measure_group(&run, v, 3, 1, H264, 1);
	}
	if (bench_want(&o, "audio-level")) {
		static const int v[] = {V_FLOOR, V_PLUGIN, V_AL_PLUGIN};
		measure_group(&run, v, 3, 1, OPUS, 1);
	}
	if (o.gate_reps > 0)
		measure_gate(&run);
	stop_workers();
	int ok = report(&o, &res, &pr);
	fflush(stdout);
	_exit(ok ? 0 : 1); /* the plugin's Go runtime is not torn down (Janus never unloads it either) */
}
