/*
 * Events to Janus's event handlers (events.h). Janus queues each event for
 * its handlers' thread, so notifying never blocks the caller.
 */
#include <jansson.h>
#include <stdio.h>

#include "events.h"
#include "host.h"
#include "log.h"

static int (*events_is_enabled_fn)(void);
static void (*notify_event_fn)(struct sfu_plugin *p, sfu_plugin_session *h, json_t *event);

void cj_events_take(int (*events_is_enabled)(void),
		void (*notify_event)(struct sfu_plugin *p, sfu_plugin_session *h, json_t *event)) {
	events_is_enabled_fn = events_is_enabled;
	notify_event_fn = notify_event;
}

int cj_events_enabled(void) {
	return events_is_enabled_fn != NULL && notify_event_fn != NULL && events_is_enabled_fn();
}

int cj_notify_event(cj_session *s, const char *event, size_t len) {
	if (!cj_events_enabled())
		return 0;
	json_error_t err;
	json_t *e = json_loadb(event, len, 0, &err);
	if (e == NULL || !json_is_object(e)) {
		/* Janus returns without releasing a non-object: never hand it one. */
		if (e)
			json_decref(e);
		char msg[256];
		snprintf(msg, sizeof(msg), "notify_event: not a JSON object: %s", e ? "wrong type" : err.text);
		cj_log(CJ_LOG_ERR, msg);
		return -1;
	}
	/* Janus takes our reference on every path (0.x and 1.x janus.c
	 * janus_plugin_notify_event): it drops it for a dead handle or when
	 * broadcasting is off, else its events thread releases it. */
	notify_event_fn(cj_gw.plugin, s ? s->handle : NULL, e);
	return 0;
}
