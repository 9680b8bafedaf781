/*
 * The keyframe throttle's clock (clock.c): microseconds of
 * CLOCK_MONOTONIC_COARSE, at most one tick (<= 10 ms) behind while the
 * ticker runs, CJ_CLOCK_STOPPED (later than any deadline) while it does not.
 */
#ifndef CJ_CLOCK_H
#define CJ_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

#define CJ_CLOCK_STOPPED INT64_MAX
extern _Atomic int64_t cj_clock_now_us;
int64_t cj_clock_read_us(void);
void cj_clock_start(int64_t interval_us);
void cj_clock_stop(void);

/* The ticker's value as it is: a deadline check against CJ_CLOCK_STOPPED
 * fails, which sends the caller to a path that reads the real clock. */
static inline int64_t cj_clock_ticker_us(void) {
	return atomic_load_explicit(&cj_clock_now_us, memory_order_relaxed);
}

static inline int64_t cj_clock_us(void) {
	int64_t t = atomic_load_explicit(&cj_clock_now_us, memory_order_relaxed);
	if (__builtin_expect(t == CJ_CLOCK_STOPPED, 0))
		t = cj_clock_read_us();
	return t;
}

#endif
