/*
 * RFC 6464 audio levels from an RTP packet's header extension block
 * (RFC 8285, one-byte and two-byte forms). The relay path reads it for
 * publishers that negotiated the extension; it is inline because it runs
 * per audio packet, and walks only inside the packet's bytes.
 */
#ifndef SFU_AUDIOLEVEL_H
#define SFU_AUDIOLEVEL_H

#include <stddef.h>
#include <stdint.h>

#define CJ_RTP_EXT_ONE_BYTE 0xbedeu  /* RFC 8285 4.2 */
#define CJ_RTP_EXT_TWO_BYTE 0x1000u  /* RFC 8285 4.3: 0x100, then 4 app bits */
#define CJ_RTP_EXT_ID_STOP 15        /* one-byte form: stop parsing here */

/* The level (0 = loudest .. 127 = silence) of element ext_id in the RTP
 * packet buf[0..len), or -1 when the packet carries none: no extension
 * bit, another element id, an element without data, or a block that is
 * cut short (the walk stops at the first element that does not fit). */
static inline int rtp_audio_level(const uint8_t *buf, int len, int ext_id) {
	if (buf == NULL || len < 12 || (buf[0] & 0xd0) != 0x90) /* version 2, X set */
		return -1;
	int off = 12 + (buf[0] & 0x0f) * 4; /* past the CSRCs */
	if (len - off < 4)
		return -1;
	unsigned profile = (unsigned)buf[off] << 8 | buf[off + 1];
	int block = ((int)buf[off + 2] << 8 | buf[off + 3]) * 4;
	const uint8_t *p = buf + off + 4;
	if (block > len - off - 4)
		return -1;
	const uint8_t *end = p + block;
	if (profile == CJ_RTP_EXT_ONE_BYTE) {
		/* ID(4) L(4), then L+1 data bytes; a 0 byte is padding. */
		while (p < end) {
			int id = *p >> 4;
			if (id == 0) {
				p++;
				continue;
			}
			if (id == CJ_RTP_EXT_ID_STOP)
				break;
			int n = (*p & 0x0f) + 1;
			if (n > end - p - 1)
				break;
			if (id == ext_id)
				return p[1] & 0x7f;
			p += 1 + n;
		}
	} else if ((profile & 0xfff0u) == CJ_RTP_EXT_TWO_BYTE) {
		/* ID(8) L(8), then L data bytes (L may be 0); a 0 byte is padding. */
		while (p < end) {
			int id = *p;
			if (id == 0) {
				p++;
				continue;
			}
			if (end - p < 2)
				break;
			int n = p[1];
			if (n > end - p - 2)
				break;
			if (id == ext_id)
				return n > 0 ? p[2] & 0x7f : -1;
			p += 2 + n;
		}
	}
	return -1;
}

/* Out of line in audiolevel.c, for tests and the fuzzer. */
int cj_rtp_audio_level(const uint8_t *buf, int len, int ext_id);

#endif
