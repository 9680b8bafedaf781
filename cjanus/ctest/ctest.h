#ifndef SFU_CTEST_H
#define SFU_CTEST_H
#include <stddef.h>
#include "../core.h"
void *ctest_handle_new(void);
void ctest_handle_destroy(void *p);
long ctest_count(void *p, int what);
void ctest_install(int abi);
void ctest_rtp(void *h, int mindex);
void ctest_rtp_pt(void *h, int mindex, int pt);
void ctest_rtp_kind(void *h, int mindex, int video, int pt);
void ctest_rtcp(void *h, const void *buf, int len, int video);
void ctest_data(void *h);
void ctest_start_readers(void **pubs, int npubs, int nthreads);
long ctest_stop_readers(void);
#endif
