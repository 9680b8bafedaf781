/*
 * The report: every variant per codec, K and thread count, the cost's
 * growth with K, the PLI storm, the data channel, the allocation check,
 * the gate, and the summary line that comes last.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"

static double ns_copy(const bench_results *res, int variant, int k, int codec, int threads) {
	const result *r = find(res, variant, k, codec, threads);
	return r ? r->ns_copy : NAN;
}
static double ns_pkt(const bench_results *res, int variant, int k, int codec, int threads) {
	const result *r = find(res, variant, k, codec, threads);
	return r ? r->ns_unit : NAN;
}

static void print_cell(double v) {
	if (isnan(v))
		printf(" %9s", "-");
	else
		printf(" %9.2f", v);
}

/* One table of every variant per codec, K and thread count, plus the
 * plugin/floor ratio, in the unit that cell(res, ) gives. */
static void print_table(const bench_results *res, const char *title, double (*cell)(const bench_results *, int, int, int, int)) {
	printf("%s", title);
	printf("%-5s %2s %2s", "codec", "K", "T");
	for (int v = 0; v < NVAR_RTP; v++)
		printf(" %9s", var_name[v]);
	printf(" %9s %9s\n", "plug/flr", "plug/fexe");
	for (int codec = 0; codec < NCODEC; codec++)
		for (int ki = 0; ki < NK; ki++)
			for (int t = 1; t <= 2; t++) {
				printf("%-5s %2d %2d", codec_name[codec], ks[ki], t);
				for (int v = 0; v < NVAR_RTP; v++)
					print_cell(cell(res, v, ks[ki], codec, t));
				print_cell(cell(res, V_PLUGIN, ks[ki], codec, t) / cell(res, V_FLOOR, ks[ki], codec, t));
				print_cell(cell(res, V_PLUGIN, ks[ki], codec, t) / cell(res, V_FLOOR_EXE, ks[ki], codec, t));
				printf("\n");
			}
}

/* Prints the report; returns whether every relay count matched. */
int report(const bench_opts *o, const bench_results *res, const probe_result *pr) {
	const char *abi = o->abi ? "1.x (janus_version 1102)" : "0.x (janus_version 144)";
	printf("relay-bench: ABI %s, best of %d runs of >= %.2f s, %d CPUs\n", abi, o->reps, o->min_time, ncpus());
	/* Where the code is: the callbacks in this executable, the floor and
	 * the plugin in dlopened objects, as relay_rtp in Janus and a plugin. */
	uintptr_t cb = (uintptr_t)gw_relay_rtp_fn(), fl = (uintptr_t)world.floor_rtp, pl = (uintptr_t)world.plugin->incoming_rtp;
	printf("code: relay_rtp callback %#lx (executable), floor %#lx (libplugin_side.so, %.1f TiB away), incoming_rtp %#lx (plugin, %.1f TiB away)\n",
		(unsigned long)cb, (unsigned long)fl, (double)(fl > cb ? fl - cb : cb - fl) / (1024.0 * 1024 * 1024 * 1024), (unsigned long)pl,
		(double)(pl > cb ? pl - cb : cb - pl) / (1024.0 * 1024 * 1024 * 1024));
	print_table(res, "\nns per incoming packet (2T = two publishers in two rooms on two pinned threads, aggregate: wall time / packets)\n", ns_pkt);
	print_table(res, "\nns per relayed copy (= ns per packet / K)\n", ns_copy);

	/* Growth with K: least-squares line through (K, ns per packet). */
	printf("\ncost vs K (opus, 1 thread): ns/packet = a + b*K, least squares over K=1,10,30\n");
	printf("%-9s %9s %9s %9s\n", "variant", "a (ns)", "b (ns/K)", "max resid");
	double plugin_a = NAN;
	for (int v = 0; v < NVAR_RTP; v++) {
		double x[3], y[3], sx = 0, sy = 0, sxx = 0, sxy = 0;
		int m = 0;
		for (int ki = 0; ki < NK; ki++) {
			double val = ns_pkt(res, v, ks[ki], OPUS, 1);
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
	double fixed = ns_pkt(res, V_PLUGIN, 1, OPUS, 1) - ns_pkt(res, V_FLOOR, 1, OPUS, 1);
	printf("plugin fixed cost per incoming packet: %.2f ns (plugin - floor at K=1), intercept %.2f ns\n", fixed, plugin_a);
	for (int ki = 0; ki < NK; ki++) {
		double one = ns_pkt(res, V_PLUGIN, ks[ki], OPUS, 1), two = ns_pkt(res, V_PLUGIN, ks[ki], OPUS, 2);
		double r1 = ns_pkt(res, V_RWLOCK, ks[ki], OPUS, 1), r2 = ns_pkt(res, V_RWLOCK, ks[ki], OPUS, 2);
		printf("two rooms on two threads, K=%-2d: plugin %.2f -> %.2f ns/packet aggregate (x%.2f); rwlock x%.2f\n", ks[ki], one,
			two, two / one, r2 / r1);
	}

	double f1 = ns_pkt(res, V_FLOOR, 10, OPUS, 1), f2 = ns_pkt(res, V_FLOOR, 10, OPUS, 2);
	printf("machine ceiling: the floor (no shared state at all) runs two rooms on two threads at x%.2f of one (K=10; 0.50 = perfect)\n",
		f2 / f1);

	printf("\nPLI storm: 30 subscribers of one publisher each send PLIs (RTCP PT 206 FMT 1, 12 bytes), one thread\n");
	/* The unthrottled run happens in a child with its own bare loop (the
	 * first pli-bare result); the parent's is the last. */
	const result *bare_c = find(res, V_PLI_BARE, 30, OPUS, 1), *bare_p = find_last(res, V_PLI_BARE, 30, OPUS, 1);
	double bare = bare_p ? bare_p->ns_unit : NAN, bare2 = bare_c ? bare_c->ns_unit : NAN;
	double thr = ns_pkt(res, V_PLI_PLUGIN, 30, OPUS, 1), unthr = ns_pkt(res, V_PLI_PLUGIN_UNTHROTTLED, 30, OPUS, 1);
	double bare_exe = ns_pkt(res, V_PLI_BARE_EXE, 30, OPUS, 1);
	printf("  bare send_pli loop                        %8.2f ns/PLI  (in a shared object, as a plugin's calls are)\n", bare);
	printf("  bare send_pli loop in the executable      %8.2f ns/PLI  (plugin x%.2f of it)\n", bare_exe, thr / bare_exe);
	printf("  plugin incoming_rtcp, %3d ms throttle     %8.2f ns/PLI  (x%.2f bare)\n", o->throttle_ms, thr, thr / bare);
	printf("  plugin incoming_rtcp, no throttle         %8.2f ns/PLI  (x%.2f bare %.2f ns; every PLI reaches send_pli)\n", unthr,
		unthr / bare2, bare2);
	double rrp = ns_pkt(res, V_PLI_PLUGIN_RR, 30, OPUS, 1);
	printf("  plugin, RR + PLI compound (44 B, as browsers send), throttled %6.2f ns/PLI  (x%.2f bare)\n", rrp, rrp / bare);

	printf("\nData channel: one publisher's message to 30 other publishers (room of 31), one thread\n");
	double dp = ns_pkt(res, V_DATA_PLUGIN, DATA_N - 1, OPUS, 1), df = ns_pkt(res, V_DATA_FLOOR, DATA_N - 1, OPUS, 1);
	double dfe = ns_pkt(res, V_DATA_FLOOR_EXE, DATA_N - 1, OPUS, 1);
	printf("  floor (30 relay_data)                     %8.2f ns/message  %6.2f ns/copy\n", df, df / 30);
	printf("  floor in the executable                   %8.2f ns/message  %6.2f ns/copy\n", dfe, dfe / 30);
	printf("  plugin incoming_data                      %8.2f ns/message  %6.2f ns/copy  (x%.2f floor)\n", dp, dp / 30, dp / df);

	const result *gms = find_gate_last(res, V_MS_PLUGIN, 10, 1), *gmsf = find_gate_last(res, V_FLOOR, 10, 1);
	const result *gal = find_gate_last(res, V_AL_PLUGIN, 10, 1), *galp = find_gate_last(res, V_PLUGIN, 10, 1);
	if (find_last(res, V_MS_PLUGIN, 10, OPUS, 1) || find_last(res, V_AL_PLUGIN, 10, OPUS, 1)) {
		printf("\nMultistream subscribers and the audio-level parse, K=10, one thread (each group interleaved with its references)\n");
		for (int codec = 0; codec < NCODEC; codec++) {
			const result *m = find_last(res, V_MS_PLUGIN, 10, codec, 1), *f = find_last(res, V_FLOOR, 10, codec, 1),
				     *c = find_last(res, V_PLUGIN, 10, codec, 1);
			if (m && f && c)
				printf("  %-5s floor %6.2f, classic %6.2f (x%.2f), multistream %6.2f ns per copy (x%.2f floor)\n", codec_name[codec],
					f->ns_copy, c->ns_copy, c->ns_copy / f->ns_copy, m->ns_copy, m->ns_copy / f->ns_copy);
		}
		const result *a = find_last(res, V_AL_PLUGIN, 10, OPUS, 1), *c = find_last(res, V_PLUGIN, 10, OPUS, 1);
		if (a && c)
			printf("  opus with the audio-level element parsed: %6.2f against %6.2f ns per packet: %+.2f ns per packet\n", a->ns_unit,
				c->ns_unit, a->ns_unit - c->ns_unit);
	}

	printf("\nGo heap allocations in the per-packet path (callgrind, %ld incoming_rtp/rtcp/data calls):\n", pr->packets);
	if (pr->ran) {
		printf("  runtime.mallocgc calls: %ld, calls into Go: %ld, Go functions executed: %ld, C malloc calls: %ld\n", pr->mallocgc,
			pr->go_calls, pr->go_fns, pr->c_malloc);
		printf("  functions executed: %s\n", pr->fns);
	} else {
		printf("  not measured (valgrind unavailable or --no-alloc-check)\n");
	}

	int all_ok = 1;
	for (int i = 0; i < res->n; i++)
		all_ok &= res->r[i].ok;
	if (!all_ok)
		printf("\nWARNING: some relay counts did not match (see stderr)\n");

	double p = ns_copy(res, V_PLUGIN, 10, OPUS, 1), f = ns_copy(res, V_FLOOR, 10, OPUS, 1), fe = ns_copy(res, V_FLOOR_EXE, 10, OPUS, 1);
	printf("\nK=10 opus 1T against the floor compiled into the executable (a loop no plugin can run): plugin %.2f, floor-exe %.2f ns per copy, x%.2f\n",
		p, fe, p / fe);
	const result *gp = find_gate(res, V_PLUGIN, 10, 1), *gf = find_gate(res, V_FLOOR, 10, 1), *gpli = find_gate(res, V_PLI_PLUGIN, 30, 1),
	       *gbare = find_gate(res, V_PLI_BARE, 30, 1), *gp2 = find_gate(res, V_PLUGIN, 10, 2), *gf2 = find_gate(res, V_FLOOR, 10, 2);
	if (gp && gf) {
		printf("\nGate: best of %d interleaved runs of >= %.3f s each (the tables above: best of %d runs of >= %.2f s)\n", gp->reps,
			gp->min_time, o->reps, o->min_time);
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
	const result *grr = find_gate(res, V_PLI_PLUGIN_RR, 30, 1);
	if (grr && gbare)
		printf("  PLI storm, RR + PLI compounds as browsers send them: plugin %.3f ns per PLI: x%.3f\n", grr->ns_unit,
			grr->ns_unit / gbare->ns_unit);
	if (gms && gmsf)
		printf("  K=10 opus 1T multistream: %.3f against the floor's %.3f ns per copy: x%.3f; fixed cost %.2f ns per packet\n", gms->ns_copy,
			gmsf->ns_copy, gms->ns_copy / gmsf->ns_copy, gms->ns_unit - gmsf->ns_unit);
	if (gal && galp)
		printf("  K=10 opus 1T audio level: %.3f against %.3f ns per packet: %+.2f ns per packet for the parse\n", gal->ns_unit,
			galp->ns_unit, gal->ns_unit - galp->ns_unit);
	if (gms && gmsf && gal && galp)
		printf("multistream fanout=10 ms_ns=%.2f floor_ns=%.2f ratio=%.2f audio_level_ns=%.2f\n", gms->ns_copy, gmsf->ns_copy,
			gms->ns_copy / gmsf->ns_copy, gal->ns_unit - galp->ns_unit);
	else if (gal && galp)
		printf("%s audio_level_ns=%.2f\n", o->abi ? "multistream" : "multistream-abi0", gal->ns_unit - galp->ns_unit);
	char allocs[32];
	if (pr->ran && pr->go_calls == 0 && pr->go_fns == 0 && pr->mallocgc == 0)
		snprintf(allocs, sizeof(allocs), "0");
	else if (pr->ran)
		snprintf(allocs, sizeof(allocs), "%.3f", (double)pr->mallocgc / (double)pr->packets);
	else
		snprintf(allocs, sizeof(allocs), "unmeasured");
	printf("%s fanout=10 plugin_ns=%.2f floor_ns=%.2f ratio=%.2f allocs=%s\n", o->abi ? "relay" : "relay-abi0", p, f, p / f, allocs);
	return all_ok;
}
