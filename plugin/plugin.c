/* The one symbol Janus looks up in a plugin. Everything else is reached
 * through the janus_plugin table that cjanus builds for the host's ABI. */
void *cj_create(void);

void *create(void) {
	return cj_create();
}
