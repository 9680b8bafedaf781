/*
 * The floor and the design alternatives, in a shared object of their own:
 * dlopened like a plugin, because every plugin is one. A plugin's calls to
 * relay_rtp, send_pli and relay_data cross from a dlopened object into the
 * Janus executable, tens of terabytes of address space away, and on the CPUs
 * measured here an indirect call that far costs more than the same call
 * within one module (BENCHMARKS.md, "Where the floor lives"). A loop compiled
 * into the harness would be a floor no plugin can reach, and alternatives
 * compiled there would get a discount the plugin cannot.
 *
 * Built with the harness's flags and the plugin's loop alignment
 * (cjanus/relay.c), so the loops differ from the plugin's only in what the
 * variant is about.
 */
#pragma GCC optimize("align-loops=32")

#include <pthread.h>
#include <stddef.h>

#include "plugin_side.h"

/* k relay_rtp calls per incoming packet, from a plain array: no per-packet
 * call into this object, no lookup, no synchronisation. */
void floor_rtp(void *const *subs, int k, void *packet, long n, ps_relay_fn relay) {
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			relay(subs[j], packet);
}

/* One send_pli per PLI received: a plugin that passes every keyframe
 * request on, with no parsing and no throttle. */
void floor_pli(void *pub, int k, long n, ps_pli_fn send) {
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			send(pub);
}

void floor_data(void *const *others, int k, void *packet, long n, ps_relay_fn relay) {
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			relay(others[j], packet);
}

/* ---- the alternatives: the plugin's relay step under other read sides ---- */

static pthread_rwlock_t global_rw = PTHREAD_RWLOCK_INITIALIZER;
static ps_relay_fn alt_relay;

void alt_set_relay(ps_relay_fn relay) { alt_relay = relay; }

/* janus_plugin_session: gateway_handle, then plugin_handle. */
static inline alt_session *alt_of(void *h) {
	if (__builtin_expect(h == NULL, 0))
		return NULL;
	alt_session *s = __atomic_load_n((alt_session **)((char *)h + sizeof(void *)), __ATOMIC_ACQUIRE);
	if (__builtin_expect(s == NULL || atomic_load_explicit(&s->dead, memory_order_relaxed), 0))
		return NULL;
	return s;
}

static inline void bump(_Atomic uint64_t *c, uint64_t by) {
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by, memory_order_relaxed);
}

/* As the plugin's fast path: counters before the loop, the loop alone. */
static inline void alt_relay_all(alt_session *s, void *packet) {
	alt_routes *r = atomic_load_explicit(&s->routes, memory_order_acquire);
	bump(&s->rtp_in, 1);
	if (!r)
		return;
	bump(&s->rtp_out, r->n);
	ps_relay_fn relay = alt_relay;
	for (void *const *it = r->items, *const *end = it + r->n; it < end; it++)
		relay(*it, packet);
}

/* No read-side protection at all: unsafe, the cost of call and lookup. */
void alt_nosync_incoming_rtp(void *h, void *packet) {
	alt_session *s = alt_of(h);
	if (s && packet)
		alt_relay_all(s, packet);
}

/* One process-wide read lock per packet: the Rust plugin's shape. */
void alt_rwlock_incoming_rtp(void *h, void *packet) {
	pthread_rwlock_rdlock(&global_rw);
	alt_session *s = alt_of(h);
	if (s && packet)
		alt_relay_all(s, packet);
	pthread_rwlock_unlock(&global_rw);
}

/* A per-session reference count taken and dropped per packet (Arc). */
void alt_atomic_incoming_rtp(void *h, void *packet) {
	alt_session *s = alt_of(h);
	if (s && packet) {
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_acquire);
		alt_relay_all(s, packet);
		atomic_fetch_sub_explicit(&s->refs, 1, memory_order_release);
	}
}
