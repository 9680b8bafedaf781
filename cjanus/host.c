/*
 * Everything that touches the host at load time and on the control path:
 * ABI detection, the two janus_plugin tables, jansson conversion
 * and the C wrappers around the Go control-path callbacks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <glib.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h"
#include "events.h"
#include "host.h"
#include "log.h"
#include "rcu.h"
#include "relay.h"

#define SFU_NAME "Janus SFU plugin (Go)"
#define SFU_DESCRIPTION "Janus SFU for game networking: rooms, data channels and audio/video relay for networked-aframe."
#define SFU_AUTHOR "janus-plugin-sfu-go contributors"
#define SFU_VERSION 2 /* get_version when the build's version is no vX.Y.Z tag */

cj_gateway cj_gw;

/* ---- metadata ---- */

static int get_api_compatibility(void) { return cj_gw.api; }
/* The build's version (cjanus.Version), read once in cj_create. */
static int version_number = SFU_VERSION;
static const char *version_string = "dev";
static int get_version(void) { return version_number; }
static const char *get_version_string(void) { return version_string; }
static const char *get_description(void) { return SFU_DESCRIPTION; }
static const char *get_name(void) { return SFU_NAME; }
static const char *get_author(void) { return SFU_AUTHOR; }
static const char *get_package(void) { return CJ_PACKAGE; }

/* ---- control-path wrappers ---- */

static int cj_init(void *callbacks, const char *config_path) {
	if (callbacks == NULL || config_path == NULL) {
		cj_log(CJ_LOG_ERR, "init: missing callbacks or config path");
		return -1;
	}
	/* Same field names in both layouts, different offsets after send_pli.
	 * send_pli itself is not taken: relay.c sends its PLIs with relay_rtcp. */
#define TAKE_CALLBACKS(cb) do { \
		cj_gw.push_event = (cb)->push_event; \
		cj_gw.relay_rtp = (cb)->relay_rtp; \
		cj_gw.relay_rtcp = (cb)->relay_rtcp; \
		cj_gw.relay_data = (cb)->relay_data; \
		cj_gw.close_pc = (cb)->close_pc; \
		cj_gw.end_session = (cb)->end_session; \
		cj_events_take((cb)->events_is_enabled, (cb)->notify_event); \
	} while (0)
	if (cj_gw.abi == 1)
		TAKE_CALLBACKS((sfu_callbacks_v1 *)callbacks);
	else
		TAKE_CALLBACKS((sfu_callbacks_v0 *)callbacks);
#undef TAKE_CALLBACKS
	if (!cj_gw.push_event || !cj_gw.relay_rtp || !cj_gw.relay_rtcp || !cj_gw.relay_data ||
			!cj_gw.close_pc || !cj_gw.end_session) {
		cj_log(CJ_LOG_ERR, "init: the gateway left a required callback empty");
		return -1;
	}
	int membarrier = cj_rcu_init();
	cj_logf(CJ_LOG_INFO, "relay grace periods use %s", membarrier ? "membarrier(2)" : "reader fences (membarrier unavailable)");
	return cjGoInit((char *)config_path);
}

static void cj_destroy(void) {
	cjGoDestroy();
	cj_clock_stop();
}

static void cj_create_session(sfu_plugin_session *h, int *error) {
	int err = cjGoCreateSession(h);
	if (error)
		*error = err;
}

static sfu_plugin_result *result_new(int type, const char *text) {
	sfu_plugin_result *r = g_malloc0(sizeof(*r));
	r->type = type;
	r->text = text;
	return r;
}

static sfu_plugin_result *cj_handle_message(sfu_plugin_session *h, char *transaction, json_t *message, json_t *jsep) {
	uint64_t id = cj_session_id_hold(h);
	sfu_plugin_result *res;
	if (id == 0) {
		cj_log(CJ_LOG_WARN, "message for a handle we do not know (destroyed?); discarding");
		res = result_new(SFU_RESULT_ERROR, "No handle associated with message!");
	} else {
		char *m = message ? json_dumps(message, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		char *j = jsep ? json_dumps(jsep, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		cjGoHandleMessage(id, transaction, m, m ? strlen(m) : 0, j, j ? strlen(j) : 0);
		free(m);
		free(j);
		res = result_new(SFU_RESULT_OK_WAIT, "Processing.");
	}
	/* Janus hands us the message, the jsep and the transaction copy. */
	if (message)
		json_decref(message);
	if (jsep)
		json_decref(jsep);
	g_free(transaction);
	return res;
}

static json_t *json_from_go(char *s) {
	json_t *out = NULL;
	if (s) {
		out = json_loads(s, 0, NULL);
		free(s);
	}
	return out ? out : json_object();
}

static json_t *cj_handle_admin_message(json_t *message) {
	char *m = message ? json_dumps(message, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *out = cjGoAdminMessage(m, m ? strlen(m) : 0);
	free(m);
	return json_from_go(out);
}

static void cj_setup_media(sfu_plugin_session *h) {
	uint64_t id = cj_session_id_hold(h);
	if (id)
		cjGoSetupMedia(id);
}

static void cj_hangup_media(sfu_plugin_session *h) {
	uint64_t id = cj_session_id_hold(h);
	if (id)
		cjGoHangupMedia(id);
}

static void cj_destroy_session(sfu_plugin_session *h, int *error) {
	uint64_t id = cj_session_id_hold(h);
	if (id == 0) {
		if (error)
			*error = -2;
		return;
	}
	cjGoDestroySession(id);
	if (error)
		*error = 0;
}

static json_t *cj_query_session(sfu_plugin_session *h) {
	uint64_t id = cj_session_id_hold(h);
	if (id == 0)
		return json_object();
	return json_from_go(cjGoQuerySession(id));
}

static void cj_data_ready(sfu_plugin_session *h) {
	(void)h; /* we do not buffer data-channel messages */
}

static void cj_slow_link_v0(sfu_plugin_session *h, int uplink, int video) {
	uint64_t id = cj_session_id_hold(h);
	if (id)
		cjGoSlowLink(id, -1, video, uplink);
}

static void cj_slow_link_v1(sfu_plugin_session *h, int mindex, int video, int uplink) {
	uint64_t id = cj_session_id_hold(h);
	if (id)
		cjGoSlowLink(id, mindex, video, uplink);
}

/* ---- the plugin tables ---- */

#define COMMON_SLOTS \
	.init = cj_init, \
	.destroy = cj_destroy, \
	.get_api_compatibility = get_api_compatibility, \
	.get_version = get_version, \
	.get_version_string = get_version_string, \
	.get_description = get_description, \
	.get_name = get_name, \
	.get_author = get_author, \
	.get_package = get_package, \
	.create_session = cj_create_session, \
	.handle_message = cj_handle_message, \
	.handle_admin_message = cj_handle_admin_message, \
	.setup_media = cj_setup_media, \
	.incoming_data = cj_incoming_data, \
	.data_ready = cj_data_ready, \
	.hangup_media = cj_hangup_media, \
	.destroy_session = cj_destroy_session, \
	.query_session = cj_query_session

static sfu_plugin_v0 plugin_v0 = {
	COMMON_SLOTS,
	.incoming_rtp = cj_incoming_rtp_v0,
	.incoming_rtcp = cj_incoming_rtcp_v0,
	.slow_link = cj_slow_link_v0,
};

static sfu_plugin_v1 plugin_v1 = {
	COMMON_SLOTS,
	.incoming_rtp = cj_incoming_rtp_v1,
	.incoming_rtcp = cj_incoming_rtcp_v1,
	.slow_link = cj_slow_link_v1,
};

int cj_selected_abi(void) {
	return cj_gw.abi;
}

void *cj_create(void) {
	cj_log_bind();
	int *version = dlsym(RTLD_DEFAULT, "janus_version");
	if (version == NULL) {
		cj_log(CJ_LOG_ERR, "the host exports no janus_version symbol; refusing to guess its plugin ABI");
		return NULL;
	}
	int v = *version;
	cj_gw.janus_version = v;
	/* Janus asks for the version right after create, before init. */
	int n = 0;
	char *ours = cjGoVersion(&n);
	if (ours)
		version_string = ours; /* kept for the process's life */
	if (n > 0)
		version_number = n;
	if (v >= 120 && v < 1000) {
		/* 0.x: plugin API 17..20 share every layout we touch. */
		cj_gw.abi = 0;
		cj_gw.api = v >= 151 ? SFU_API_V0_HIGH : SFU_API_V0_LOW;
		cj_gw.plugin = &plugin_v0;
	} else if (v >= 1000 && v < 2000) {
		cj_gw.abi = 1;
		cj_gw.api = SFU_API_V1;
		cj_gw.plugin = &plugin_v1;
	} else {
		cj_logf(CJ_LOG_ERR, "unsupported Janus version %d (supported: 0.12-0.16 and 1.x); not loading", v);
		return NULL;
	}
	cj_logf(CJ_LOG_INFO, "Janus %d detected: using the %s plugin ABI (API %d); plugin version %s", v, cj_gw.abi ? "1.x" : "0.x", cj_gw.api, version_string);
	return cj_gw.plugin;
}

/* ---- calls into Janus from Go ---- */

int cj_push_event(cj_session *s, const char *transaction, const char *body, size_t body_len, const char *jsep, size_t jsep_len) {
	json_error_t err;
	json_t *b = json_loadb(body, body_len, 0, &err);
	if (b == NULL) {
		cj_logf(CJ_LOG_ERR, "push_event: bad body JSON: %s", err.text);
		return -1;
	}
	json_t *j = NULL;
	if (jsep && jsep_len) {
		j = json_loadb(jsep, jsep_len, 0, &err);
		if (j == NULL) {
			json_decref(b);
			cj_logf(CJ_LOG_ERR, "push_event: bad jsep JSON: %s", err.text);
			return -1;
		}
	}
	int rc = cj_gw.push_event(s->handle, cj_gw.plugin, transaction, b, j);
	/* push_event takes its own references. */
	json_decref(b);
	if (j)
		json_decref(j);
	return rc;
}

void cj_end_session(cj_session *s) {
	cj_gw.end_session(s->handle);
}

void cj_close_pc(cj_session *s) {
	cj_gw.close_pc(s->handle);
}
