/* A fake Janus for cjanus's tests: counting gateway callbacks, handles, and
 * reader threads that hammer the hot path. Linked only into test binaries. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ctest.h"

typedef struct ctest_handle {
	sfu_plugin_session s; /* first: the pointer Janus would pass */
	_Atomic long rtp, rtcp, data, pli;
	_Atomic int last_mindex, last_rtcp_mindex;
	_Atomic int last_pt;
	_Atomic int freed;
} ctest_handle;

static void handle_free(const sfu_refcount *r) {
	ctest_handle *h = (ctest_handle *)((char *)r - offsetof(sfu_plugin_session, ref));
	atomic_store(&h->freed, 1);
}

static void poisoned_free(const sfu_refcount *r) {
	(void)r;
	abort(); /* the plugin released a refcount Janus had not set up yet */
}

/* As Janus's g_malloc leaves it for create_session: refcount not set up. */
void *ctest_handle_new(void) {
	ctest_handle *h = calloc(1, sizeof(*h));
	h->s.ref.count = CTEST_REF_POISON;
	h->s.ref.free = poisoned_free;
	return h;
}

/* What Janus does once create_session returned: janus_refcount_init and
 * the increase that is the plugin's reference (ice.c, "Handle and plugin
 * session reference each other"). */
void ctest_handle_init(void *p) {
	ctest_handle *h = p;
	h->s.ref.count = 2;
	h->s.ref.free = handle_free;
}

/* What every Janus call into the plugin after create_session starts with. */
uint64_t ctest_control_call(void *p) {
	return cj_session_id_hold(p);
}

void ctest_handle_destroy(void *p) { free(p); }

long ctest_count(void *p, ctest_counter what) {
	ctest_handle *h = p;
	switch (what) {
	case CTEST_RTP: return atomic_load(&h->rtp);
	case CTEST_RTCP: return atomic_load(&h->rtcp);
	case CTEST_DATA: return atomic_load(&h->data);
	case CTEST_PLI: return atomic_load(&h->pli);
	case CTEST_LAST_MINDEX: return atomic_load(&h->last_mindex);
	case CTEST_REF_COUNT: return h->s.ref.count;
	case CTEST_FREED: return atomic_load(&h->freed);
	case CTEST_LAST_PT: return atomic_load(&h->last_pt);
	case CTEST_LAST_RTCP_MINDEX: return atomic_load(&h->last_rtcp_mindex);
	}
	return -1;
}

static int abi;

static void relay_rtp(sfu_plugin_session *s, void *pkt) {
	ctest_handle *h = (ctest_handle *)s;
	atomic_fetch_add(&h->rtp, 1);
	char *buf = abi == 1 ? ((sfu_rtp_v1 *)pkt)->buffer : ((sfu_rtp_v0 *)pkt)->buffer;
	atomic_store(&h->last_pt, buf[1] & 0x7f);
	if (abi == 1)
		atomic_store(&h->last_mindex, ((sfu_rtp_v1 *)pkt)->mindex);
}
/* A PLI (PT 206, FMT 1) is what the plugin sends for a keyframe; it is
 * counted apart from the RTCP it relays. */
static void relay_rtcp(sfu_plugin_session *s, void *pkt) {
	ctest_handle *h = (ctest_handle *)s;
	const unsigned char *buf = (const unsigned char *)(abi == 1 ? ((sfu_rtcp_v1 *)pkt)->buffer : ((sfu_rtcp_v0 *)pkt)->buffer);
	atomic_fetch_add(buf[1] == 206 && (buf[0] & 0x1f) == 1 ? &h->pli : &h->rtcp, 1);
	if (abi == 1)
		atomic_store(&h->last_rtcp_mindex, ((sfu_rtcp_v1 *)pkt)->mindex);
}
static void relay_data(sfu_plugin_session *s, sfu_data *pkt) {
	(void)pkt;
	atomic_fetch_add(&((ctest_handle *)s)->data, 1);
}
static void nothing(sfu_plugin_session *s) { (void)s; }

void ctest_install(int which_abi) {
	abi = which_abi;
	cj_gw.abi = which_abi;
	cj_gw.relay_rtp = relay_rtp;
	cj_gw.relay_rtcp = relay_rtcp;
	cj_gw.relay_data = relay_data;
	cj_gw.close_pc = nothing;
	cj_gw.end_session = nothing;
	cj_debug_poison = 1;
	cj_rcu_init();
}

void ctest_rtp(void *h, int mindex) {
	ctest_rtp_pt(h, mindex, 111);
}

void ctest_rtp_pt(void *h, int mindex, int pt) {
	ctest_rtp_kind(h, mindex, 0, pt);
}

/* As Janus does: a fresh janus_plugin_rtp per packet on the stack, and the
 * RTP header put back after the call ("plugins may have messed with it"). */
void ctest_rtp_kind(void *h, int mindex, int video, int pt) {
	char buf[12] = {(char)0x80, (char)(0x80 | pt)}; /* marker set */
	char backup[12];
	memcpy(backup, buf, sizeof(buf));
	if (abi == 1) {
		sfu_rtp_v1 p = {.mindex = mindex, .video = video, .buffer = buf, .length = sizeof(buf)};
		cj_incoming_rtp_v1(h, &p);
	} else {
		sfu_rtp_v0 p = {.video = video, .buffer = buf, .length = sizeof(buf)};
		cj_incoming_rtp_v0(h, &p);
	}
	/* Only the payload-type byte may have changed, keeping the marker. */
	if (memcmp(buf, backup, 1) != 0 || memcmp(buf + 2, backup + 2, sizeof(buf) - 2) != 0 || (buf[1] & 0x80) != (backup[1] & 0x80))
		abort();
	memcpy(buf, backup, sizeof(buf));
}

/* A packet of the caller's bytes (which the plugin may rewrite). */
void ctest_rtp_bytes(void *h, int mindex, int video, const void *buf, int len) {
	if (abi == 1) {
		sfu_rtp_v1 p = {.mindex = mindex, .video = video, .buffer = (char *)buf, .length = (uint16_t)len};
		cj_incoming_rtp_v1(h, &p);
	} else {
		sfu_rtp_v0 p = {.video = video, .buffer = (char *)buf, .length = (uint16_t)len};
		cj_incoming_rtp_v0(h, &p);
	}
}

void ctest_rtcp(void *h, const void *buf, int len, int video) {
	ctest_rtcp_on(h, 1, buf, len, video);
}

/* RTCP arriving on m-line mindex (1.x; 0.x has none). */
void ctest_rtcp_on(void *h, int mindex, const void *buf, int len, int video) {
	if (abi == 1) {
		sfu_rtcp_v1 p = {.mindex = mindex, .video = video, .buffer = (char *)buf, .length = (uint16_t)len};
		cj_incoming_rtcp_v1(h, &p);
	} else {
		sfu_rtcp_v0 p = {.video = video, .buffer = (char *)buf, .length = (uint16_t)len};
		cj_incoming_rtcp_v0(h, &p);
	}
}

void ctest_data(void *h) {
	sfu_data d = {.label = "reliable", .buffer = "x", .length = 1};
	cj_incoming_data(h, &d);
}

/* Reader threads relaying from a set of publishers until told to stop. */
static _Atomic int stop;
static pthread_t threads[16];
static int nthreads;
static void **pubs;
static int npubs;
static _Atomic long calls;

static void *reader(void *arg) {
	long i = (long)arg, n = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		/* Publisher m-lines 0 and 3: both must leave with -1. */
		ctest_rtp(pubs[(i + n) % npubs], (n & 1) ? 3 : 0);
		n++;
	}
	atomic_fetch_add(&calls, n);
	return NULL;
}

void ctest_start_readers(void **p, int np, int nt) {
	pubs = malloc(sizeof(void *) * np);
	memcpy(pubs, p, sizeof(void *) * np);
	npubs = np;
	nthreads = nt > 16 ? 16 : nt;
	atomic_store(&stop, 0);
	atomic_store(&calls, 0);
	for (long i = 0; i < nthreads; i++)
		pthread_create(&threads[i], NULL, reader, (void *)i);
}

long ctest_stop_readers(void) {
	atomic_store(&stop, 1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(pubs);
	return atomic_load(&calls);
}

int ctest_epoch_fenced(void) {
	return (atomic_load(&cj_rcu_epoch) & CJ_RCU_FENCED) != 0;
}
