/*
 * Go allocations in the per-packet path: the bench runs itself under
 * callgrind in --alloc-probe mode (alloc_probe_main: set up one room, run
 * the probe loop on a fresh thread), collecting only inside
 * alloc_probe_loop (timed.c), then reads the profile: every function
 * executed there, calls to runtime.mallocgc and to any Go function.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

int alloc_probe_main(const bench_opts *o) {
	load_plugin(o, o->throttle_ms);
	room *r = world.room_k[1][0];
	setup_plugin_rooms(&r, 1, 4);
	/* Let the message threads settle so nothing else is in flight. */
	sleep_ms(200);
	run_alloc_probe(r);
	printf("probe done: %d iterations of incoming_rtp x2 (opus, h264), incoming_rtcp (PLI), incoming_data\n", PROBE_PACKETS);
	fflush(stdout);
	_exit(0); /* a Go runtime cannot be torn down */
}

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

void probe_allocs(const bench_opts *o, const char *self, probe_result *pr) {
	memset(pr, 0, sizeof(*pr));
	pr->packets = (long)PROBE_PACKETS * 4;
	char out[] = "/tmp/relay-bench-callgrind-XXXXXX";
	int fd = mkstemp(out);
	if (fd < 0)
		return;
	close(fd);
	char outopt[128], abiopt[8], thr[16];
	snprintf(outopt, sizeof(outopt), "--callgrind-out-file=%s", out);
	snprintf(abiopt, sizeof(abiopt), "%d", o->abi);
	snprintf(thr, sizeof(thr), "%d", o->throttle_ms);
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
		(char *)self, "--alloc-probe", "--abi", abiopt, "--lib", (char *)o->lib, "--throttle-ms", thr, NULL};
	fprintf(stderr, "# alloc check: valgrind --tool=callgrind --collect-atstart=no --toggle-collect=alloc_probe_loop %s --alloc-probe --abi %d\n", self, o->abi);
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
