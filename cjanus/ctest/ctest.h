#ifndef SFU_CTEST_H
#define SFU_CTEST_H
#include <stddef.h>
#include <stdint.h>
#include "../core.h"
/* What ctest_count reads, by name on both sides of cgo. */
typedef enum ctest_counter {
	CTEST_RTP,         /* relay_rtp calls to this handle */
	CTEST_RTCP,        /* relay_rtcp calls other than PLIs */
	CTEST_DATA,        /* relay_data calls */
	CTEST_PLI,         /* PLIs sent with relay_rtcp */
	CTEST_LAST_MINDEX, /* mindex of the last relay_rtp (1.x) */
	CTEST_REF_COUNT,   /* the handle's refcount */
	CTEST_FREED,       /* 1 once ref.free ran */
	CTEST_LAST_PT,     /* payload type of the last relay_rtp */
	CTEST_LAST_RTCP_MINDEX, /* mindex of the last relay_rtcp (1.x) */
} ctest_counter;

/* The value a handle's refcount holds until ctest_handle_init: what
 * Janus's g_malloc leaves there before janus_refcount_init. */
#define CTEST_REF_POISON 0x5a5a5a5a

void *ctest_handle_new(void);
void ctest_handle_init(void *p);
void ctest_handle_destroy(void *p);
long ctest_count(void *p, ctest_counter what);
uint64_t ctest_control_call(void *p);
void ctest_install(int abi);
void ctest_rtp(void *h, int mindex);
void ctest_rtp_pt(void *h, int mindex, int pt);
void ctest_rtp_kind(void *h, int mindex, int video, int pt);
void ctest_rtp_bytes(void *h, int mindex, int video, const void *buf, int len);
void ctest_rtcp(void *h, const void *buf, int len, int video);
void ctest_rtcp_on(void *h, int mindex, const void *buf, int len, int video);
void ctest_data(void *h);
void ctest_start_readers(void **pubs, int npubs, int nthreads);
long ctest_stop_readers(void);
int ctest_epoch_fenced(void);
#endif
