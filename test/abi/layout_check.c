/*
 * layout-check: compares our own declarations of the Janus 1.x plugin ABI
 * (cjanus/abi.h) with the real thing, Debian's janus-dev headers
 * (/usr/include/janus/plugins/plugin.h), field by field: offset and size of
 * every field, and the size of every structure.
 *
 * Build: cc -I/usr/include/janus $(pkg-config --cflags glib-2.0 jansson) \
 *        -I../../cjanus layout_check.c
 *
 * The same comparisons run twice: as _Static_asserts (so a mismatch breaks
 * the build, with -DLAYOUT_STATIC) and at run time (TAP output, so every
 * mismatch is listed rather than only the first).
 */
#if defined(__has_include)
#if !__has_include("plugins/plugin.h")
#error "janus-dev headers not found: expected /usr/include/janus/plugins/plugin.h (install janus-dev, see scripts/install-deps.sh) and build with -I/usr/include/janus"
#endif
#endif

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include "plugins/plugin.h"

#include "abi.h"

static int n, pass, fail;

static void check(int cond, const char *what, size_t ours, size_t theirs) {
	n++;
	if (cond) {
		pass++;
		printf("ok %d - %s (%zu)\n", n, what, ours);
	} else {
		fail++;
		printf("not ok %d - %s (ours %zu, janus %zu)\n", n, what, ours, theirs);
	}
}

#define MSIZE(T, f) sizeof(((T *)0)->f)

#ifdef LAYOUT_STATIC
#define STATIC_FIELD(O, J, fo, fj)                                                                              \
	_Static_assert(offsetof(O, fo) == offsetof(J, fj), #O "." #fo " offset differs from " #J "." #fj);       \
	_Static_assert(MSIZE(O, fo) == MSIZE(J, fj), #O "." #fo " size differs from " #J "." #fj);
#define STATIC_SIZE(O, J) _Static_assert(sizeof(O) == sizeof(J), "sizeof " #O " differs from sizeof " #J);
#else
#define STATIC_FIELD(O, J, fo, fj)
#define STATIC_SIZE(O, J)
#endif

#define FIELD2(O, J, fo, fj)                                                                                          \
	do {                                                                                                           \
		check(offsetof(O, fo) == offsetof(J, fj), "offsetof " #O "." #fo " == " #J "." #fj, offsetof(O, fo),     \
			offsetof(J, fj));                                                                                  \
		check(MSIZE(O, fo) == MSIZE(J, fj), "sizeof " #O "." #fo " == " #J "." #fj, MSIZE(O, fo), MSIZE(J, fj)); \
	} while (0)
#define FIELD(O, J, f) FIELD2(O, J, f, f)
#define SIZE(O, J) check(sizeof(O) == sizeof(J), "sizeof " #O " == " #J, sizeof(O), sizeof(J))

/* The static half: the build fails on the first mismatch. */
STATIC_SIZE(sfu_plugin_v1, janus_plugin)
STATIC_SIZE(sfu_callbacks_v1, janus_callbacks)
STATIC_SIZE(sfu_plugin_session, janus_plugin_session)
STATIC_SIZE(sfu_rtcp_v1, janus_plugin_rtcp)
STATIC_SIZE(sfu_data, janus_plugin_data)
STATIC_SIZE(sfu_plugin_result, janus_plugin_result)
STATIC_SIZE(sfu_refcount, janus_refcount)
STATIC_FIELD(sfu_plugin_v1, janus_plugin, init, init)
STATIC_FIELD(sfu_plugin_v1, janus_plugin, incoming_rtp, incoming_rtp)
STATIC_FIELD(sfu_plugin_v1, janus_plugin, slow_link, slow_link)
STATIC_FIELD(sfu_plugin_v1, janus_plugin, query_session, query_session)
STATIC_FIELD(sfu_callbacks_v1, janus_callbacks, send_pli_stream, send_pli_stream)
STATIC_FIELD(sfu_callbacks_v1, janus_callbacks, close_pc, close_pc)
STATIC_FIELD(sfu_callbacks_v1, janus_callbacks, end_session, end_session)
STATIC_FIELD(sfu_plugin_session, janus_plugin_session, plugin_handle, plugin_handle)
STATIC_FIELD(sfu_plugin_session, janus_plugin_session, ref, ref)
STATIC_FIELD(sfu_rtp_v1, janus_plugin_rtp, mindex, mindex)
STATIC_FIELD(sfu_rtp_v1, janus_plugin_rtp, length, length)
STATIC_FIELD(sfu_data, janus_plugin_data, length, length)

int main(void) {
	printf("# Janus headers: JANUS_PLUGIN_API_VERSION %d; cjanus/abi.h: SFU_API_V1 %d\n", JANUS_PLUGIN_API_VERSION, SFU_API_V1);
	check(SFU_API_V1 >= JANUS_PLUGIN_API_VERSION, "SFU_API_V1 >= JANUS_PLUGIN_API_VERSION (Janus refuses lower)",
		(size_t)SFU_API_V1, (size_t)JANUS_PLUGIN_API_VERSION);

	/* janus_refcount */
	SIZE(sfu_refcount, janus_refcount);
	FIELD(sfu_refcount, janus_refcount, count);
	FIELD(sfu_refcount, janus_refcount, free);

	/* janus_plugin_session */
	SIZE(sfu_plugin_session, janus_plugin_session);
	FIELD(sfu_plugin_session, janus_plugin_session, gateway_handle);
	FIELD(sfu_plugin_session, janus_plugin_session, plugin_handle);
	FIELD(sfu_plugin_session, janus_plugin_session, stopped);
	FIELD(sfu_plugin_session, janus_plugin_session, ref);
	FIELD2(sfu_plugin_session, janus_plugin_session, ref.count, ref.count);
	FIELD2(sfu_plugin_session, janus_plugin_session, ref.free, ref.free);

	/* janus_plugin */
	SIZE(sfu_plugin_v1, janus_plugin);
	FIELD(sfu_plugin_v1, janus_plugin, init);
	FIELD(sfu_plugin_v1, janus_plugin, destroy);
	FIELD(sfu_plugin_v1, janus_plugin, get_api_compatibility);
	FIELD(sfu_plugin_v1, janus_plugin, get_version);
	FIELD(sfu_plugin_v1, janus_plugin, get_version_string);
	FIELD(sfu_plugin_v1, janus_plugin, get_description);
	FIELD(sfu_plugin_v1, janus_plugin, get_name);
	FIELD(sfu_plugin_v1, janus_plugin, get_author);
	FIELD(sfu_plugin_v1, janus_plugin, get_package);
	FIELD(sfu_plugin_v1, janus_plugin, create_session);
	FIELD(sfu_plugin_v1, janus_plugin, handle_message);
	FIELD(sfu_plugin_v1, janus_plugin, handle_admin_message);
	FIELD(sfu_plugin_v1, janus_plugin, setup_media);
	FIELD(sfu_plugin_v1, janus_plugin, incoming_rtp);
	FIELD(sfu_plugin_v1, janus_plugin, incoming_rtcp);
	FIELD(sfu_plugin_v1, janus_plugin, incoming_data);
	FIELD(sfu_plugin_v1, janus_plugin, data_ready);
	FIELD(sfu_plugin_v1, janus_plugin, slow_link);
	FIELD(sfu_plugin_v1, janus_plugin, hangup_media);
	FIELD(sfu_plugin_v1, janus_plugin, destroy_session);
	FIELD(sfu_plugin_v1, janus_plugin, query_session);
	/* The 0.x table has the same slots: only slow_link's arguments differ. */
	SIZE(sfu_plugin_v0, janus_plugin);
	FIELD(sfu_plugin_v0, janus_plugin, slow_link);
	FIELD(sfu_plugin_v0, janus_plugin, query_session);

	/* janus_callbacks */
	SIZE(sfu_callbacks_v1, janus_callbacks);
	FIELD(sfu_callbacks_v1, janus_callbacks, push_event);
	FIELD(sfu_callbacks_v1, janus_callbacks, relay_rtp);
	FIELD(sfu_callbacks_v1, janus_callbacks, relay_rtcp);
	FIELD(sfu_callbacks_v1, janus_callbacks, relay_data);
	FIELD(sfu_callbacks_v1, janus_callbacks, send_pli);
	FIELD(sfu_callbacks_v1, janus_callbacks, send_pli_stream);
	FIELD(sfu_callbacks_v1, janus_callbacks, send_remb);
	FIELD(sfu_callbacks_v1, janus_callbacks, close_pc);
	FIELD(sfu_callbacks_v1, janus_callbacks, end_session);
	FIELD(sfu_callbacks_v1, janus_callbacks, events_is_enabled);
	FIELD(sfu_callbacks_v1, janus_callbacks, notify_event);
	FIELD(sfu_callbacks_v1, janus_callbacks, auth_is_signed);
	FIELD(sfu_callbacks_v1, janus_callbacks, auth_is_signature_valid);
	FIELD(sfu_callbacks_v1, janus_callbacks, auth_signature_contains);
	/* The 0.x table is exactly one pointer shorter (no send_pli_stream). */
	check(sizeof(sfu_callbacks_v0) + sizeof(void *) == sizeof(janus_callbacks), "sizeof sfu_callbacks_v0 + one pointer == janus_callbacks",
		sizeof(sfu_callbacks_v0) + sizeof(void *), sizeof(janus_callbacks));

	/* janus_plugin_rtp: we declare only the prefix up to length. */
	FIELD(sfu_rtp_v1, janus_plugin_rtp, mindex);
	FIELD(sfu_rtp_v1, janus_plugin_rtp, video);
	FIELD(sfu_rtp_v1, janus_plugin_rtp, buffer);
	FIELD(sfu_rtp_v1, janus_plugin_rtp, length);
	check(sizeof(sfu_rtp_v1) <= sizeof(janus_plugin_rtp), "sizeof sfu_rtp_v1 <= janus_plugin_rtp (prefix)", sizeof(sfu_rtp_v1),
		sizeof(janus_plugin_rtp));

	/* janus_plugin_rtcp: complete. */
	SIZE(sfu_rtcp_v1, janus_plugin_rtcp);
	FIELD(sfu_rtcp_v1, janus_plugin_rtcp, mindex);
	FIELD(sfu_rtcp_v1, janus_plugin_rtcp, video);
	FIELD(sfu_rtcp_v1, janus_plugin_rtcp, buffer);
	FIELD(sfu_rtcp_v1, janus_plugin_rtcp, length);

	/* janus_plugin_data */
	SIZE(sfu_data, janus_plugin_data);
	FIELD(sfu_data, janus_plugin_data, label);
	FIELD(sfu_data, janus_plugin_data, protocol);
	FIELD(sfu_data, janus_plugin_data, binary);
	FIELD(sfu_data, janus_plugin_data, buffer);
	FIELD(sfu_data, janus_plugin_data, length);

	/* janus_plugin_result */
	SIZE(sfu_plugin_result, janus_plugin_result);
	FIELD(sfu_plugin_result, janus_plugin_result, type);
	FIELD(sfu_plugin_result, janus_plugin_result, text);
	FIELD(sfu_plugin_result, janus_plugin_result, content);
	check(SFU_RESULT_ERROR == JANUS_PLUGIN_ERROR && SFU_RESULT_OK == JANUS_PLUGIN_OK && SFU_RESULT_OK_WAIT == JANUS_PLUGIN_OK_WAIT,
		"result type values match janus_plugin_result_type", (size_t)SFU_RESULT_OK_WAIT, (size_t)JANUS_PLUGIN_OK_WAIT);

	printf("%d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
