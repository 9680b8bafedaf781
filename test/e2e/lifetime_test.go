package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// Janus frees a handle (and with its last handle the Janus session and the
// transport session) only once the plugin drops the reference Janus gave
// it at attach. A plugin that keeps it leaks every handle it ever served,
// silently: the handle is gone from every list. Janus logs each free at
// debug level 4 ("[id] Handle and related resources freed"), so this
// checks that every kind of handle is freed however it ends: detached
// with and without a PeerConnection, joined or not, and with its
// WebSocket closed without a detach.
func TestJanusFreesEveryHandle(t *testing.T) {
	requireNetns(t)
	s := startJanus(t, "")
	alice := newUser(t, s, "r", "alice")
	bob := newUser(t, s, "r", "bob")
	sub := bob.subscribe(alice)
	data := attach(t, bob.c)
	data.ok(join("r", "carol", pubSub, ""), nil)
	idle := attach(t, bob.c)

	handles := map[string]*janus.Handle{
		"publisher (WebSocket closed)": alice.pub.h,
		"publisher (detached)":         bob.pub.h,
		"subscriber (detached)":        sub.p.h,
		"data-only join (detached)":    data.h,
		"never joined (detached)":      idle.h,
	}
	for _, h := range []*janus.Handle{sub.p.h, data.h, idle.h, bob.pub.h} {
		if err := h.Detach(); err != nil {
			t.Fatalf("detach %d: %v", h.ID, err)
		}
	}
	if err := alice.c.Close(); err != nil {
		t.Fatalf("close alice's WebSocket: %v", err)
	}

	freed := func(h *janus.Handle) bool {
		return strings.Contains(s.Log(), fmt.Sprintf("[%d] %s", h.ID, janus.HandleFreedLog))
	}
	// Alice's session goes when Janus notices the closed transport; the
	// others a grace period after their detach.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var left []string
		for what, h := range handles {
			if !freed(h) {
				left = append(left, fmt.Sprintf("%s %d", what, h.ID))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Janus never freed these handles (the plugin kept a reference): %s", strings.Join(left, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
