/*
 * Logging through Janus's logger: janus_vprintf with Janus's own level and
 * timestamp settings, looked up in the host process (a plugin links against
 * no Janus library).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "host.h"
#include "log.h"

static void (*janus_vprintf_fn)(const char *format, ...);
static int *janus_log_level_ptr;
static int *janus_log_timestamps_ptr;

void cj_log_bind(void) {
	janus_vprintf_fn = dlsym(RTLD_DEFAULT, "janus_vprintf");
	janus_log_level_ptr = dlsym(RTLD_DEFAULT, "janus_log_level");
	janus_log_timestamps_ptr = dlsym(RTLD_DEFAULT, "janus_log_timestamps");
}

static const char *level_prefix(int level) {
	switch (level) {
	case CJ_LOG_FATAL: return "[FATAL] ";
	case CJ_LOG_ERR: return "[ERR] ";
	case CJ_LOG_WARN: return "[WARN] ";
	default: return "";
	}
}

int cj_log_enabled(int level) {
	int max = janus_log_level_ptr ? *janus_log_level_ptr : CJ_LOG_INFO;
	return level <= max;
}

void cj_log(int level, const char *msg) {
	if (!cj_log_enabled(level))
		return;
	char ts[64] = "";
	if (janus_log_timestamps_ptr && *janus_log_timestamps_ptr) {
		struct tm tm;
		time_t now = time(NULL);
		localtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "[%a %b %e %T %Y] ", &tm);
	}
	if (janus_vprintf_fn)
		janus_vprintf_fn("%s%s[" CJ_PACKAGE "] %s\n", ts, level_prefix(level), msg);
	else
		fprintf(stderr, "%s[" CJ_PACKAGE "] %s\n", level_prefix(level), msg);
}

void cj_logf(int level, const char *fmt, ...) {
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cj_log(level, buf);
}
