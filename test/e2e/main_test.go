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
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

func TestMain(m *testing.M) {
	if os.Getenv(janus.EnvE2E) != "" {
		if ns := Netns(); ns != "" {
			if err := janus.ReexecInNetns(ns); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: cannot enter network namespace %s: %v\n", ns, err)
				os.Exit(2)
			}
		}
	}
	os.Exit(m.Run())
}

// requireE2E skips t unless SFU_E2E is set.
func requireE2E(t testing.TB) {
	t.Helper()
	if os.Getenv(janus.EnvE2E) == "" {
		t.Skip("set SFU_E2E=1 (make test does) to run end-to-end tests against real Janus")
	}
}

// Netns is the network namespace the tests run in (SFU_E2E_NETNS), or "".
func Netns() string { return os.Getenv("SFU_E2E_NETNS") }

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
