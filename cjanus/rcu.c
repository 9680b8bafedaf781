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

#include "core.h"

static _Atomic(cj_reader *) readers;
_Atomic uint64_t cj_rcu_epoch = 2 | CJ_RCU_FENCED; /* fenced until rcu_setup knows better */
int cj_rcu_use_membarrier;
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
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
		cj_rcu_use_membarrier = 1;
		atomic_store(&cj_rcu_epoch, 2);
	}
}

int cj_rcu_init(void) {
	pthread_once(&rcu_once, rcu_setup);
	return cj_rcu_use_membarrier;
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

static void full_barrier_everywhere(void) {
	if (cj_rcu_use_membarrier && syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
		return;
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
