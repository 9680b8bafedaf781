// Package e2e holds end-to-end tests that run the built plugin
// (libjanus_plugin_sfu.so, from `make`) inside a real Janus. They skip unless
// SFU_E2E=1 is set (make test does).
//
// Environment:
//
//	SFU_E2E=1            run the tests (otherwise they skip)
//	SFU_E2E_PLUGIN=path  plugin .so to test (default <repo>/libjanus_plugin_sfu.so)
//	SFU_E2E_NETNS=name   re-exec the whole test binary inside this network
//	                     namespace (scripts/netns.sh up name) so WebRTC peers
//	                     and Janus share it; tests then pass Netns: Netns()
//	SFU_E2E_LOGDIR=dir   keep a copy of every Janus log there
//	SFU_JANUS_BIN, SFU_JANUS_TRANSPORTS  another Janus (see test/janus)
package e2e

import (
	"os"
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

var suite = janus.Suite{Name: "e2e", Gate: janus.EnvE2E, NetnsVar: "SFU_E2E_NETNS"}

func TestMain(m *testing.M) { suite.Main(m) }

// requireE2E skips t unless SFU_E2E is set. Every test that starts Janus
// calls it (janus.Start does not gate).
func requireE2E(t testing.TB) {
	t.Helper()
	suite.Require(t)
}

// Netns is the network namespace the tests run in (SFU_E2E_NETNS), or "".
func Netns() string { return suite.Netns() }

// startJanus starts Janus with the plugin under test and cfg as
// janus.plugin.sfu.cfg (none when empty).
func startJanus(t testing.TB, cfg string) *janus.Server {
	t.Helper()
	requireE2E(t)
	return janus.Start(t, janus.Options{
		PluginPath: os.Getenv("SFU_E2E_PLUGIN"),
		SFUConfig:  cfg,
		Netns:      Netns(),
	})
}
