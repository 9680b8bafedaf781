/*
 * fakejanus.c: what every fake Janus host exports to the plugin and does
 * for it, the same way Janus does (see fakejanus.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakejanus.h"

int janus_version = 0;
int janus_log_level = 4; /* LOG_INFO */
int janus_log_timestamps = 0;
static atomic_int vprintf_calls;

void janus_vprintf(const char *format, ...) {
	atomic_fetch_add(&vprintf_calls, 1);
	va_list ap;
	va_start(ap, format);
	fputs("# janus: ", stderr);
	vfprintf(stderr, format, ap);
	va_end(ap);
}

int fj_vprintf_calls(void) { return atomic_load(&vprintf_calls); }

h_plugin *fj_load(const char *lib, void **dl, const char **err) {
	*err = NULL;
	*dl = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
	if (!*dl) {
		*err = dlerror();
		return NULL;
	}
	void *(*create)(void) = (void *(*)(void))dlsym(*dl, "create");
	if (!create) {
		*err = "the library exports no create()";
		return NULL;
	}
	h_plugin *p = create();
	if (!p)
		*err = "create() returned NULL";
	return p;
}

char *fj_config_dir(const char *contents) {
	char tmpl[] = "/tmp/fakejanus-XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir)
		return NULL;
	dir = strdup(dir);
	if (contents) {
		char path[512];
		snprintf(path, sizeof(path), "%s/janus.plugin.sfu.cfg", dir);
		FILE *f = fopen(path, "w");
		if (!f)
			return dir;
		fputs(contents, f);
		fclose(f);
	}
	return dir;
}

void fj_config_dir_remove(char *dir) {
	if (!dir)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/janus.plugin.sfu.cfg", dir);
	unlink(path);
	rmdir(dir);
	free(dir);
}

static atomic_int poisoned_frees;

static void poisoned_free(const h_refcount *r) {
	(void)r;
	atomic_fetch_add(&poisoned_frees, 1);
}

int fj_poisoned_frees(void) { return atomic_load(&poisoned_frees); }

int fj_create_session(h_plugin *p, h_session *h, void (*free_fn)(const h_refcount *), int *ref_touched) {
	h->plugin_handle = NULL;
	h->stopped = 0;
	h->ref.count = FJ_REF_POISON;
	h->ref.free = poisoned_free;
	int err = 1234;
	p->create_session(h, &err);
	if (ref_touched)
		*ref_touched = h->ref.count != FJ_REF_POISON || h->ref.free != poisoned_free;
	if (err == 0) {
		h->ref.count = 2; /* janus_refcount_init, then the plugin's reference */
		h->ref.free = free_fn;
	}
	return err;
}
