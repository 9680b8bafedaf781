/*
 * A coarse monotonic clock for the keyframe throttle, kept by a thread.
 *
 * In a PLI storm every request reads the time, and all but one per window
 * are dropped right after. Reading a word this thread stores every few ms
 * costs one load; clock_gettime, even the vDSO's coarse clock, costs a
 * call through the PLT and a sequence-count loop. The throttle is measured
 * in hundreds of ms, so a tick of at most 10 ms changes nothing a user can
 * see: both ends of every interval come from the same clock.
 *
 * While no ticker runs (before init, after destroy, with throttling off) the
 * value is CJ_CLOCK_STOPPED and readers fall back to clock_gettime.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "clock.h"
#include "log.h"

_Atomic int64_t cj_clock_now_us = CJ_CLOCK_STOPPED;

static pthread_mutex_t clock_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clock_cond;
static pthread_t clock_thread;
static int clock_running, clock_stop;
static int64_t clock_period_us;

/* The coarse clock: a read of the vDSO page (CLOCK_MONOTONIC goes through
 * the clocksource, much dearer on kvm-clock), a jiffy's resolution, plenty
 * for the ticker and for the fallback alike. */
int64_t cj_clock_read_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *clock_main(void *arg) {
	(void)arg;
	pthread_mutex_lock(&clock_mu);
	while (!clock_stop) {
		atomic_store_explicit(&cj_clock_now_us, cj_clock_read_us(), memory_order_relaxed);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		int64_t ns = until.tv_nsec + clock_period_us * 1000;
		until.tv_sec += ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		while (!clock_stop && pthread_cond_timedwait(&clock_cond, &clock_mu, &until) != ETIMEDOUT) {
		}
	}
	pthread_mutex_unlock(&clock_mu);
	return NULL;
}

/* A tick of a sixteenth of the throttle interval, between 1 and 10 ms. */
void cj_clock_start(int64_t interval_us) {
	int64_t period = interval_us / 16;
	if (period > 10000)
		period = 10000;
	if (period < 1000)
		period = 1000;
	pthread_mutex_lock(&clock_mu);
	clock_period_us = period;
	if (!clock_running) {
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&clock_cond, &ca);
		pthread_condattr_destroy(&ca);
		clock_stop = 0;
		/* The first value is there before any reader can see the ticker. */
		atomic_store_explicit(&cj_clock_now_us, cj_clock_read_us(), memory_order_relaxed);
		if (pthread_create(&clock_thread, NULL, clock_main, NULL) == 0) {
			pthread_setname_np(clock_thread, "sfu-clock");
			clock_running = 1;
		} else {
			atomic_store_explicit(&cj_clock_now_us, CJ_CLOCK_STOPPED, memory_order_relaxed);
			pthread_cond_destroy(&clock_cond);
			cj_log(CJ_LOG_WARN, "cannot start the throttle clock thread; reading the system clock per request");
		}
	}
	pthread_mutex_unlock(&clock_mu);
}

void cj_clock_stop(void) {
	pthread_mutex_lock(&clock_mu);
	if (!clock_running) {
		pthread_mutex_unlock(&clock_mu);
		return;
	}
	clock_stop = 1;
	pthread_cond_signal(&clock_cond);
	pthread_mutex_unlock(&clock_mu);
	pthread_join(clock_thread, NULL);
	pthread_mutex_lock(&clock_mu);
	clock_running = 0;
	atomic_store_explicit(&cj_clock_now_us, CJ_CLOCK_STOPPED, memory_order_relaxed);
	pthread_cond_destroy(&clock_cond);
	pthread_mutex_unlock(&clock_mu);
}
