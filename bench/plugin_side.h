/*
 * What relay-bench loads from build/libplugin_side.so: the floor and the
 * design alternatives to the plugin's read side, compiled into a shared
 * object so that they run where a plugin's code runs (plugin_side.c).
 */
#ifndef RELAY_BENCH_PLUGIN_SIDE_H
#define RELAY_BENCH_PLUGIN_SIDE_H

#include <stdatomic.h>
#include <stdint.h>

typedef void (*ps_relay_fn)(void *h, void *packet);
typedef void (*ps_pli_fn)(void *h);

/* The alternatives' session, hung off the handle's plugin_handle: an
 * immutable array (the same handles as the plugin's route), a reference
 * count for the `atomic` variant on its own cache line, counters. */
typedef struct alt_routes {
	uint32_t n;
	void *items[];
} alt_routes;

typedef struct alt_session {
	_Atomic(alt_routes *) routes;
	_Atomic int dead;
	_Atomic uint64_t rtp_in, rtp_out;
	char pad0[64 - 32];
	_Atomic long refs;
	char pad1[64 - sizeof(long)];
} alt_session;

/* The floors: k calls per incoming packet (or PLI, or message), n times. */
void floor_rtp(void *const *subs, int k, void *packet, long n, ps_relay_fn relay);
void floor_pli(void *pub, int k, long n, ps_pli_fn send);
void floor_data(void *const *others, int k, void *packet, long n, ps_relay_fn relay);

/* incoming_rtp as the alternatives would write it; relay is the gateway's
 * relay_rtp, set once. */
void alt_set_relay(ps_relay_fn relay);
void alt_nosync_incoming_rtp(void *h, void *packet);
void alt_rwlock_incoming_rtp(void *h, void *packet);
void alt_atomic_incoming_rtp(void *h, void *packet);

#endif
