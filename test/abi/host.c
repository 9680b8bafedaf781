/*
 * abi-host: a tiny stand-in for Janus that loads libjanus_plugin_sfu.so and
 * drives it through the plugin ABI of one Janus version.
 *
 *   abi-host --janus-version 144|162|1102 --lib path/to/libjanus_plugin_sfu.so
 *   abi-host --janus-version 1102 --bad-config --lib ...
 *   abi-host --unknown-version 99 --lib ...
 *   abi-host --janus-version 144 --claim-version 1102 --lib ...
 *       harness self-test: the host uses one family's layouts but tells the
 *       plugin it is the other; the run must FAIL (proves the checks bite).
 *
 * Every structure is declared by hand in test/fakejanus/fakejanus.h (shared
 * with bench/), from the Janus headers' documented layouts (0.x =
 * plugin API 19/20, 1.x = API 100+). Neither file includes cjanus/abi.h: it
 * is an independent check of the plugin's own declarations. Output is TAP-like: `ok N - ...` /
 * `not ok N - ...`, then `N passed, M failed`; the exit status is non-zero
 * on any failure.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fakejanus.h"

/* ------------------------------------------------------------------ */
/* TAP.                                                                */

static int tap_n, tap_pass, tap_fail;

static int check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check(int cond, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	if (cond)
		tap_pass++;
	else
		tap_fail++;
	return cond;
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static int finish(void) {
	printf("%d passed, %d failed\n", tap_pass, tap_fail);
	fflush(stdout);
	return tap_fail ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Host state.                                                         */

static int abi1; /* 1 = Janus 1.x layouts */
static h_plugin *plugin;
static pthread_t main_thread;

#define MAX_SESSIONS 8
static h_session *sessions[MAX_SESSIONS];
static const char *session_names[MAX_SESSIONS];
static int nsessions;
static atomic_int foreign_handle_calls; /* callbacks with a handle we do not know */
static atomic_int freed_by_plugin;      /* ref.free called while we still held a ref */

static const char *name_of(h_session *h) {
	for (int i = 0; i < nsessions; i++)
		if (sessions[i] == h)
			return session_names[i];
	return NULL;
}

static int known(h_session *h) {
	if (name_of(h))
		return 1;
	atomic_fetch_add(&foreign_handle_calls, 1);
	return 0;
}

/* Our ref.free: marks the session freed (we keep the memory to inspect). */
typedef struct host_session {
	h_session s;
	atomic_int freed;
	atomic_int we_released;
} host_session;

static void session_free(const h_refcount *r) {
	host_session *hs = (host_session *)((char *)r - offsetof(h_session, ref));
	if (!atomic_load(&hs->we_released))
		atomic_fetch_add(&freed_by_plugin, 1);
	atomic_store(&hs->freed, 1);
}

static h_session *new_session(const char *name) {
	host_session *hs = calloc(1, sizeof(*hs));
	hs->s.gateway_handle = hs; /* any non-NULL opaque pointer */
	hs->s.ref.count = 1;
	hs->s.ref.free = session_free;
	sessions[nsessions] = &hs->s;
	session_names[nsessions] = name;
	nsessions++;
	return &hs->s;
}

/* ---- push_event: a queue of copies, with a condition variable. ---- */

typedef struct event {
	h_session *h;
	char *transaction; /* NULL when none */
	char *body;        /* json_dumps copy */
	char *jsep;        /* json_dumps copy or NULL */
	int on_main_thread;
	struct event *next;
} event;

static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static event *ev_head;
static int ev_total, ev_bad_plugin, ev_bad_refcount, ev_bad_body;

/* Bodies we keep an extra reference to, to check at the end that the plugin
 * dropped its own (refcount back to exactly 1: ours). */
#define MAX_KEPT 256
static json_t *kept[MAX_KEPT];
static int nkept;

static int cb_push_event(h_session *h, h_plugin *p, const char *transaction, json_t *message, json_t *jsep) {
	known(h);
	event *e = calloc(1, sizeof(*e));
	e->h = h;
	e->transaction = transaction ? strdup(transaction) : NULL;
	e->on_main_thread = pthread_equal(pthread_self(), main_thread);
	pthread_mutex_lock(&ev_mu);
	ev_total++;
	if (p != plugin)
		ev_bad_plugin++;
	if (message == NULL || !json_is_object(message))
		ev_bad_body++;
	/* The plugin owns one reference while it calls us. */
	if (message && message->refcount < 1)
		ev_bad_refcount++;
	if (jsep && jsep->refcount < 1)
		ev_bad_refcount++;
	e->body = message ? json_dumps(message, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	e->jsep = jsep ? json_dumps(jsep, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	/* Janus increfs what it keeps; do the same for a few, to check later
	 * that the plugin releases its reference after we return. */
	if (message && nkept < MAX_KEPT)
		kept[nkept++] = json_incref(message);
	if (jsep && nkept < MAX_KEPT)
		kept[nkept++] = json_incref(jsep);
	event **tail = &ev_head;
	while (*tail)
		tail = &(*tail)->next;
	*tail = e;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_mu);
	return 0;
}

static void event_free(event *e) {
	if (!e)
		return;
	free(e->transaction);
	free(e->body);
	free(e->jsep);
	free(e);
}

/* Wait up to timeout_ms for an event to h whose transaction equals txn
 * (txn NULL: an event without transaction) and whose body contains substr
 * (if not NULL). Removes and returns it. */
static event *wait_event(h_session *h, const char *txn, const char *substr, int timeout_ms) {
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ev_mu);
	for (;;) {
		for (event **pp = &ev_head; *pp; pp = &(*pp)->next) {
			event *e = *pp;
			if (e->h != h)
				continue;
			if (txn ? (e->transaction == NULL || strcmp(e->transaction, txn) != 0) : e->transaction != NULL)
				continue;
			if (substr && (e->body == NULL || strstr(e->body, substr) == NULL))
				continue;
			*pp = e->next;
			pthread_mutex_unlock(&ev_mu);
			return e;
		}
		if (pthread_cond_timedwait(&ev_cond, &ev_mu, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&ev_mu);
			return NULL;
		}
	}
}

/* Events still queued for h (not consumed). */
static int pending_for(h_session *h) {
	int n = 0;
	pthread_mutex_lock(&ev_mu);
	for (event *e = ev_head; e; e = e->next)
		if (e->h == h)
			n++;
	pthread_mutex_unlock(&ev_mu);
	return n;
}

static void dump_pending(void) {
	pthread_mutex_lock(&ev_mu);
	for (event *e = ev_head; e; e = e->next)
		diag("pending event to %s txn=%s body=%s", name_of(e->h) ? name_of(e->h) : "?",
			e->transaction ? e->transaction : "(null)", e->body ? e->body : "(null)");
	pthread_mutex_unlock(&ev_mu);
}

/* ---- the media callbacks: recorded, checked on the spot. ---- */

#define MAX_REC 64
typedef struct rec {
	h_session *h;
	void *packet;
	int mindex; /* 1.x only */
	int video;
	char *buffer;
	uint16_t length;
	char label[32], protocol[32];
	int binary;
	char data[64];
} rec;

static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static rec rtp_recs[MAX_REC], rtcp_recs[MAX_REC], data_recs[MAX_REC];
static int n_rtp, n_rtcp, n_data;
static atomic_int n_pli_total, n_send_pli, n_pli_stream, n_remb, n_close_pc, n_end_session, n_notify;
static int pli_count[MAX_SESSIONS];

static int index_of(h_session *h) {
	for (int i = 0; i < nsessions; i++)
		if (sessions[i] == h)
			return i;
	return -1;
}

static void record_media(rec *arr, int *n, h_session *h, void *packet) {
	known(h);
	pthread_mutex_lock(&rec_mu);
	if (*n < MAX_REC) {
		rec *r = &arr[(*n)];
		memset(r, 0, sizeof(*r));
		r->h = h;
		r->packet = packet;
		if (packet) {
			if (abi1) {
				h_rtcp1 *p = packet; /* rtp and rtcp share the prefix */
				r->mindex = p->mindex;
				r->video = p->video;
				r->buffer = p->buffer;
				r->length = p->length;
			} else {
				h_rtcp0 *p = packet;
				r->mindex = 0x7fffffff;
				r->video = p->video;
				r->buffer = p->buffer;
				r->length = p->length;
			}
		}
	}
	(*n)++;
	pthread_mutex_unlock(&rec_mu);
}

static void cb_relay_rtp(h_session *h, void *packet) { record_media(rtp_recs, &n_rtp, h, packet); }
static void count_pli(h_session *h);

/* A PLI (PT 206, FMT 1) is the plugin's keyframe request: counted per
 * handle, apart from the RTCP the plugin relays. */
static void cb_relay_rtcp(h_session *h, void *packet) {
	const unsigned char *buf = packet ? (const unsigned char *)(abi1 ? ((h_rtcp1 *)packet)->buffer : ((h_rtcp0 *)packet)->buffer) : NULL;
	int len = packet ? (abi1 ? ((h_rtcp1 *)packet)->length : ((h_rtcp0 *)packet)->length) : 0;
	if (buf && len >= 12 && buf[1] == 206 && (buf[0] & 0x1f) == 1) {
		int ok = abi1 ? ((h_rtcp1 *)packet)->video && ((h_rtcp1 *)packet)->mindex == -1 : ((h_rtcp0 *)packet)->video;
		if (ok && len == 12) {
			count_pli(h);
			return;
		}
	}
	record_media(rtcp_recs, &n_rtcp, h, packet);
}

static void cb_relay_data(h_session *h, h_data *p) {
	known(h);
	pthread_mutex_lock(&rec_mu);
	if (n_data < MAX_REC) {
		rec *r = &data_recs[n_data];
		memset(r, 0, sizeof(*r));
		r->h = h;
		r->packet = p;
		if (p) {
			if (p->label)
				snprintf(r->label, sizeof(r->label), "%s", p->label);
			if (p->protocol)
				snprintf(r->protocol, sizeof(r->protocol), "%s", p->protocol);
			r->binary = p->binary;
			r->buffer = p->buffer;
			r->length = p->length;
			if (p->buffer && p->length < sizeof(r->data))
				memcpy(r->data, p->buffer, p->length);
		}
	}
	n_data++;
	pthread_mutex_unlock(&rec_mu);
}

/* Never called: Janus 1.x's send_pli walks the PeerConnection unlocked. */
static void cb_send_pli(h_session *h) {
	known(h);
	atomic_fetch_add(&n_send_pli, 1);
}

static void count_pli(h_session *h) {
	known(h);
	atomic_fetch_add(&n_pli_total, 1);
	pthread_mutex_lock(&rec_mu);
	int i = index_of(h);
	if (i >= 0)
		pli_count[i]++;
	pthread_mutex_unlock(&rec_mu);
}

static int pli_of(h_session *h) {
	pthread_mutex_lock(&rec_mu);
	int i = index_of(h), n = i >= 0 ? pli_count[i] : -1;
	pthread_mutex_unlock(&rec_mu);
	return n;
}

static void cb_send_pli_stream(h_session *h, int mindex) {
	(void)mindex;
	known(h);
	atomic_fetch_add(&n_pli_stream, 1);
}
static void cb_send_remb(h_session *h, uint32_t bitrate) {
	(void)bitrate;
	known(h);
	atomic_fetch_add(&n_remb, 1);
}
static void cb_close_pc(h_session *h) {
	known(h);
	atomic_fetch_add(&n_close_pc, 1);
}
static void cb_end_session(h_session *h) {
	known(h);
	atomic_fetch_add(&n_end_session, 1);
}
static void cb_notify_event(h_plugin *p, h_session *h, json_t *event) {
	(void)p;
	(void)h;
	(void)event; /* the core would take ownership; we never enable events */
	atomic_fetch_add(&n_notify, 1);
}

static h_callbacks0 callbacks0 = {FJ_CALLBACKS_COMMON(cb_)};

static h_callbacks1 callbacks1 = {
	FJ_CALLBACKS_COMMON(cb_),
	.send_pli_stream = cb_send_pli_stream,
};

static void reset_recs(void) {
	pthread_mutex_lock(&rec_mu);
	n_rtp = n_rtcp = n_data = 0;
	pthread_mutex_unlock(&rec_mu);
}

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

/* Send a message the way Janus does: a g_strdup'ed transaction and new
 * references the plugin takes. We keep one extra reference to each to check
 * the plugin dropped exactly its own before returning. */
static int send_message(h_session *h, const char *txn, const char *body_json, json_t *jsep, const char *what) {
	json_error_t err;
	json_t *body = json_loads(body_json, 0, &err);
	if (!body) {
		diag("bad test JSON %s: %s", body_json, err.text);
		return check(0, "%s: test body parses", what);
	}
	json_incref(body);
	if (jsep)
		json_incref(jsep);
	h_result *r = plugin->handle_message(h, txn ? g_strdup(txn) : NULL, body, jsep);
	int ok = 1;
	ok &= check(r != NULL && r->type == 1 && r->content == NULL,
		"%s: handle_message returns OK_WAIT without content (type %d)", what, r ? r->type : -99);
	ok &= check(body->refcount == 1 && (!jsep || jsep->refcount == 1),
		"%s: handle_message released the message/jsep references it was given (body refcount %zu, jsep %zu)",
		what, body->refcount, jsep ? jsep->refcount : (size_t)1);
	if (r) {
		if (r->content)
			json_decref(r->content);
		g_free(r);
	}
	json_decref(body);
	if (jsep)
		json_decref(jsep);
	return ok;
}

static json_t *parse_or_null(const char *s) {
	return s ? json_loads(s, 0, NULL) : NULL;
}

/* body of e must be exactly expected (both compared after canonical dump). */
static int body_is(const event *e, const char *expected) {
	if (!e || !e->body)
		return 0;
	json_t *want = json_loads(expected, 0, NULL);
	json_t *got = json_loads(e->body, 0, NULL);
	int eq = want && got && json_equal(want, got);
	json_decref(want);
	json_decref(got);
	return eq;
}

/* A publisher join's answer as body_is, with the reconnect secret that a
 * server without auth hands out (docs/protocol.md) checked and set aside. */
static int join_answer_is(const event *e, const char *expected) {
	if (!e || !e->body)
		return 0;
	json_t *want = json_loads(expected, 0, NULL);
	json_t *got = json_loads(e->body, 0, NULL);
	json_t *resp = got ? json_object_get(got, "response") : NULL;
	const char *secret = resp ? json_string_value(json_object_get(resp, "reconnect_secret")) : NULL;
	int ok = secret && strlen(secret) >= 16;
	if (ok)
		json_object_del(resp, "reconnect_secret");
	int eq = ok && want && got && json_equal(want, got);
	json_decref(want);
	json_decref(got);
	return eq;
}

static void *load(const char *lib, void **dl) {
	const char *err;
	h_plugin *p = fj_load(lib, dl, &err);
	if (!check(*dl != NULL, "dlopen %s", lib))
		diag("dlerror: %s", err);
	return p;
}

/* ------------------------------------------------------------------ */
/* Modes.                                                              */

static int run_unknown_version(const char *lib, int version) {
	janus_version = version;
	void *dl;
	void *p = load(lib, &dl);
	check(dl != NULL && p == NULL, "create() returns NULL for unknown janus_version %d", version);
	/* A refused plugin is dlclosed by Janus; that must not crash. */
	if (dl)
		check(dlclose(dl) == 0, "dlclose after refused create");
	return finish();
}

static int run_bad_config(const char *lib, int version) {
	janus_version = version;
	abi1 = version >= 1000;
	void *dl;
	plugin = load(lib, &dl);
	if (!check(plugin != NULL, "create() returns a plugin for janus_version %d", version))
		return finish();
	char *dir = fj_config_dir("[general]\nmax_room_size = abc\n");
	int rc = plugin->init(abi1 ? (void *)&callbacks1 : (void *)&callbacks0, dir);
	check(rc < 0, "init with max_room_size = abc fails (rc %d)", rc);
	fj_config_dir_remove(dir);
	/* What Janus does with a plugin whose init failed. The Go runtime
	 * cannot be unloaded: the library must survive this (it links with
	 * -z nodelete). */
	int dc = dlclose(dl);
	check(dc == 0, "dlclose after failed init returns 0");
	sleep_ms(200); /* give Go's threads a chance to run after dlclose */
	check(1, "process still alive after dlclose of a failed plugin");
	/* Janus would dlopen it again on a later reload: that must work too. */
	void *dl2 = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
	check(dl2 != NULL, "dlopen again after dlclose");
	return finish();
}

/* The full scenario. */
static int claim_version; /* --claim-version: harness self-test only */

static int run_scenario(const char *lib, int version) {
	janus_version = claim_version ? claim_version : version;
	abi1 = version >= 1000;
	main_thread = pthread_self();
	diag("Janus version %d, %s layouts", version, abi1 ? "1.x" : "0.x");

	void *dl;
	plugin = load(lib, &dl);
	if (!check(plugin != NULL, "create() returns a plugin for janus_version %d", version))
		return finish();
	check(fj_vprintf_calls() > 0, "the plugin logs through the host's janus_vprintf (%d calls)", fj_vprintf_calls());

	/* Every slot Janus calls unconditionally must be filled. */
	void **slots = (void **)plugin;
	int empty = 0;
	for (size_t i = 0; i < sizeof(h_plugin) / sizeof(void *); i++)
		if (!slots[i]) {
			empty++;
			diag("plugin slot %zu is NULL", i);
		}
	check(empty == 0, "every janus_plugin slot is set");

	int api = plugin->get_api_compatibility();
	/* Janus moved to plugin API 20 in 0.15.1 (janus_version 151). */
	int want_api = version == 144 ? 19 : (version == 151 || version == 162) ? 20 : 102;
	if (version >= 1000)
		check(api >= want_api && api < 1000, "get_api_compatibility() = %d (>= %d for Janus %d)", api, want_api, version);
	else
		check(api == want_api, "get_api_compatibility() = %d (want %d for Janus %d)", api, want_api, version);
	const char *pkg = plugin->get_package();
	check(pkg && strcmp(pkg, "janus.plugin.sfu") == 0, "get_package() = %s", pkg ? pkg : "(null)");
	check(plugin->get_name() && plugin->get_description() && plugin->get_author() && plugin->get_version_string() &&
			plugin->get_version() > 0,
		"name/description/author/version strings are set");

	char *dir = fj_config_dir("[general]\nmax_room_size = 10\nmessage_threads = 2\n");
	int rc = plugin->init(abi1 ? (void *)&callbacks1 : (void *)&callbacks0, dir);
	if (!check(rc == 0, "init(callbacks, %s) returns 0 (got %d)", dir, rc)) {
		fj_config_dir_remove(dir);
		return finish();
	}

	/* Sessions. */
	h_session *A = new_session("A"), *B = new_session("B"), *S = new_session("S");
	h_session *hs[3] = {A, B, S};
	/* As Janus: the handle's refcount is uninitialised (poisoned here)
	 * during create_session and set up only after it returned. */
	for (int i = 0; i < 3; i++) {
		int touched = 0;
		int err = fj_create_session(plugin, hs[i], session_free, &touched);
		check(err == 0, "create_session(%s) sets error 0 (got %d)", name_of(hs[i]), err);
		check(hs[i]->plugin_handle != NULL, "create_session(%s) sets plugin_handle", name_of(hs[i]));
		check(!touched, "create_session(%s) leaves the refcount Janus has not set up yet alone", name_of(hs[i]));
	}
	/* Janus gave the plugin a reference with create_session's success; the
	 * plugin takes none of its own (one more would keep the handle, its
	 * Janus session and its transport session alive for ever). */
	for (int i = 0; i < 3; i++) {
		json_t *q = plugin->query_session(hs[i]);
		if (q)
			json_decref(q);
		check(hs[i]->ref.count == 2, "after Janus's first call on %s the count is Janus's and the plugin's (count %d, want 2)", name_of(hs[i]), hs[i]->ref.count);
	}

	/* A message to a handle the plugin never saw: a synchronous error. */
	{
		h_session *X = new_session("X");
		json_t *m = json_pack("{s:s}", "kind", "data");
		h_result *r = plugin->handle_message(X, g_strdup("tx"), m, NULL);
		check(r && r->type == -1, "handle_message on an unknown handle returns JANUS_PLUGIN_ERROR (type %d)", r ? r->type : -99);
		if (r) {
			if (r->content)
				json_decref(r->content);
			g_free(r);
		}
		check(X->ref.count == 1, "unknown handle's refcount untouched (%d)", X->ref.count);
	}

	/* 1. A publishes: offer -> answer. */
	json_t *offer = json_pack("{s:s,s:s}", "type", "offer", "sdp", chrome_offer);
	send_message(A, "a-offer", "{}", offer, "A offer");
	event *e = wait_event(A, "a-offer", NULL, 5000);
	if (check(e != NULL, "A gets a response to its offer")) {
		check(body_is(e, "{\"success\":true}"), "A offer response body is {\"success\":true} (%s)", e->body);
		json_t *j = parse_or_null(e->jsep);
		const char *t = j ? json_string_value(json_object_get(j, "type")) : NULL;
		const char *sdp = j ? json_string_value(json_object_get(j, "sdp")) : NULL;
		check(t && strcmp(t, "answer") == 0, "A offer response carries a jsep answer");
		check(sdp && strstr(sdp, "m=audio") && strstr(sdp, "opus/48000") && strstr(sdp, "H264/90000") &&
				strstr(sdp, "m=application"),
			"the answer accepts opus, H.264 and the data channel");
		if (!sdp)
			diag("jsep: %s", e->jsep ? e->jsep : "(null)");
		json_decref(j);
	}
	event_free(e);

	/* 2. A joins as a publisher. */
	send_message(A, "a-join", "{\"kind\":\"join\",\"room_id\":\"r\",\"user_id\":\"u\",\"subscribe\":{\"notifications\":true,\"data\":true}}", NULL, "A join");
	e = wait_event(A, "a-join", NULL, 5000);
	check(e && join_answer_is(e, "{\"success\":true,\"response\":{\"users\":{\"r\":[]}}}"), "A join answered {success, users:{r:[]}} (%s)", e ? e->body : "timeout");
	check(e && e->jsep == NULL, "A join answer has no jsep");
	check(e && !e->on_main_thread, "push_event came from a plugin thread, not from handle_message's caller");
	event_free(e);

	/* 3. B joins the same room: A is told. */
	send_message(B, "b-join", "{\"kind\":\"join\",\"room_id\":\"r\",\"user_id\":\"u2\",\"subscribe\":{\"notifications\":true,\"data\":true}}", NULL, "B join");
	e = wait_event(B, "b-join", NULL, 5000);
	check(e && join_answer_is(e, "{\"success\":true,\"response\":{\"users\":{\"r\":[\"u\"]}}}"), "B join answered with users r:[u] (%s)", e ? e->body : "timeout");
	event_free(e);
	e = wait_event(A, NULL, NULL, 5000);
	check(e && body_is(e, "{\"event\":\"join\",\"user_id\":\"u2\",\"room_id\":\"r\"}"), "A gets the join event for u2 with no transaction (%s)", e ? e->body : "timeout");
	event_free(e);

	/* 4. S subscribes to A's media. */
	send_message(S, "s-join", "{\"kind\":\"join\",\"room_id\":\"r\",\"user_id\":\"s\",\"subscribe\":{\"media\":\"u\"}}", NULL, "S join");
	e = wait_event(S, "s-join", NULL, 5000);
	char *sub_offer = NULL;
	if (check(e != NULL, "S join answered")) {
		json_t *b = parse_or_null(e->body);
		check(b && json_is_true(json_object_get(b, "success")), "S join succeeded (%s)", e->body);
		json_decref(b);
		json_t *j = parse_or_null(e->jsep);
		const char *t = j ? json_string_value(json_object_get(j, "type")) : NULL;
		const char *sdp = j ? json_string_value(json_object_get(j, "sdp")) : NULL;
		check(t && strcmp(t, "offer") == 0 && sdp && strstr(sdp, "m=video"), "S join response carries a subscriber offer");
		if (sdp)
			sub_offer = strdup(sdp);
		json_decref(j);
	}
	event_free(e);

	/* S answers: the offer with the directions flipped. */
	if (sub_offer) {
		GString *ans = g_string_new(sub_offer);
		g_string_replace(ans, "a=sendonly", "a=recvonly", 0);
		g_string_replace(ans, "a=setup:actpass", "a=setup:active", 0);
		json_t *answer = json_pack("{s:s,s:s}", "type", "answer", "sdp", ans->str);
		g_string_free(ans, TRUE);
		send_message(S, "s-answer", "{}", answer, "S answer");
		e = wait_event(S, "s-answer", NULL, 5000);
		check(e && body_is(e, "{\"success\":true}") && e->jsep == NULL, "S answer accepted (%s)", e ? e->body : "timeout");
		event_free(e);
		free(sub_offer);
	}

	/* Janus: ICE/DTLS up. A subscriber's media coming up asks its
	 * publisher for a keyframe. */
	int pli_a0 = pli_of(A);
	plugin->setup_media(A);
	plugin->setup_media(B);
	plugin->setup_media(S);
	/* setup_media only queues its work (it runs on a Janus loop thread). */
	for (int waited = 0; pli_of(A) == pli_a0 && waited < 3000; waited += 10)
		sleep_ms(10);
	sleep_ms(50); /* a second, wrong, request would land by now */
	check(pli_of(A) == pli_a0 + 1, "setup_media(S) asks A for a keyframe once (PLIs to A %d -> %d)", pli_a0, pli_of(A));

	/* 5. Signalled data from A reaches B only. */
	send_message(A, "a-data", "{\"kind\":\"data\",\"body\":\"hi\"}", NULL, "A data");
	e = wait_event(A, "a-data", NULL, 5000);
	check(e && body_is(e, "{\"success\":true,\"response\":{}}"), "A data answered success (%s)", e ? e->body : "timeout");
	event_free(e);
	e = wait_event(B, NULL, "\"data\"", 5000);
	check(e && body_is(e, "{\"event\":\"data\",\"body\":\"hi\"}"), "B gets the data event (%s)", e ? e->body : "timeout");
	event_free(e);

	/* 6. Malformed messages. */
	send_message(A, "bad1", "{\"kind\":\"join\",\"room_id\":5,\"user_id\":\"u\"}", NULL, "malformed join");
	e = wait_event(A, "bad1", NULL, 5000);
	{
		json_t *b = e ? parse_or_null(e->body) : NULL;
		json_t *err = b ? json_object_get(b, "error") : NULL;
		check(b && json_is_false(json_object_get(b, "success")) && json_is_string(json_object_get(err, "msg")),
			"malformed join gets {success:false, error:{msg}} (%s)", e ? e->body : "timeout");
		json_decref(b);
	}
	event_free(e);
	send_message(A, "bad2", "{\"kind\":\"nope\"}", NULL, "unknown kind");
	e = wait_event(A, "bad2", NULL, 5000);
	check(e && strstr(e->body, "\"success\":false") && strstr(e->body, "nope"), "unknown kind gets an error naming it (%s)", e ? e->body : "timeout");
	event_free(e);
	json_t *badjsep = json_pack("{s:s,s:s}", "type", "offer", "sdp", "this is not sdp");
	send_message(B, "bad3", "{}", badjsep, "bad SDP offer");
	e = wait_event(B, "bad3", NULL, 5000);
	check(e && strstr(e->body, "\"success\":false") && e->jsep == NULL, "an unparseable SDP offer gets an error (%s)", e ? e->body : "timeout");
	event_free(e);

	/* 7. RTP from A goes to S (and only S). */
	{
		char buf[] = "\x80\x66\x00\x01\x00\x00\x00\x10\x00\x00\x07\xd1payload";
		uint16_t len = sizeof(buf) - 1;
		reset_recs();
		if (abi1) {
			h_rtp1 pkt;
			memset(&pkt, 0xA5, sizeof(pkt));
			pkt.mindex = 1;
			pkt.video = 1;
			pkt.buffer = buf;
			pkt.length = len;
			h_rtp1 before = pkt;
			plugin->incoming_rtp(A, &pkt);
			check(n_rtp == 1 && rtp_recs[0].h == S, "incoming_rtp(A) -> relay_rtp(S) once (%d calls)", n_rtp);
			check(n_rtp >= 1 && rtp_recs[0].packet == &pkt && rtp_recs[0].buffer == buf && rtp_recs[0].length == len && rtp_recs[0].video == 1,
				"relay_rtp gets the same packet, buffer, length and video flag");
			check(n_rtp >= 1 && rtp_recs[0].mindex == -1, "1.x: mindex is -1 during relay_rtp (got %d)", n_rtp ? rtp_recs[0].mindex : 0);
			/* Janus builds the struct per packet and reads nothing of it
			 * after the call: the plugin leaves -1 in mindex and must
			 * touch nothing else (extensions included). */
			h_rtp1 expect = before;
			expect.mindex = -1;
			check(memcmp(&pkt, &expect, sizeof(pkt)) == 0, "1.x: after incoming_rtp only mindex changed (to %d), extensions untouched", pkt.mindex);
		} else {
			h_rtp0 pkt;
			memset(&pkt, 0xA5, sizeof(pkt));
			pkt.video = 1;
			pkt.buffer = buf;
			pkt.length = len;
			h_rtp0 before = pkt;
			plugin->incoming_rtp(A, &pkt);
			check(n_rtp == 1 && rtp_recs[0].h == S, "incoming_rtp(A) -> relay_rtp(S) once (%d calls)", n_rtp);
			check(n_rtp >= 1 && rtp_recs[0].packet == &pkt && rtp_recs[0].buffer == buf && rtp_recs[0].length == len && rtp_recs[0].video == 1,
				"0.x: relay_rtp sees video=1, the same buffer and length (video %d) - nothing written at 1.x offsets",
				n_rtp ? rtp_recs[0].video : -1);
			check(memcmp(&pkt, &before, sizeof(pkt)) == 0, "0.x: the packet is untouched after incoming_rtp");
		}
		/* Audio, too. */
		reset_recs();
		if (abi1) {
			h_rtp1 pkt = {.mindex = 0, .video = 0, .buffer = buf, .length = len};
			plugin->incoming_rtp(A, &pkt);
			check(n_rtp == 1 && rtp_recs[0].mindex == -1 && rtp_recs[0].video == 0,
				"1.x audio: relayed once with mindex -1, video 0");
		} else {
			h_rtp0 pkt = {.video = 0, .buffer = buf, .length = len};
			plugin->incoming_rtp(A, &pkt);
			check(n_rtp == 1 && rtp_recs[0].video == 0, "0.x audio: relayed once with video 0");
		}
		/* B has no subscribers, S publishes nothing. */
		reset_recs();
		if (abi1) {
			h_rtp1 pkt = {.mindex = 1, .video = 1, .buffer = buf, .length = len};
			plugin->incoming_rtp(B, &pkt);
			plugin->incoming_rtp(S, &pkt);
		} else {
			h_rtp0 pkt = {.video = 1, .buffer = buf, .length = len};
			plugin->incoming_rtp(B, &pkt);
			plugin->incoming_rtp(S, &pkt);
		}
		check(n_rtp == 0, "incoming_rtp from B or S (no subscribers) relays nothing (%d)", n_rtp);
	}

	/* 8. Plain RTCP (a sender report) from A goes to its subscribers. */
	{
		char sr[28] = {(char)0x80, (char)200, 0, 6};
		reset_recs();
		if (abi1) {
			h_rtcp1 pkt = {.mindex = 1, .video = 1, .buffer = sr, .length = sizeof(sr)};
			plugin->incoming_rtcp(A, &pkt);
			check(n_rtcp == 1 && rtcp_recs[0].h == S && rtcp_recs[0].mindex == -1 && rtcp_recs[0].packet == &pkt && pkt.mindex == 1,
				"1.x: RTCP SR from A -> relay_rtcp(S) with mindex -1, restored after (%d calls)", n_rtcp);
		} else {
			h_rtcp0 pkt = {.video = 1, .buffer = sr, .length = sizeof(sr)};
			plugin->incoming_rtcp(A, &pkt);
			check(n_rtcp == 1 && rtcp_recs[0].h == S && rtcp_recs[0].video == 1 && rtcp_recs[0].length == sizeof(sr) && pkt.video == 1,
				"0.x: RTCP SR from A -> relay_rtcp(S), packet untouched (%d calls)", n_rtcp);
		}
	}

	/* 9. PLI from S: a PLI to A (relay_rtcp, video, mindex -1), at most
	 * once per 500 ms. */
	{
		sleep_ms(650); /* past the throttle window of setup_media's keyframe request */
		char pli[12] = {(char)(0x80 | 1), (char)206, 0, 2, 0, 0, 0, 1, 0, 0, 0x07, (char)0xd1};
		int before = pli_of(A);
		int other0 = atomic_load(&n_pli_total) - before;
		reset_recs();
		for (int i = 0; i < 3; i++) {
			if (abi1) {
				h_rtcp1 pkt = {.mindex = 1, .video = 1, .buffer = pli, .length = sizeof(pli)};
				plugin->incoming_rtcp(S, &pkt);
			} else {
				h_rtcp0 pkt = {.video = 1, .buffer = pli, .length = sizeof(pli)};
				plugin->incoming_rtcp(S, &pkt);
			}
		}
		check(pli_of(A) == before + 1, "3 quick PLIs from S -> one PLI to A (%d)", pli_of(A) - before);
		check(atomic_load(&n_pli_total) - pli_of(A) == other0, "a PLI sent to no other handle");
		check(atomic_load(&n_send_pli) == 0, "send_pli never called (it is unlocked on 1.x)");
		check(n_rtcp == 0, "the PLI itself is not relayed as RTCP (%d relay_rtcp)", n_rtcp);
		check(atomic_load(&n_pli_stream) == 0, "send_pli_stream never called");

		/* FIR from S after the window: relay_rtcp(A, FIR). */
		sleep_ms(650);
		char fir[20] = {(char)(0x80 | 4), (char)206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x07, (char)0xd1, 7, 0, 0, 0};
		reset_recs();
		int pli_before = atomic_load(&n_pli_total);
		if (abi1) {
			h_rtcp1 pkt = {.mindex = 1, .video = 1, .buffer = fir, .length = sizeof(fir)};
			plugin->incoming_rtcp(S, &pkt);
		} else {
			h_rtcp0 pkt = {.video = 1, .buffer = fir, .length = sizeof(fir)};
			plugin->incoming_rtcp(S, &pkt);
		}
		int fir_ok = n_rtcp == 1 && rtcp_recs[0].h == A && rtcp_recs[0].video == 1 && rtcp_recs[0].length == 20 &&
			rtcp_recs[0].buffer && ((uint8_t)rtcp_recs[0].buffer[0] & 0x1f) == 4 && (uint8_t)rtcp_recs[0].buffer[1] == 206;
		if (abi1)
			fir_ok = fir_ok && rtcp_recs[0].mindex == -1;
		check(fir_ok, "FIR from S -> relay_rtcp(A, FIR PT 206 FMT 4, len 20, video 1%s) (%d calls, len %d, video %d)",
			abi1 ? ", mindex -1" : "", n_rtcp, n_rtcp ? rtcp_recs[0].length : -1, n_rtcp ? rtcp_recs[0].video : -1);
		check(atomic_load(&n_pli_total) == pli_before, "FIR does not also send a PLI");

		/* Audio RTCP from S carrying a PLI is not a video keyframe request. */
	}

	/* 10. Data channel: A -> B with label and protocol preserved. */
	{
		char payload[] = "hello data";
		char label[] = "reliable", proto[] = "proto-x";
		h_data d = {.label = label, .protocol = proto, .binary = 0, .buffer = payload, .length = (uint16_t)strlen(payload)};
		reset_recs();
		plugin->incoming_data(A, &d);
		check(n_data == 1 && data_recs[0].h == B, "incoming_data(A) -> relay_data(B) once (%d calls)", n_data);
		check(n_data >= 1 && strcmp(data_recs[0].label, "reliable") == 0 && strcmp(data_recs[0].protocol, "proto-x") == 0 &&
				data_recs[0].binary == 0 && data_recs[0].length == strlen(payload) && memcmp(data_recs[0].data, payload, strlen(payload)) == 0,
			"relay_data keeps label, protocol, binary flag and payload");
		reset_recs();
		h_data d2 = {.label = label, .protocol = NULL, .binary = 1, .buffer = payload, .length = 3};
		plugin->incoming_data(B, &d2);
		check(n_data == 1 && data_recs[0].h == A && data_recs[0].binary == 1 && data_recs[0].protocol[0] == 0,
			"incoming_data(B, binary, no protocol) -> relay_data(A) once");
		reset_recs();
		plugin->incoming_data(S, &d);
		check(n_data == 0, "incoming_data from the subscriber goes nowhere (%d)", n_data);
		plugin->data_ready(A);
	}

	/* 11. Odds and ends Janus calls. */
	{
		json_t *q = plugin->query_session(A);
		check(q && json_is_object(q), "query_session(A) returns an object");
		if (q)
			json_decref(q);
		json_t *am = json_pack("{s:s}", "request", "list");
		json_t *ar = plugin->handle_admin_message(am);
		check(ar != NULL, "handle_admin_message returns a response");
		if (ar)
			json_decref(ar);
		check(am->refcount == 1, "handle_admin_message leaves the caller's reference alone");
		json_decref(am);
		if (abi1)
			((slow_link1_fn)plugin->slow_link)(A, 1, 1, 0);
		else
			((slow_link0_fn)plugin->slow_link)(A, 0, 1);
		check(1, "slow_link with the %s signature", abi1 ? "1.x" : "0.x");
	}

	/* Nothing unexpected is queued. */
	sleep_ms(100);
	int stray = pending_for(A) + pending_for(B) + pending_for(S);
	if (!check(stray == 0, "no unexpected events before teardown (%d)", stray))
		dump_pending();

	/* 12. Teardown: hangup, then destroy S, A, B. */
	for (int i = 0; i < 3; i++)
		plugin->hangup_media(hs[i]);
	h_session *order[3] = {S, A, B};
	for (int k = 0; k < 3; k++) {
		h_session *h = order[k];
		int err = 1234;
		plugin->destroy_session(h, &err);
		check(err == 0, "destroy_session(%s) sets error 0 (got %d)", name_of(h), err);
		if (h == S) {
			event *ea = wait_event(A, NULL, "leave", 5000), *eb = wait_event(B, NULL, "leave", 5000);
			check(ea && body_is(ea, "{\"event\":\"leave\",\"user_id\":\"s\",\"room_id\":\"r\"}") && eb &&
					body_is(eb, "{\"event\":\"leave\",\"user_id\":\"s\",\"room_id\":\"r\"}"),
				"destroying S: A and B get leave for user s (%s / %s)", ea ? ea->body : "none", eb ? eb->body : "none");
			event_free(ea);
			event_free(eb);
		} else if (h == A) {
			event *eb = wait_event(B, NULL, "leave", 5000);
			check(eb && body_is(eb, "{\"event\":\"leave\",\"user_id\":\"u\",\"room_id\":\"r\"}"),
				"destroying A: B gets leave for user u (%s)", eb ? eb->body : "none");
			event_free(eb);
		}
		for (int t = 0; t < 500 && h->ref.count != 1; t++)
			sleep_ms(10);
		check(h->ref.count == 1, "after destroy_session(%s) the plugin released the reference Janus gave it (count %d, want 1: the map's)", name_of(h), h->ref.count);
		if (h->plugin_handle != NULL)
			diag("plugin_handle of %s still set after destroy_session (%p)", name_of(h), h->plugin_handle);
		/* After destroy, the plugin must no longer use the handle. */
		reset_recs();
		char buf[] = "\x80\x66\x00\x01xxxxxxxx";
		if (abi1) {
			h_rtp1 pkt = {.mindex = 1, .video = 1, .buffer = buf, .length = 12};
			plugin->incoming_rtp(h, &pkt);
		} else {
			h_rtp0 pkt = {.video = 1, .buffer = buf, .length = 12};
			plugin->incoming_rtp(h, &pkt);
		}
		check(n_rtp == 0, "incoming_rtp on destroyed %s relays nothing", name_of(h));
		int err2 = 1234;
		plugin->destroy_session(h, &err2);
		check(err2 != 0, "a second destroy_session(%s) reports an error (%d) and does not crash", name_of(h), err2);
	}
	sleep_ms(200);
	stray = pending_for(A) + pending_for(B) + pending_for(S);
	if (!check(stray == 0, "no other events after teardown (%d)", stray))
		dump_pending();
	/* Drop the plugin_sessions map's references, as Janus's detach does:
	 * the last one frees the handle. */
	for (int i = 0; i < 3; i++) {
		host_session *hsx = (host_session *)hs[i];
		atomic_store(&hsx->we_released, 1);
		if (__atomic_sub_fetch(&hs[i]->ref.count, 1, __ATOMIC_SEQ_CST) == 0)
			hs[i]->ref.free(&hs[i]->ref);
		check(atomic_load(&hsx->freed) == 1, "%s freed when we drop the last reference", name_of(hs[i]));
	}
	check(atomic_load(&freed_by_plugin) == 0, "the plugin never called ref.free while we held a reference");
	check(fj_poisoned_frees() == 0, "the plugin never released a refcount before Janus set it up (%d)", fj_poisoned_frees());

	plugin->destroy();
	check(1, "destroy() returned");

	/* Global callback sanity. */
	check(atomic_load(&foreign_handle_calls) == 0, "callbacks only ever named our handles (%d foreign)", atomic_load(&foreign_handle_calls));
	check(ev_bad_plugin == 0, "push_event always passed the plugin pointer create() returned (%d wrong)", ev_bad_plugin);
	check(ev_bad_body == 0 && ev_bad_refcount == 0, "push_event bodies were live JSON objects (%d bad, %d bad refcounts)", ev_bad_body, ev_bad_refcount);
	check(atomic_load(&n_remb) == 0 && atomic_load(&n_close_pc) == 0 && atomic_load(&n_end_session) == 0 && atomic_load(&n_notify) == 0,
		"no send_remb/close_pc/end_session/notify_event calls (%d/%d/%d/%d)", atomic_load(&n_remb), atomic_load(&n_close_pc),
		atomic_load(&n_end_session), atomic_load(&n_notify));
	int leaked = 0;
	for (int i = 0; i < nkept; i++) {
		if (kept[i]->refcount != 1) {
			leaked++;
			diag("kept event json %d has refcount %zu", i, kept[i]->refcount);
		}
		json_decref(kept[i]);
	}
	check(leaked == 0, "the plugin dropped its reference to all %d push_event bodies/jseps after the call", nkept);
	diag("%d push_event calls in total", ev_total);

	fj_config_dir_remove(dir);
	for (int i = 0; i < nsessions; i++)
		free(sessions[i]);
	/* Not dlclosed: the real Janus does not unload a plugin that loaded. */
	(void)dl;
	return finish();
}

static void usage(void) {
	fprintf(stderr,
		"usage: abi-host --janus-version 144|151|162|1102 [--bad-config] --lib path/to/libjanus_plugin_sfu.so\n"
		"       abi-host --unknown-version N --lib path/to/libjanus_plugin_sfu.so\n");
	exit(2);
}

int main(int argc, char **argv) {
	const char *lib = NULL;
	int version = 0, unknown = -1, bad_config = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--janus-version") && i + 1 < argc)
			version = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--unknown-version") && i + 1 < argc)
			unknown = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			lib = argv[++i];
		else if (!strcmp(argv[i], "--claim-version") && i + 1 < argc)
			claim_version = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--bad-config"))
			bad_config = 1;
		else
			usage();
	}
	if (!lib)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (unknown >= 0)
		return run_unknown_version(lib, unknown);
	if (version == 0)
		version = 1102;
	if (version != 144 && version != 151 && version != 162 && version != 1102) {
		fprintf(stderr, "abi-host: --janus-version must be 144, 151, 162 or 1102\n");
		return 2;
	}
	if (bad_config)
		return run_bad_config(lib, version);
	return run_scenario(lib, version);
}
