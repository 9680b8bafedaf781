/*
 * Sessions, their routing tables and the per-packet path (relay.c). Go
 * owns rooms and subscriptions and publishes, per session, an immutable
 * array of recipients (and, per room, one shared data-channel array); the
 * hot path only loads a pointer and loops. Old
 * arrays are freed after a grace period (rcu.h), so readers never lock and
 * never write shared memory.
 */
#ifndef CJ_RELAY_H
#define CJ_RELAY_H

#include <stdatomic.h>
#include <stdint.h>

#include "abi.h"

/* An immutable recipient list. items are sfu_plugin_session* for the RTP and
 * data routes, cj_session* for the keyframe route. */
typedef struct cj_routes {
	uint32_t n;
	void *items[];
} cj_routes;

/* A publisher's multistream subscriber (Janus 1.x): the subscriber's
 * m-line index for the publisher's audio and for its video, -1 = none (no
 * such m-line, paused, blocked). */
typedef struct cj_stream_item {
	sfu_plugin_session *handle;
	int32_t audio_mindex, video_mindex;
} cj_stream_item;

/* An immutable list of them. n_audio and n_video count the items with a
 * mindex of that kind: the relay calls one packet of the kind makes. */
typedef struct cj_stream_routes {
	uint32_t n, n_audio, n_video;
	cj_stream_item items[];
} cj_stream_routes;

/* A room's data group: the shared data-channel recipient list (items are
 * sfu_plugin_session*) of the room's publishers. A session that points at
 * one and has no data route of its own sends to every member but itself,
 * so a join or leave publishes one list for the room, not one per member. */
typedef struct cj_group {
	_Atomic(cj_routes *) members;
} cj_group;

enum {
	CJ_ROUTE_RTP = 0,      /* subscribers of this publisher: RTP and plain RTCP */
	CJ_ROUTE_DATA = 1,     /* data-channel recipients of this publisher, when it has its own list */
	CJ_ROUTE_KEYFRAME = 2, /* publishers this subscriber receives: PLI/FIR go there */
	CJ_ROUTE_COUNT = 3
};

/* Counters written only by the session's own Janus loop thread (single
 * writer, so plain loads and stores, no lock prefix) and read by Go. */
typedef struct cj_counters {
	/* RTCP in = rtcp_other + the keyframe requests below: each packet
	 * bumps exactly one of the three. */
	_Atomic uint64_t rtp_in, rtp_out, rtcp_other, data_in, data_out;
	/* Keyframe requests this session sent as a subscriber: dropped by
	 * its publisher's throttle, and passed on (in = the two together). */
	_Atomic uint64_t keyframe_requests_throttled, keyframe_requests_passed;
	/* RFC 6464 levels of this publisher's audio packets: their sum and
	 * how many carried one. Running totals; Go takes deltas. */
	_Atomic uint64_t audio_level_sum, audio_level_packets;
} cj_counters;

typedef struct cj_session {
	sfu_plugin_session *handle;
	uint64_t id;
	_Atomic(cj_routes *) routes[CJ_ROUTE_COUNT];
	_Atomic int dead;
	/* Payload-type rewrite for this publisher's RTP: bytes [audio from,
	 * audio to, video from, video to], 0xff = none, stored as one word so
	 * a reader of the word never sees half a map. The hot path compares
	 * single bytes and, on a match, reads the word again. */
	union {
		uint32_t word;
		uint8_t b[4];
	} ptmap;
	/* Keyframe requests sent to this session as a publisher: none before
	 * this time (cj_clock_us), 0 = none sent or no throttle. */
	_Atomic int64_t keyframe_quiet_until_us;
	_Atomic uint32_t fir_seq;
	/* Whether we hold the reference on handle that Janus gives the plugin
	 * (noted at Janus's first call after create_session, see
	 * cj_session_id_hold). In what was padding: the hot path's fields keep
	 * their offsets. */
	_Atomic int held;
	_Atomic uint64_t keyframes_sent;
	cj_counters c;
	/* The two multistream route kinds (1.x), after everything the classic
	 * path reads, so that its offsets stay as they were: the subscribers
	 * this publisher's RTP and plain RTCP go to per m-line, and, for a
	 * multistream subscriber, the publisher (cj_session*, NULL = none)
	 * behind each of its m-lines (items[mindex]), where its PLI/FIR go. */
	_Atomic(cj_stream_routes *) streams;
	_Atomic(cj_routes *) keyframe_by_mindex;
	/* The RTP header extension id of this publisher's audio level, 0 =
	 * none: its audio packets are parsed for it. */
	_Atomic uint8_t audio_level_ext;
	/* The data group this publisher sends through when routes[DATA] is
	 * NULL (NULL = none). Not owned: Go frees groups. */
	_Atomic(cj_group *) data_group;
} __attribute__((aligned(64))) cj_session;

/* A session's relay counters as Go reads them, by name. */
typedef struct cj_relay_stats {
	uint64_t rtp_in, rtp_out;
	uint64_t rtcp_in; /* every RTCP packet, keyframe requests included */
	uint64_t data_in, data_out;
	uint64_t keyframe_requests_in; /* sent by this session as a subscriber */
	uint64_t keyframes_sent;       /* to this session as a publisher */
	uint64_t keyframes_throttled;  /* of this session's requests, dropped */
} cj_relay_stats;

/* Tests set this so that freed routes and sessions are overwritten first:
 * a reader still holding one would then crash instead of passing silently. */
extern int cj_debug_poison;

/* Sessions and routes, driven by Go. cj_session_new touches nothing of the
 * handle but plugin_handle: Janus calls create_session before it
 * initialises the handle's refcount. */
cj_session *cj_session_new(sfu_plugin_session *h, uint64_t id);
uint64_t cj_session_id(sfu_plugin_session *h);
uint64_t cj_session_id_hold(sfu_plugin_session *h);
void cj_session_detach(cj_session *s);
void cj_session_free(cj_session *s);
sfu_plugin_session *cj_session_handle(cj_session *s);
void cj_set_keyframe_interval(int64_t us);
void cj_session_set_ptmap(cj_session *s, int audio_from, int audio_to, int video_from, int video_to);
void cj_session_stats(cj_session *s, cj_relay_stats *out);
cj_routes *cj_routes_new(void **items, uint32_t n);
/* Multistream routes: Go fills an allocated list's items, then publishes
 * it (which counts the items per kind); swaps return the replaced list
 * for freeing after a grace period. */
cj_stream_routes *cj_stream_routes_alloc(uint32_t n);
cj_stream_routes *cj_streams_swap(cj_session *s, cj_stream_routes *r);
void cj_stream_routes_free(cj_stream_routes *r);
cj_routes *cj_keyframe_by_mindex_swap(cj_session *s, cj_routes *r);
/* Audio level: the extension id (0 = off; 1..255) and the totals. */
void cj_session_set_audio_level_ext(cj_session *s, int ext_id);
void cj_session_audio_level(cj_session *s, uint64_t *sum, uint64_t *packets);
cj_routes *cj_routes_swap(cj_session *s, int which, cj_routes *r);
void cj_routes_free(cj_routes *r);
/* Data groups: swaps return what they replaced. A group is freed (with
 * any members still in it) a grace period after the last session stopped
 * pointing at it. */
cj_group *cj_group_new(void);
cj_routes *cj_group_swap(cj_group *g, cj_routes *r);
cj_group *cj_session_group_swap(cj_session *s, cj_group *g);
void cj_group_free(cj_group *g);

/* Hot path (also the janus_plugin slots). */
void cj_incoming_rtp_v0(sfu_plugin_session *h, void *packet);
void cj_incoming_rtp_v1(sfu_plugin_session *h, void *packet);
void cj_incoming_rtcp_v0(sfu_plugin_session *h, void *packet);
void cj_incoming_rtcp_v1(sfu_plugin_session *h, void *packet);
void cj_incoming_data(sfu_plugin_session *h, sfu_data *packet);

/* Keyframe request to a publisher, throttled per publisher. fir != 0 sends
 * an RTCP FIR with the publisher's own sequence number, else a PLI. */
void cj_request_keyframe(cj_session *pub, int fir);

#endif
