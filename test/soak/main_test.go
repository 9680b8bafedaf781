// Package soak runs janus.plugin.sfu inside real Janus (Debian's 1.1.2) in
// a network namespace under churn: clients that join, publish, subscribe
// and leave, half of them abruptly, then checks that nothing is left
// behind (plugin sessions, rooms, users; Janus sessions), that Janus's RSS
// is flat over the second half, and that its log has no refcount warning.
// A second test stops Janus with SIGINT while 50 users send media.
//
// Environment (the tests skip unless SFU_SOAK is set; `make soak` sets it):
//
//	SFU_SOAK=1               run the tests
//	SFU_SOAK_NETNS=sfutest   network namespace (scripts/netns.sh up NAME)
//	SFU_SOAK_CYCLES=300      client cycles (full mode: 10000)
//	SFU_SOAK_CLIENTS=10      concurrent clients (full mode: 20)
//	SFU_SOAK_ROOM=5          clients per room
//	SFU_SOAK_BUDGET=2m       no cycle starts after this (full mode: 60m)
//	SFU_SOAK_MAX_SLOPE=N     bytes of Janus RSS per cycle allowed over the
//	                         second half (default 16384 from 2000 cycles
//	                         up, 65536 below: a short run's slope is noisy)
//	SFU_SOAK_BASELINE=videoroom  the same churn through Janus's videoroom
//	                         (no kick variant), for comparison
//	SFU_SOAK_NO_KICK=1       the plugin's kicked cycles close the transport
//	                         instead, as the baseline's do
//	SFU_SOAK_PLUGIN=path     plugin .so (default <repo>/libjanus_plugin_sfu.so)
//	SFU_SHUTDOWN_USERS=50    live media users of TestShutdownWithLiveMedia
package soak

import (
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

var suite = janus.Suite{Name: "soak", Gate: "SFU_SOAK", NetnsVar: "SFU_SOAK_NETNS", DefaultNetns: "sfutest"}

func TestMain(m *testing.M) { suite.Main(m) }
