#include "audiolevel.h"

int cj_rtp_audio_level(const uint8_t *buf, int len, int ext_id) {
	return rtp_audio_level(buf, len, ext_id);
}
