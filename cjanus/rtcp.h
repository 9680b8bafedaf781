/*
 * RTCP inspection for the keyframe path. The walks go block by block by
 * the length words and stop at the first malformed block. Inline for the
 * hot path; relay.c has the out-of-line entry points (the storm path's
 * tail, the Go tests and the fuzzer call those).
 */
#ifndef CJ_RTCP_H
#define CJ_RTCP_H

#include <stdint.h>

/* Bits of a keyframe-request mask. */
#define CJ_RTCP_PLI 1
#define CJ_RTCP_FIR 2

/* A block's header word: V(2) P(1) FMT(5) | PT(8) | length in words - 1. */
static inline uint32_t cj_rtcp_word(const uint8_t *p) {
	return __builtin_bswap32(*(const uint32_t __attribute__((aligned(1), may_alias)) *)p);
}

/* PT 206 (payload-specific feedback) with FMT 1 is a PLI, with FMT 4 a
 * FIR; the padding bit is masked off. */
static inline int cj_rtcp_block_kind(uint32_t w) {
	uint32_t hdr = (w >> 16) & 0xdfff;
	return hdr == 0x81ce ? CJ_RTCP_PLI : hdr == 0x84ce ? CJ_RTCP_FIR : 0;
}

/* Which keyframe requests a (compound) packet holds, as a mask of
 * CJ_RTCP_*. */
static inline int cj_rtcp_walk_kind(const uint8_t *buf, int len) {
	int kind = 0;
	if (buf == NULL)
		return 0;
	for (const uint8_t *p = buf, *end = buf + len; end - p >= 4;) {
		uint32_t w = cj_rtcp_word(p);
		int size = (int)((w & 0xffff) + 1) * 4;
		if ((w >> 30) != 2 || size > end - p)
			break;
		kind |= cj_rtcp_block_kind(w);
		p += size;
	}
	return kind;
}

/* cj_rtcp_walk_kind out of line (noinline, relay.c). */
int cj_rtcp_keyframe_kind(const uint8_t *buf, int len);

/* Whether the packet holds a PLI or FIR, for the PLI storm path. The first
 * two blocks in straight-line code: a lone PLI (pion, Janus's own) and a
 * browser's RR + PLI are decided without a loop, whose registers and
 * branches are a large share of the storm path (BENCHMARKS.md, "PLI
 * storm"); longer compounds walk on out of line. */
static inline int cj_rtcp_wants_keyframe(const uint8_t *buf, int len) {
	if (buf == NULL || len < 4)
		return 0;
	uint32_t w = cj_rtcp_word(buf);
	int size = (int)((w & 0xffff) + 1) * 4;
	if ((w >> 30) != 2 || size > len)
		return 0;
	if (cj_rtcp_block_kind(w))
		return 1;
	if (len - size < 4)
		return 0;
	const uint8_t *p = buf + size;
	w = cj_rtcp_word(p);
	int size2 = (int)((w & 0xffff) + 1) * 4;
	if ((w >> 30) != 2 || size2 > len - size)
		return 0;
	if (cj_rtcp_block_kind(w))
		return 1;
	if (len - size - size2 < 4)
		return 0;
	return cj_rtcp_keyframe_kind(p + size2, len - size - size2) != 0;
}

/* cj_rtcp_wants_keyframe out of line (relay.c). */
int cj_rtcp_has_keyframe_request(const uint8_t *buf, int len);

#endif
