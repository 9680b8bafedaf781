/*
 * Grace periods for the routing tables, in the style of userspace RCU's
 * membarrier flavour.
 *
 * A reader (a Janus thread inside incoming_rtp & co.) writes the current
 * epoch into its own cache line on entry and zero on exit: no lock prefix,
 * no shared write. A writer swaps a pointer, bumps the epoch, runs
 * membarrier(2) so every running thread passes a full barrier, then waits
 * until no reader is still inside a section that began before the bump.
 * Only then are the old arrays (and retired sessions) freed.
 *
 * Where membarrier is unavailable (old kernel, seccomp) readers fall back to
 * a real fence after announcing themselves: slower, still correct. The
 * epoch's low bit tells them which (CJ_RCU_FENCED).
 *
 * Should membarrier start failing after it registered (a seccomp filter
 * installed later), a writer must not just use a fence of its own: readers
 * already inside a section did not fence, so their entry store may still
 * be invisible to it. It sets the epoch's fenced bit first (every section
 * that begins afterwards fences), then makes the sections that began before
 * visible with a barrier that needs no registration, and only then waits
 * for them as usual (switch_to_fences).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rcu.h"

static _Atomic(cj_reader *) readers;
_Atomic uint64_t cj_rcu_epoch = 2 | CJ_RCU_FENCED; /* fenced until rcu_setup knows better */
static _Atomic int use_membarrier;
static _Atomic int test_fail_membarrier;
static _Atomic uint64_t fallbacks;
__thread cj_reader *cj_rcu_self __attribute__((tls_model("initial-exec")));
static pthread_key_t reader_key;
static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t sync_mutex = PTHREAD_MUTEX_INITIALIZER;

static void reader_release(void *p) {
	cj_reader *r = p;
	atomic_store_explicit(&r->seen, 0, memory_order_release);
	atomic_store_explicit(&r->in_use, 0, memory_order_release);
}

static void rcu_setup(void) {
	pthread_key_create(&reader_key, reader_release);
	/* Before any reader exists: every reader registers through here. */
	if (!atomic_load(&test_fail_membarrier) && syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
		atomic_store(&use_membarrier, 1);
		atomic_store(&cj_rcu_epoch, 2);
	}
}

int cj_rcu_init(void) {
	pthread_once(&rcu_once, rcu_setup);
	return atomic_load(&use_membarrier);
}

int cj_rcu_uses_membarrier(void) {
	return atomic_load(&use_membarrier);
}

void cj_rcu_test_fail_membarrier(int fail) {
	atomic_store(&test_fail_membarrier, fail);
}

uint64_t cj_rcu_fallbacks(void) {
	return atomic_load(&fallbacks);
}

cj_reader *cj_rcu_register(void) {
	pthread_once(&rcu_once, rcu_setup);
	cj_reader *r;
	/* Reuse a slot left by a thread that exited. */
	for (r = atomic_load_explicit(&readers, memory_order_acquire); r; r = r->next) {
		int free_slot = 0;
		if (atomic_compare_exchange_strong(&r->in_use, &free_slot, 1))
			goto got;
	}
	r = aligned_alloc(64, sizeof(*r));
	if (!r)
		abort();
	memset(r, 0, sizeof(*r));
	atomic_store(&r->in_use, 1);
	cj_reader *head = atomic_load(&readers);
	do {
		r->next = head;
	} while (!atomic_compare_exchange_weak(&readers, &head, r));
got:
	cj_rcu_self = r;
	pthread_setspecific(reader_key, r);
	return r;
}

static int membarrier(int cmd) {
	if (atomic_load_explicit(&test_fail_membarrier, memory_order_relaxed)) {
		errno = EPERM;
		return -1;
	}
	return (int)syscall(__NR_membarrier, cmd, 0, 0);
}

/* A full barrier on every CPU this process may run on, the slow way: the
 * writer runs on each in turn, and a CPU that switches to it has passed
 * the scheduler's full barrier after whatever ran there before (the
 * guarantee membarrier itself is built on). Returns 0 if it got onto
 * every CPU. */
static int barrier_by_migration(void) {
	cpu_set_t allowed, one;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return -1;
	int rc = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one) != 0 || sched_getcpu() != cpu)
			rc = -1;
	}
	sched_setaffinity(0, sizeof(allowed), &allowed);
	return rc;
}

/* membarrier failed after readers came to rely on it. Called with
 * sync_mutex held, before the grace period's wait. */
static void switch_to_fences(int err) {
	atomic_fetch_or(&cj_rcu_epoch, CJ_RCU_FENCED);
	atomic_store(&use_membarrier, 0);
	atomic_fetch_add(&fallbacks, 1);
	/* Sections that began before the bit was set: MEMBARRIER_CMD_GLOBAL
	 * waits for every CPU to pass a barrier and needs no registration;
	 * failing that, visit every CPU. */
	const char *how = "membarrier(MEMBARRIER_CMD_GLOBAL)";
	if (membarrier(MEMBARRIER_CMD_GLOBAL) != 0) {
		how = "a visit to every CPU";
		if (barrier_by_migration() != 0) {
			/* Nothing left that forces other CPUs' stores out: give a
			 * store buffer ample time to drain, once. */
			how = "a 10 ms pause (could not visit every CPU)";
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	atomic_thread_fence(memory_order_seq_cst);
	cj_logf(CJ_LOG_WARN, "membarrier(2) failed (%s): relay readers switched to fences, the switch covered by %s",
		strerror(err), how);
}

static void full_barrier_everywhere(void) {
	if (atomic_load_explicit(&use_membarrier, memory_order_relaxed)) {
		if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
			return;
		switch_to_fences(errno);
	}
	atomic_thread_fence(memory_order_seq_cst);
}

void cj_synchronize(void) {
	pthread_once(&rcu_once, rcu_setup);
	pthread_mutex_lock(&sync_mutex);
	uint64_t now = atomic_fetch_add(&cj_rcu_epoch, 2) + 2;
	full_barrier_everywhere();
	for (cj_reader *r = atomic_load_explicit(&readers, memory_order_acquire); r; r = r->next) {
		for (int spins = 0;; spins++) {
			uint64_t seen = atomic_load_explicit(&r->seen, memory_order_acquire);
			if (seen == 0 || seen >= now)
				break;
			if (spins < 100) {
				sched_yield();
			} else {
				struct timespec ts = {0, 50 * 1000};
				nanosleep(&ts, NULL);
			}
		}
	}
	full_barrier_everywhere();
	pthread_mutex_unlock(&sync_mutex);
}
