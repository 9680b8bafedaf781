/*
 * fakejanus.h: what the fake Janus hosts (test/abi, the ABI harness, and
 * bench/, the relay benchmark) share: Janus's plugin ABI declared by hand
 * for both families, the callbacks every fake host answers the same way,
 * what Janus exports to plugins and does around create_session
 * (fakejanus.c), a canned Chrome offer and small helpers.
 *
 * It lives under test/ beside the harnesses, not in cjanus/: cjanus is what
 * ships in the .so, and this is a stand-in for the other side of the ABI,
 * written independently of it. Neither harness owns it, so neither reaches
 * into the other's folder.
 *
 * Every structure below is declared here, by hand, from the Janus headers'
 * documented layouts (0.x = plugin API 19/20, 1.x = API 100+). This header
 * deliberately does NOT include cjanus/abi.h or any Janus header: it is an
 * independent check of the plugin's own declarations.
 */
#ifndef FAKEJANUS_H
#define FAKEJANUS_H

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* Janus's ABI, declared by hand.                                      */

typedef struct h_refcount {
	volatile int count; /* gint */
	void (*free)(const struct h_refcount *);
} h_refcount;

/* janus_plugin_session: the same in 0.x and 1.x. */
typedef struct h_session {
	void *gateway_handle;
	void *plugin_handle;
	volatile int stopped; /* gint */
	h_refcount ref;
} h_session;

/* janus_plugin_rtp_extensions (1.1.x; 0.x has a prefix of it). The plugin
 * must never look at it: we fill it with a canary. */
typedef struct h_rtp_ext {
	int8_t audio_level;
	int audio_level_vad;
	int16_t video_rotation;
	int video_back_camera;
	int video_flipped;
	int16_t min_delay, max_delay;
	uint8_t dd_len;
	uint8_t dd_content[256];
} h_rtp_ext;

/* 0.x (API 19/20): no mindex. */
typedef struct h_rtp0 {
	int video;
	char *buffer;
	uint16_t length;
	h_rtp_ext extensions;
} h_rtp0;

typedef struct h_rtcp0 {
	int video;
	char *buffer;
	uint16_t length;
} h_rtcp0;

/* 1.x: int mindex first. */
typedef struct h_rtp1 {
	int mindex;
	int video;
	char *buffer;
	uint16_t length;
	h_rtp_ext extensions;
} h_rtp1;

typedef struct h_rtcp1 {
	int mindex;
	int video;
	char *buffer;
	uint16_t length;
} h_rtcp1;

typedef struct h_data {
	char *label;
	char *protocol;
	int binary; /* gboolean */
	char *buffer;
	uint16_t length;
} h_data;

typedef struct h_result {
	int type; /* -1 error, 0 ok, 1 ok_wait */
	const char *text;
	json_t *content;
} h_result;

struct h_plugin;

/* janus_callbacks, 0.x. */
typedef struct h_callbacks0 {
	int (*push_event)(h_session *h, struct h_plugin *p, const char *transaction, json_t *message, json_t *jsep);
	void (*relay_rtp)(h_session *h, void *packet);
	void (*relay_rtcp)(h_session *h, void *packet);
	void (*relay_data)(h_session *h, h_data *packet);
	void (*send_pli)(h_session *h);
	void (*send_remb)(h_session *h, uint32_t bitrate);
	void (*close_pc)(h_session *h);
	void (*end_session)(h_session *h);
	int (*events_is_enabled)(void);
	void (*notify_event)(struct h_plugin *p, h_session *h, json_t *event);
	int (*auth_is_signed)(void);
	int (*auth_is_signature_valid)(struct h_plugin *p, const char *token);
	int (*auth_signature_contains)(struct h_plugin *p, const char *token, const char *descriptor);
} h_callbacks0;

/* janus_callbacks, 1.x: send_pli_stream right after send_pli. */
typedef struct h_callbacks1 {
	int (*push_event)(h_session *h, struct h_plugin *p, const char *transaction, json_t *message, json_t *jsep);
	void (*relay_rtp)(h_session *h, void *packet);
	void (*relay_rtcp)(h_session *h, void *packet);
	void (*relay_data)(h_session *h, h_data *packet);
	void (*send_pli)(h_session *h);
	void (*send_pli_stream)(h_session *h, int mindex);
	void (*send_remb)(h_session *h, uint32_t bitrate);
	void (*close_pc)(h_session *h);
	void (*end_session)(h_session *h);
	int (*events_is_enabled)(void);
	void (*notify_event)(struct h_plugin *p, h_session *h, json_t *event);
	int (*auth_is_signed)(void);
	int (*auth_is_signature_valid)(struct h_plugin *p, const char *token);
	int (*auth_signature_contains)(struct h_plugin *p, const char *token, const char *descriptor);
} h_callbacks1;

/* janus_plugin: the same slots in 0.x and 1.x; slow_link's arguments
 * differ, so it is a void pointer here and cast per ABI. */
typedef struct h_plugin {
	int (*init)(void *callbacks, const char *config_path);
	void (*destroy)(void);
	int (*get_api_compatibility)(void);
	int (*get_version)(void);
	const char *(*get_version_string)(void);
	const char *(*get_description)(void);
	const char *(*get_name)(void);
	const char *(*get_author)(void);
	const char *(*get_package)(void);
	void (*create_session)(h_session *h, int *error);
	h_result *(*handle_message)(h_session *h, char *transaction, json_t *message, json_t *jsep);
	json_t *(*handle_admin_message)(json_t *message);
	void (*setup_media)(h_session *h);
	void (*incoming_rtp)(h_session *h, void *packet);
	void (*incoming_rtcp)(h_session *h, void *packet);
	void (*incoming_data)(h_session *h, h_data *packet);
	void (*data_ready)(h_session *h);
	void *slow_link;
	void (*hangup_media)(h_session *h);
	void (*destroy_session)(h_session *h, int *error);
	json_t *(*query_session)(h_session *h);
} h_plugin;

typedef void (*slow_link0_fn)(h_session *h, int uplink, int video);
typedef void (*slow_link1_fn)(h_session *h, int mindex, int video, int uplink);

/* ------------------------------------------------------------------ */
/* Gateway callbacks every fake host answers the same way: event
 * handlers are disabled and token authentication is off. */

static inline int fj_events_is_enabled(void) { return 0; }
static inline int fj_auth_is_signed(void) { return 0; }
static inline int fj_auth_is_signature_valid(struct h_plugin *p, const char *token) {
	(void)p;
	(void)token;
	return 0;
}
static inline int fj_auth_signature_contains(struct h_plugin *p, const char *token, const char *descriptor) {
	(void)p;
	(void)token;
	(void)descriptor;
	return 0;
}

/* The slots h_callbacks0 and h_callbacks1 have in common, as designated
 * initialisers: the host's own functions are named PFX##push_event,
 * PFX##relay_rtp, ... (e.g. FJ_CALLBACKS_COMMON(cb_) for cb_push_event).
 * An h_callbacks1 also needs .send_pli_stream. */
#define FJ_CALLBACKS_COMMON(PFX)                              \
	.push_event = PFX##push_event,                        \
	.relay_rtp = PFX##relay_rtp,                          \
	.relay_rtcp = PFX##relay_rtcp,                        \
	.relay_data = PFX##relay_data,                        \
	.send_pli = PFX##send_pli,                            \
	.send_remb = PFX##send_remb,                          \
	.close_pc = PFX##close_pc,                            \
	.end_session = PFX##end_session,                      \
	.events_is_enabled = fj_events_is_enabled,            \
	.notify_event = PFX##notify_event,                    \
	.auth_is_signed = fj_auth_is_signed,                  \
	.auth_is_signature_valid = fj_auth_is_signature_valid, \
	.auth_signature_contains = fj_auth_signature_contains

/* ------------------------------------------------------------------ */
/* What Janus exports to plugins, and does for them (fakejanus.c).     */

/* The plugin finds these with dlsym: the host links with -rdynamic. */
extern int janus_version;
extern int janus_log_level;
extern int janus_log_timestamps;
void janus_vprintf(const char *format, ...) __attribute__((format(printf, 1, 2)));
int fj_vprintf_calls(void);

/* dlopens lib and calls its create(); NULL with *err set on failure (*dl
 * is the handle, or NULL when dlopen failed). */
h_plugin *fj_load(const char *lib, void **dl, const char **err);

/* A temporary config folder holding janus.plugin.sfu.cfg with contents
 * (none if NULL), and its removal. */
char *fj_config_dir(const char *contents);
void fj_config_dir_remove(char *dir);

/* What ice.c's janus_ice_handle_attach_plugin does: g_malloc a
 * janus_plugin_session (here: the refcount poisoned, as uninitialised
 * memory would be, and a free function that flags any call), call
 * create_session, then janus_refcount_init(ref, free_fn) and one increase:
 * count 2, one reference for Janus's plugin_sessions map (dropped when the
 * handle is detached) and one Janus gives the plugin, which the plugin
 * must drop once it is done with the handle. On error Janus g_frees it;
 * the caller decides. Returns create_session's
 * error; *ref_touched (if given) says whether create_session wrote the
 * refcount before Janus set it up. */
#define FJ_REF_POISON 0x5a5a5a5a
int fj_create_session(h_plugin *p, h_session *h, void (*free_fn)(const h_refcount *), int *ref_touched);
/* How many times a poisoned refcount's free function ran. */
int fj_poisoned_frees(void);

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

static inline void sleep_ms(int ms) {
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A realistic Chrome offer: Opus/111, H.264 42e01f/102 packetization-mode=1,
 * and an SCTP data channel, bundled. */
static const char *const chrome_offer =
	"v=0\r\n"
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE 0 1 2\r\n"
	"a=extmap-allow-mixed\r\n"
	"a=msid-semantic: WMS stream0\r\n"
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\n"
	"a=ice-ufrag:4ZcD\r\n"
	"a=ice-pwd:2/1muCWoOi3uLifh0NuRHlD3\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 D6:2C:5A:5D:7A:2B:E7:2C:D8:6F:84:C6:3C:BF:0D:4B:2E:AF:6A:DF:65:51:D0:4C:90:CF:A4:5B:0C:D2:CF:73\r\n"
	"a=setup:actpass\r\n"
	"a=mid:0\r\n"
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
	"a=sendonly\r\n"
	"a=msid:stream0 audio0\r\n"
	"a=rtcp-mux\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=rtcp-fb:111 transport-cc\r\n"
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n"
	"a=rtpmap:63 red/48000/2\r\n"
	"a=fmtp:63 111/111\r\n"
	"a=rtpmap:9 G722/8000\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:13 CN/8000\r\n"
	"a=rtpmap:110 telephone-event/48000\r\n"
	"a=rtpmap:126 telephone-event/8000\r\n"
	"a=ssrc:1001 cname:abcdEFGHijklMNOP\r\n"
	"a=ssrc:1001 msid:stream0 audio0\r\n"
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 127 121\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\n"
	"a=ice-ufrag:4ZcD\r\n"
	"a=ice-pwd:2/1muCWoOi3uLifh0NuRHlD3\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 D6:2C:5A:5D:7A:2B:E7:2C:D8:6F:84:C6:3C:BF:0D:4B:2E:AF:6A:DF:65:51:D0:4C:90:CF:A4:5B:0C:D2:CF:73\r\n"
	"a=setup:actpass\r\n"
	"a=mid:1\r\n"
	"a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n"
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
	"a=extmap:13 urn:3gpp:video-orientation\r\n"
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
	"a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
	"a=sendonly\r\n"
	"a=msid:stream0 video0\r\n"
	"a=rtcp-mux\r\n"
	"a=rtcp-rsize\r\n"
	"a=rtpmap:96 VP8/90000\r\n"
	"a=rtcp-fb:96 goog-remb\r\n"
	"a=rtcp-fb:96 transport-cc\r\n"
	"a=rtcp-fb:96 ccm fir\r\n"
	"a=rtcp-fb:96 nack\r\n"
	"a=rtcp-fb:96 nack pli\r\n"
	"a=rtpmap:97 rtx/90000\r\n"
	"a=fmtp:97 apt=96\r\n"
	"a=rtpmap:102 H264/90000\r\n"
	"a=rtcp-fb:102 goog-remb\r\n"
	"a=rtcp-fb:102 transport-cc\r\n"
	"a=rtcp-fb:102 ccm fir\r\n"
	"a=rtcp-fb:102 nack\r\n"
	"a=rtcp-fb:102 nack pli\r\n"
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
	"a=rtpmap:103 rtx/90000\r\n"
	"a=fmtp:103 apt=102\r\n"
	"a=rtpmap:127 H264/90000\r\n"
	"a=rtcp-fb:127 goog-remb\r\n"
	"a=rtcp-fb:127 transport-cc\r\n"
	"a=rtcp-fb:127 ccm fir\r\n"
	"a=rtcp-fb:127 nack\r\n"
	"a=rtcp-fb:127 nack pli\r\n"
	"a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n"
	"a=rtpmap:121 rtx/90000\r\n"
	"a=fmtp:121 apt=127\r\n"
	"a=ssrc-group:FID 2001 2002\r\n"
	"a=ssrc:2001 cname:abcdEFGHijklMNOP\r\n"
	"a=ssrc:2001 msid:stream0 video0\r\n"
	"a=ssrc:2002 cname:abcdEFGHijklMNOP\r\n"
	"a=ssrc:2002 msid:stream0 video0\r\n"
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
	"c=IN IP4 0.0.0.0\r\n"
	"a=ice-ufrag:4ZcD\r\n"
	"a=ice-pwd:2/1muCWoOi3uLifh0NuRHlD3\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 D6:2C:5A:5D:7A:2B:E7:2C:D8:6F:84:C6:3C:BF:0D:4B:2E:AF:6A:DF:65:51:D0:4C:90:CF:A4:5B:0C:D2:CF:73\r\n"
	"a=setup:actpass\r\n"
	"a=mid:2\r\n"
	"a=sctp-port:5000\r\n"
	"a=max-message-size:262144\r\n";

#endif /* FAKEJANUS_H */
