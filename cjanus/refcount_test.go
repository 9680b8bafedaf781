package cjanus

import (
	"testing"
	"time"
	"unsafe"

	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus/ctest"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// create_session's error path: Janus g_frees a handle whose create_session
// failed without ever setting its refcount up, so the plugin must free its
// own state and leave the refcount alone (the poisoned free aborts).
func TestCreateSessionErrorLeavesRefcountAlone(t *testing.T) {
	f := newFixture(t, 1)
	h := ctest.NewHandle()
	defer ctest.FreeHandle(h)
	id, err := f.g.attach(h)
	if err != nil {
		t.Fatal(err)
	}
	if got := ctest.Count(h, ctest.RefCount); got != ctest.RefPoison {
		t.Fatalf("create_session touched the uninitialised refcount (%#x)", got)
	}
	// What cjGoCreateSession does when the Host refuses the session.
	f.g.detach(id)
	f.publish(nil, []sfu.SessionID{id})
	if got := ctest.Count(h, ctest.RefCount); got != ctest.RefPoison {
		t.Fatalf("refcount %#x after the error path, want it untouched (%#x)", got, ctest.RefPoison)
	}
	if _, ok := f.g.Stats(id); ok {
		t.Fatal("the failed session is still known")
	}
}

// A session whose handle was destroyed before any message still balances
// the reference its first control call took.
func TestHoldReleasedWithoutMessages(t *testing.T) {
	f := newFixture(t, 0)
	id, h := f.session()
	f.publish(nil, []sfu.SessionID{id})
	if got := ctest.Count(h, ctest.RefCount); got != 1 {
		t.Fatalf("refs %d after release, want 1 (Janus's own)", got)
	}
}

// membarrier(2) failing after readers came to rely on it: the writer must
// switch them to fences before it trusts a fence of its own. Reader
// threads relay through routes that are swapped and freed (poisoned) while
// the failure is injected; a reader that used freed routes would crash or
// miscount.
func TestMembarrierFailureSwitchesReadersToFences(t *testing.T) {
	f := newFixture(t, 1)
	if !ctest.MembarrierInUse() {
		t.Skip("membarrier(2) unavailable here: readers fence from the start")
	}
	pub, ph := f.session()
	var subs []sfu.SessionID
	for i := 0; i < 4; i++ {
		s, _ := f.session()
		subs = append(subs, s)
	}
	before := ctest.RCUFallbacks()
	ctest.StartReaders([]unsafe.Pointer{ph}, 2)
	ctest.FailMembarrier(true)
	defer ctest.FailMembarrier(false)
	deadline := time.Now().Add(300 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		f.publish([]sfu.RouteUpdate{{Session: pub, Routes: sfu.Routes{RTP: subs[:1+i%len(subs)]}}}, nil)
	}
	if n := ctest.StopReaders(); n == 0 {
		t.Fatal("the readers relayed nothing")
	}
	if ctest.MembarrierInUse() {
		t.Fatal("still relying on membarrier after it failed")
	}
	if !ctest.EpochFenced() {
		t.Fatal("the epoch does not tell readers to fence")
	}
	if got := ctest.RCUFallbacks() - before; got != 1 {
		t.Fatalf("%d switches to fences, want exactly 1", got)
	}
	f.publish(nil, append(subs, pub))
}
