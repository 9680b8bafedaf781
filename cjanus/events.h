/*
 * Events for Janus's event handlers (sample, websockets, MQTT... handlers):
 * the plugin hands Janus a JSON object about a handle and Janus wraps it as
 * a type 64 ("plugin") event.
 */
#ifndef CJ_EVENTS_H
#define CJ_EVENTS_H

#include <stddef.h>
#include "relay.h"

/* Keeps the gateway's two event callbacks (either may be NULL); init calls
 * it with the slots of the host's ABI. */
void cj_events_take(int (*events_is_enabled)(void),
	void (*notify_event)(struct sfu_plugin *p, sfu_plugin_session *h, json_t *event));

/* Whether Janus broadcasts events to handlers (events: broadcast = true). */
int cj_events_enabled(void);

/* Sends the JSON object event (len bytes) about s, or about no handle when
 * s is NULL. Returns 0 when sent or events are off, -1 for bad JSON. */
int cj_notify_event(cj_session *s, const char *event, size_t len);

#endif
