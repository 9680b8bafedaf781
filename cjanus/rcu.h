/*
 * Read-side critical sections and grace periods for the routing tables
 * (rcu.c). The read side is inline: it runs twice per packet, and cgo
 * builds without link-time optimisation.
 */
#ifndef CJ_RCU_H
#define CJ_RCU_H

#include <stdatomic.h>
#include <stdint.h>

/* One per reader thread, on its own cache line: the thread writes only
 * here, so readers never share a written line. */
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

/* Waits until every read-side section that began before the call has
 * ended. Never call it inside a section. */
void cj_synchronize(void);

/* Sets the grace-period mechanism up (idempotent); returns whether
 * readers rely on membarrier(2) (1) or fence themselves (0). */
int cj_rcu_init(void);
int cj_rcu_uses_membarrier(void);

/* Tests only: make every later membarrier(2) call fail, as a seccomp
 * filter installed after init would. */
void cj_rcu_test_fail_membarrier(int fail);
/* How many times writers fell back from membarrier to fenced readers. */
uint64_t cj_rcu_fallbacks(void);

#endif
