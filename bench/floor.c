/*
 * The floor, in a shared object of its own: the least any plugin can do per
 * packet. It is dlopened like a plugin because every plugin is one: its
 * calls to relay_rtp, send_pli and relay_data cross from a dlopened object
 * into the Janus executable, tens of terabytes of address space away, and on
 * the CPUs measured here an indirect call that far costs more than the same
 * call within one module (BENCHMARKS.md, "Where the floor lives"). A loop
 * compiled into the harness would be a floor no plugin can reach.
 *
 * Built with the harness's flags; no per-packet call into this object,
 * no lookup, no synchronisation: just the copies.
 */
#include <stdint.h>

typedef void (*floor_relay_fn)(void *h, void *packet);
typedef void (*floor_pli_fn)(void *h);

void floor_rtp(void *const *subs, int k, void *packet, long n, floor_relay_fn relay);
void floor_pli(void *pub, int k, long n, floor_pli_fn send);
void floor_data(void *const *others, int k, void *packet, long n, floor_relay_fn relay);

/* k relay_rtp calls per incoming packet, from a plain array. */
void floor_rtp(void *const *subs, int k, void *packet, long n, floor_relay_fn relay) {
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			relay(subs[j], packet);
}

/* One send_pli per PLI received: a plugin that passes every keyframe
 * request on, with no parsing and no throttle. */
void floor_pli(void *pub, int k, long n, floor_pli_fn send) {
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			send(pub);
}

void floor_data(void *const *others, int k, void *packet, long n, floor_relay_fn relay) {
	for (long i = 0; i < n; i++)
		for (int j = 0; j < k; j++)
			relay(others[j], packet);
}
