package janus

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const echotestSO = "/usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_echotest.so"

func echotestPlugin(t *testing.T) string {
	RequireE2E(t)
	dir := t.TempDir()
	dst := filepath.Join(dir, "libjanus_echotest.so")
	if err := copyFile(echotestSO, dst); err != nil {
		t.Fatalf("need Debian's janus package: %v", err)
	}
	return dst
}

// exerciseEchotest checks the client end to end against Janus's echotest.
func exerciseEchotest(t *testing.T, s *Server) {
	info, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	if !info.HasPlugin("janus.plugin.echotest") || info.HasPlugin(PluginPackage) {
		t.Fatalf("plugins: %v", info.Plugins)
	}
	c := s.Connect(t)
	h, err := c.Attach("janus.plugin.echotest")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := h.Message(map[string]any{"audio": true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Echotest string `json:"echotest"`
		Result   string `json:"result"`
	}
	if err := ev.Decode(&d); err != nil || d.Echotest != "event" || d.Result != "ok" {
		t.Fatalf("echotest reply %s (%v)", ev.Data, err)
	}
	if _, err := c.Attach("janus.plugin.nonexistent"); err == nil {
		t.Fatal("attach to missing plugin succeeded")
	}
	if err := h.Detach(); err != nil {
		t.Fatal(err)
	}
	select {
	case sig := <-h.Signals():
		if sig.Type != "detached" {
			t.Fatalf("signal %+v", sig)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no detached signal")
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
}

func TestServerEchotest(t *testing.T) {
	s := Start(t, Options{PluginPath: echotestPlugin(t)})
	exerciseEchotest(t, s)
	if !strings.Contains(s.Log(), "JANUS EchoTest plugin initialized") {
		t.Fatalf("log lacks plugin init:\n%s", s.Log())
	}
	s.Stop()
	if s.Running() {
		t.Fatal("still running after Stop")
	}
	if !strings.Contains(s.Log(), "Bye!") {
		t.Fatal("no clean shutdown in log")
	}
}

// TestServerEchotestNetns runs Janus inside a scripts/netns.sh namespace
// (SFU_E2E_NETNS, default sfutest; skipped if it does not exist).
func TestServerEchotestNetns(t *testing.T) {
	RequireE2E(t)
	ns := os.Getenv("SFU_E2E_NETNS")
	if ns == "" {
		ns = "sfutest"
	}
	if _, err := os.Stat("/run/netns/" + ns); err != nil {
		t.Skipf("network namespace %s missing: run scripts/netns.sh up %s", ns, ns)
	}
	s := Start(t, Options{PluginPath: echotestPlugin(t), Netns: ns})
	// The pid must be janus itself (ip netns exec execs), so SIGINT reaches it.
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(s.PID) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "janus" {
		t.Fatalf("pid %d is %q (%v), want janus", s.PID, comm, err)
	}
	if in, _ := InNetns(ns); !in {
		// Janus listens on 127.0.0.1 inside the namespace only.
		if _, err := Info(s.HTTPBase); err == nil {
			t.Fatal("reached namespaced janus without the netns dialer")
		}
	}
	exerciseEchotest(t, s)
}
