package e2e

import (
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

func TestPluginLoads(t *testing.T) {
	s := startJanus(t, "")
	info, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	if !info.HasPlugin(janus.PluginPackage) {
		t.Fatalf("/janus/info does not list %s; plugins: %s\n%s", janus.PluginPackage, keys(info), s.Log())
	}
	t.Logf("plugin info: %s", info.Plugins[janus.PluginPackage])

	// A handle can be attached and detached.
	c := s.Connect(t)
	h, err := c.Attach(janus.PluginPackage)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	if err := h.Detach(); err != nil {
		t.Fatalf("detach: %v", err)
	}
	if err := c.Destroy(); err != nil {
		t.Fatalf("destroy: %v", err)
	}

	s.Stop() // SIGINT; Stop reports unclean exits and crash markers
	if s.Running() {
		t.Fatal("janus still running after Stop")
	}
}

func TestBadConfigNotLoaded(t *testing.T) {
	s := startJanus(t, "[general]\nmax_room_size = abc\n")
	info, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.HasPlugin(janus.PluginPackage) {
		t.Fatalf("plugin loaded despite malformed config:\n%s", s.Log())
	}
	// Janus itself keeps running and serving requests.
	time.Sleep(200 * time.Millisecond)
	if !s.Running() {
		t.Fatal("janus exited")
	}
	c := s.Connect(t)
	if _, err := c.Attach(janus.PluginPackage); err == nil {
		t.Fatal("attach to unloaded plugin succeeded")
	}
}

func keys(info *janus.ServerInfo) []string {
	var ks []string
	for k := range info.Plugins {
		ks = append(ks, k)
	}
	return ks
}
