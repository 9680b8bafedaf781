/*
 * Our own declarations of the Janus plugin ABI, written from the documented
 * layouts of Janus 0.x (plugin API 19/20) and 1.x (plugin API 100+).
 *
 * Nothing here includes Janus headers: one .so serves both ABIs, so both
 * layouts must be visible at once. test/abi/layout_check.c compares the 1.x
 * half with Debian's janus-dev headers field by field.
 *
 * Fields we never touch keep their slot (so offsets stay right) but are typed
 * loosely.
 */
#ifndef SFU_ABI_H
#define SFU_ABI_H

#include <stdint.h>

typedef struct json_t json_t;

/* janus_refcount: gint count, then the free function. */
typedef struct sfu_refcount {
	volatile int count;
	void (*free)(const struct sfu_refcount *);
} sfu_refcount;

/* janus_plugin_session: identical in 0.x and 1.x. */
typedef struct sfu_plugin_session {
	void *gateway_handle;
	void *plugin_handle;
	volatile int stopped;
	sfu_refcount ref;
} sfu_plugin_session;

/* janus_plugin_rtp / janus_plugin_rtcp in 0.x: no mindex. The RTP
 * extensions struct follows `length`; we only read up to `length`. */
typedef struct sfu_rtp_v0 {
	int video;
	char *buffer;
	uint16_t length;
} sfu_rtp_v0;

typedef struct sfu_rtcp_v0 {
	int video;
	char *buffer;
	uint16_t length;
} sfu_rtcp_v0;

/* 1.x (API 100+) puts `int mindex` first. */
typedef struct sfu_rtp_v1 {
	int mindex;
	int video;
	char *buffer;
	uint16_t length;
} sfu_rtp_v1;

typedef struct sfu_rtcp_v1 {
	int mindex;
	int video;
	char *buffer;
	uint16_t length;
} sfu_rtcp_v1;

/* janus_plugin_data: identical in API 19+ and 1.x. */
typedef struct sfu_data {
	char *label;
	char *protocol;
	int binary;
	char *buffer;
	uint16_t length;
} sfu_data;

/* janus_plugin_result. */
typedef struct sfu_plugin_result {
	int type; /* -1 error, 0 ok, 1 ok_wait */
	const char *text;
	json_t *content;
} sfu_plugin_result;

#define SFU_RESULT_ERROR   -1
#define SFU_RESULT_OK       0
#define SFU_RESULT_OK_WAIT  1

struct sfu_plugin;

#define SFU_CALLBACKS_HEAD \
	int (*push_event)(sfu_plugin_session *h, struct sfu_plugin *p, const char *transaction, json_t *message, json_t *jsep); \
	void (*relay_rtp)(sfu_plugin_session *h, void *packet); \
	void (*relay_rtcp)(sfu_plugin_session *h, void *packet); \
	void (*relay_data)(sfu_plugin_session *h, sfu_data *packet); \
	void (*send_pli)(sfu_plugin_session *h);

#define SFU_CALLBACKS_TAIL \
	void (*send_remb)(sfu_plugin_session *h, uint32_t bitrate); \
	void (*close_pc)(sfu_plugin_session *h); \
	void (*end_session)(sfu_plugin_session *h); \
	int (*events_is_enabled)(void); \
	void (*notify_event)(struct sfu_plugin *p, sfu_plugin_session *h, json_t *event); \
	int (*auth_is_signed)(void); \
	int (*auth_is_signature_valid)(struct sfu_plugin *p, const char *token); \
	int (*auth_signature_contains)(struct sfu_plugin *p, const char *token, const char *descriptor);

/* janus_callbacks, 0.x (API 19/20). */
typedef struct sfu_callbacks_v0 {
	SFU_CALLBACKS_HEAD
	SFU_CALLBACKS_TAIL
} sfu_callbacks_v0;

/* janus_callbacks, 1.x: send_pli_stream right after send_pli. */
typedef struct sfu_callbacks_v1 {
	SFU_CALLBACKS_HEAD
	void (*send_pli_stream)(sfu_plugin_session *h, int mindex);
	SFU_CALLBACKS_TAIL
} sfu_callbacks_v1;

/* janus_plugin: the same slots in both ABIs; only slow_link's arguments
 * differ (0.x: uplink, video; 1.x: mindex, video, uplink), so the slot is
 * typed per ABI. */
#define SFU_PLUGIN_FIELDS(SLOW_LINK_ARGS) \
	int (*init)(void *callbacks, const char *config_path); \
	void (*destroy)(void); \
	int (*get_api_compatibility)(void); \
	int (*get_version)(void); \
	const char *(*get_version_string)(void); \
	const char *(*get_description)(void); \
	const char *(*get_name)(void); \
	const char *(*get_author)(void); \
	const char *(*get_package)(void); \
	void (*create_session)(sfu_plugin_session *h, int *error); \
	sfu_plugin_result *(*handle_message)(sfu_plugin_session *h, char *transaction, json_t *message, json_t *jsep); \
	json_t *(*handle_admin_message)(json_t *message); \
	void (*setup_media)(sfu_plugin_session *h); \
	void (*incoming_rtp)(sfu_plugin_session *h, void *packet); \
	void (*incoming_rtcp)(sfu_plugin_session *h, void *packet); \
	void (*incoming_data)(sfu_plugin_session *h, sfu_data *packet); \
	void (*data_ready)(sfu_plugin_session *h); \
	void (*slow_link) SLOW_LINK_ARGS; \
	void (*hangup_media)(sfu_plugin_session *h); \
	void (*destroy_session)(sfu_plugin_session *h, int *error); \
	json_t *(*query_session)(sfu_plugin_session *h);

typedef struct sfu_plugin {
	SFU_PLUGIN_FIELDS((sfu_plugin_session *h, int uplink, int video))
} sfu_plugin_v0;

typedef struct sfu_plugin_v1 {
	SFU_PLUGIN_FIELDS((sfu_plugin_session *h, int mindex, int video, int uplink))
} sfu_plugin_v1;

/* Plugin API versions we report. Janus refuses a plugin whose API is lower
 * than its own and never checks for higher, so each family reports the
 * newest API whose layout it matches. */
#define SFU_API_V0_LOW  19  /* Janus 0.12..0.15.0 (API 17..19, same layouts) */
#define SFU_API_V0_HIGH 20  /* Janus 0.15.1..0.16.x (API 20) */
#define SFU_API_V1      106 /* Janus 1.x: API 100..106 share every layout we use */

#endif
