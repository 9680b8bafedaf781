// Command plugin builds libjanus_plugin_sfu.so, the janus.plugin.sfu
// plugin: `go build -buildmode=c-shared`. It only wires the pieces together;
// the C ABI lives in cjanus and the SFU in sfu.
package main

import "C"

import (
	"runtime/debug"

	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus"
)

func init() {
	// Every Janus thread that has called into Go keeps an M until it
	// exits, and those count toward Go's thread limit (10,000 by default).
	// Without event_loops Janus runs one thread per handle, and handles grow
	// with users², so a busy server could reach that limit: Go would then
	// abort Janus. Janus's own limits (TasksMax, ulimit) should be the ones
	// that bite.
	debug.SetMaxThreads(1 << 20)
	cjanus.SetStart(start)
}

func main() {}
