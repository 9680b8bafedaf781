/*
 * The fake Janus around the plugin: what the gateway answers outside the
 * timed loops (push_event), loading the floor library and the plugin, the
 * handles and rooms, and the joins that build the plugin's routes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "../cjanus/relay.h"

bench_world world;
const int ks[NK] = {1, 10, 30};

void die(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fputs("relay-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

int ncpus(void) {
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

int bench_want(const bench_opts *o, const char *name) {
	if (!o->variants)
		return 1;
	size_t n = strlen(name);
	for (const char *p = o->variants; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* push_event.                                                         */


/* push_event copies nothing: it counts answers (events with a transaction),
 * notes failures, and wakes the setup thread. */
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static int ev_answers, ev_failures;

int cb_push_event(h_session *h, struct h_plugin *p, const char *transaction, json_t *message, json_t *jsep) {
	(void)h;
	(void)p;
	(void)jsep;
	if (!transaction)
		return 0; /* join/leave notifications */
	int ok = message && json_is_true(json_object_get(message, "success"));
	pthread_mutex_lock(&ev_mu);
	ev_answers++;
	if (!ok && ev_failures++ < 3) {
		char *s = message ? json_dumps(message, JSON_COMPACT) : NULL;
		fprintf(stderr, "relay-bench: request %s failed: %s\n", transaction, s ? s : "(null)");
		free(s);
	}
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_mu);
	return 0;
}

static void wait_answers(int want) {
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 120;
	pthread_mutex_lock(&ev_mu);
	while (ev_answers < want) {
		if (pthread_cond_timedwait(&ev_cond, &ev_mu, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&ev_mu);
			die("timed out waiting for answers (%d of %d)", ev_answers, want);
		}
	}
	int failed = ev_failures;
	pthread_mutex_unlock(&ev_mu);
	if (failed)
		die("%d requests failed during setup", failed);
}

/* ------------------------------------------------------------------ */
/* Handles and rooms.                                                  */

static void session_free(const h_refcount *r) { (void)r; }

static h_session *new_handle(void) {
	h_session *h = aligned_alloc(64, 64);
	memset(h, 0, 64);
	h->gateway_handle = h;
	h->ref.count = 1;
	h->ref.free = session_free;
	return h;
}

static void new_room(room *r, const char *name, int k) {
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->k = k;
	r->pub = new_handle();
	for (int i = 0; i < k; i++)
		r->subs[i] = new_handle();
	r->alt_pub = new_handle();
	alt_session *s = aligned_alloc(64, sizeof(alt_session));
	memset(s, 0, sizeof(*s));
	alt_routes *rt = malloc(sizeof(*rt) + (size_t)k * sizeof(h_session *));
	rt->n = (uint32_t)k;
	memcpy(rt->items, r->subs, (size_t)k * sizeof(h_session *));
	atomic_store(&s->routes, rt);
	r->alt_pub->plugin_handle = s;
	r->goalt_pub = new_handle();
	r->ms_pub = new_handle();
	r->al_pub = new_handle();
}

void build_rooms(void) {
	world.nrooms = 0;
	for (int ki = 0; ki < NK; ki++)
		for (int x = 0; x < 2; x++) {
			char name[16];
			snprintf(name, sizeof(name), "r%d%c", ks[ki], 'a' + x);
			world.room_k[ki][x] = &world.rooms[world.nrooms];
			new_room(&world.rooms[world.nrooms++], name, ks[ki]);
		}
	for (int i = 0; i < DATA_N; i++)
		world.data_pubs[i] = new_handle();
}

/* ------------------------------------------------------------------ */
/* Loading, and the plugin's setup through the ABI.                    */

/* libplugin_side.so: --plugin-side, else beside this executable. Loaded
 * before any fork, so the children (go-alt, unthrottled PLI) have it too. */
void load_plugin_side(const bench_opts *o) {
	char path[4096];
	const char *lib = o->plugin_side;
	if (!lib) {
		ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 32);
		if (len <= 0)
			die("no --plugin-side and no /proc/self/exe");
		path[len] = 0;
		char *slash = strrchr(path, '/');
		snprintf(slash ? slash + 1 : path, 32, "libplugin_side.so");
		lib = path;
	}
	void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		die("dlopen %s: %s (build it with make -C bench)", lib, dlerror());
#define PS_SYM(var, name) \
	do { \
		*(void **)&(var) = dlsym(dl, name); \
		if (!(var)) \
			die("%s lacks %s", lib, name); \
	} while (0)
	PS_SYM(world.floor_rtp, "floor_rtp");
	PS_SYM(world.floor_pli, "floor_pli");
	PS_SYM(world.floor_data, "floor_data");
	PS_SYM(world.alt_set_relay, "alt_set_relay");
	PS_SYM(world.nosync_fn, "alt_nosync_incoming_rtp");
	PS_SYM(world.rwlock_fn, "alt_rwlock_incoming_rtp");
	PS_SYM(world.atomic_fn, "alt_atomic_incoming_rtp");
#undef PS_SYM
}

static int txn_seq;

/* Janus hands the plugin a g_strdup'ed transaction and one reference each
 * to the message and the jsep; the plugin releases them. */
static void send_message(h_session *h, const char *body_json, json_t *jsep) {
	json_error_t err;
	json_t *body = json_loads(body_json, 0, &err);
	if (!body)
		die("bad JSON %s: %s", body_json, err.text);
	char txn[32];
	snprintf(txn, sizeof(txn), "t%d", ++txn_seq);
	h_result *r = world.plugin->handle_message(h, g_strdup(txn), body, jsep);
	if (!r || r->type != 1)
		die("handle_message(%s) did not return OK_WAIT (type %d)", body_json, r ? r->type : -99);
	if (r->content)
		json_decref(r->content);
	g_free(r);
}

static void create_session(h_session *h) {
	int err = fj_create_session(world.plugin, h, session_free, NULL);
	if (err != 0 || !h->plugin_handle)
		die("create_session failed (%d)", err);
}

void load_plugin(const bench_opts *o, int throttle_ms) {
	janus_version = o->abi ? 1102 : 144;
	const char *err;
	world.plugin = fj_load(o->lib, &world.plugin_dl, &err);
	if (!world.plugin)
		die("%s (janus_version %d): %s", o->lib, janus_version, err);
	char cfg[160];
	snprintf(cfg, sizeof(cfg), "[general]\nmax_room_size = 0\nmax_ccu = 0\nmessage_threads = 2\nkeyframe_throttle_ms = %d\n", throttle_ms);
	char *dir = fj_config_dir(cfg);
	if (!dir)
		die("mkdtemp: %s", strerror(errno));
	int rc = world.plugin->init(gw_callbacks(), dir);
	fj_config_dir_remove(dir);
	if (rc != 0)
		die("init failed (%d)", rc);
}

/* Publishers offer and join, then subscribers join; setup_media for all. */
void setup_plugin_rooms(room **rs, int n, int data_n) {
	int answers = ev_answers;
	char body[256];
	for (int i = 0; i < n; i++) {
		room *r = rs[i];
		create_session(r->pub);
		for (int j = 0; j < r->k; j++)
			create_session(r->subs[j]);
		json_t *offer = json_pack("{s:s,s:s}", "type", "offer", "sdp", chrome_offer);
		send_message(r->pub, "{}", offer);
		snprintf(body, sizeof(body), "{\"kind\":\"join\",\"room_id\":\"%s\",\"user_id\":\"p_%s\",\"subscribe\":{\"notifications\":true,\"data\":true}}", r->name, r->name);
		send_message(r->pub, body, NULL);
		answers += 2;
	}
	for (int i = 0; i < data_n; i++) {
		create_session(world.data_pubs[i]);
		snprintf(body, sizeof(body), "{\"kind\":\"join\",\"room_id\":\"rdata\",\"user_id\":\"d%d\",\"subscribe\":{\"notifications\":true,\"data\":true}}", i);
		send_message(world.data_pubs[i], body, NULL);
		answers++;
	}
	wait_answers(answers);
	for (int i = 0; i < n; i++) {
		room *r = rs[i];
		for (int j = 0; j < r->k; j++) {
			snprintf(body, sizeof(body), "{\"kind\":\"join\",\"room_id\":\"%s\",\"user_id\":\"s_%s_%d\",\"subscribe\":{\"media\":\"p_%s\"}}", r->name, r->name, j, r->name);
			send_message(r->subs[j], body, NULL);
			answers++;
		}
	}
	wait_answers(answers);
	for (int i = 0; i < n; i++) {
		world.plugin->setup_media(rs[i]->pub);
		for (int j = 0; j < rs[i]->k; j++)
			world.plugin->setup_media(rs[i]->subs[j]);
	}
	for (int i = 0; i < data_n; i++)
		world.plugin->setup_media(world.data_pubs[i]);
	/* Routes are published before the answers are pushed; check anyway. */
	for (int i = 0; i < n; i++) {
		uint64_t before = relayed_rtp();
		feed_rtp(rs[i]->pub);
		if (relayed_rtp() - before != (uint64_t)rs[i]->k)
			die("room %s: one packet relayed %llu times, want %d", rs[i]->name, (unsigned long long)(relayed_rtp() - before), rs[i]->k);
	}
	if (data_n) {
		uint64_t before = relayed_data();
		feed_data(world.data_pubs[0]);
		if (relayed_data() - before != (uint64_t)data_n - 1)
			die("data room: one message relayed %llu times, want %d", (unsigned long long)(relayed_data() - before), data_n - 1);
	}
}

/* The multistream and audio-level cases. The plugin's signalling for
 * multistream subscribers is not what is timed here, so these routes are
 * installed through the library's own C entry points (cjanus/relay.h),
 * on sessions that only went through create_session: Go never publishes
 * routes for them, so nothing replaces these. The fan-out is the same
 * incoming_rtp as every other packet's. */
void install_extra_routes(room **rs, int n) {
	cj_stream_routes *(*streams_alloc)(uint32_t);
	cj_stream_routes *(*streams_swap)(cj_session *, cj_stream_routes *);
	cj_routes *(*routes_new)(void **, uint32_t);
	cj_routes *(*routes_swap)(cj_session *, int, cj_routes *);
	void (*set_ext)(cj_session *, int);
#define CJ_SYM(var, name) \
	do { \
		*(void **)&(var) = dlsym(world.plugin_dl, name); \
		if (!(var)) \
			die("the plugin lacks %s", name); \
	} while (0)
	CJ_SYM(streams_alloc, "cj_stream_routes_alloc");
	CJ_SYM(streams_swap, "cj_streams_swap");
	CJ_SYM(routes_new, "cj_routes_new");
	CJ_SYM(routes_swap, "cj_routes_swap");
	CJ_SYM(set_ext, "cj_session_set_audio_level_ext");
#undef CJ_SYM
	for (int i = 0; i < n; i++) {
		room *r = rs[i];
		create_session(r->al_pub);
		routes_swap(r->al_pub->plugin_handle, CJ_ROUTE_RTP, routes_new((void **)r->subs, (uint32_t)r->k));
		set_ext(r->al_pub->plugin_handle, BENCH_AUDIO_LEVEL_EXT);
		uint64_t before = relayed_rtp();
		feed_rtp_audio_level(r->al_pub);
		if (relayed_rtp() - before != (uint64_t)r->k)
			die("room %s: audio-level publisher relayed %llu copies, want %d", r->name, (unsigned long long)(relayed_rtp() - before), r->k);
		if (!world.abi)
			continue;
		create_session(r->ms_pub);
		/* Every subscriber has both m-lines: audio at 2j+1, video at
		 * 2j+2 (m-line 0 is its data channel). */
		cj_stream_routes *list = streams_alloc((uint32_t)r->k);
		for (int j = 0; j < r->k; j++)
			list->items[j] = (cj_stream_item){.handle = (sfu_plugin_session *)r->subs[j], .audio_mindex = 2 * j + 1, .video_mindex = 2 * j + 2};
		streams_swap(r->ms_pub->plugin_handle, list);
		for (int c = 0; c < NCODEC; c++) {
			before = relayed_rtp();
			feed_rtp_kind(r->ms_pub, c);
			if (relayed_rtp() - before != (uint64_t)r->k)
				die("room %s: multistream publisher relayed %llu copies, want %d", r->name, (unsigned long long)(relayed_rtp() - before), r->k);
		}
	}
}
