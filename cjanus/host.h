/*
 * The host side (host.c): ABI detection, the janus_plugin tables, and the
 * gateway's callbacks normalised across the two ABIs, which init fills and
 * the hot path and Go call through.
 */
#ifndef CJ_HOST_H
#define CJ_HOST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

/* The plugin's package name: Janus's key for it, and our log prefix. */
#define CJ_PACKAGE "janus.plugin.sfu"

struct cj_session;

typedef struct cj_gateway {
	int abi;      /* 0 = Janus 0.x layout, 1 = Janus 1.x layout */
	int api;      /* plugin API we report */
	int janus_version;
	void *plugin; /* our janus_plugin struct, passed back in push_event */
	int (*push_event)(sfu_plugin_session *h, struct sfu_plugin *p, const char *transaction, json_t *message, json_t *jsep);
	void (*relay_rtp)(sfu_plugin_session *h, void *packet);
	void (*relay_rtcp)(sfu_plugin_session *h, void *packet);
	void (*relay_data)(sfu_plugin_session *h, sfu_data *packet);
	void (*close_pc)(sfu_plugin_session *h);
	void (*end_session)(sfu_plugin_session *h);
	_Atomic int64_t keyframe_interval_us;
	void *user; /* the Go Gateway, as a go-pointer token */
} cj_gateway;

extern cj_gateway cj_gw;

/* Plugin entry point, called by plugin/create(). */
void *cj_create(void);
int cj_selected_abi(void);

/* Control-path calls into Janus, for Go. */
int cj_push_event(struct cj_session *s, const char *transaction, const char *body, size_t body_len, const char *jsep, size_t jsep_len);
void cj_end_session(struct cj_session *s);
void cj_close_pc(struct cj_session *s);

#endif
