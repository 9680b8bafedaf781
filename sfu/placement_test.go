package sfu

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// fakeDirectory owns every room unless told another host does, and counts
// the references the server holds.
type fakeDirectory struct {
	mu     sync.Mutex
	owners map[string]string // room -> other host's URL
	refs   map[string]int
	err    error
	t      testing.TB
}

func newFakeDirectory(t testing.TB) *fakeDirectory {
	return &fakeDirectory{owners: map[string]string{}, refs: map[string]int{}, t: t}
}

func (d *fakeDirectory) Claim(room string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return "", d.err
	}
	if o := d.owners[room]; o != "" {
		return o, nil
	}
	d.refs[room]++
	return "", nil
}

func (d *fakeDirectory) Release(room string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refs[room] == 0 {
		d.t.Errorf("Release(%q) without a reference", room)
		return
	}
	if d.refs[room]--; d.refs[room] == 0 {
		delete(d.refs, room)
	}
}

func (d *fakeDirectory) refsOf(room string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refs[room]
}

func TestPlacementWrongHost(t *testing.T) {
	dir := newFakeDirectory(t)
	dir.owners["elsewhere"] = "wss://sfu.example.com/janus?host=janus2"
	h := newHarness(t, Options{Rooms: dir})
	a := h.publisher("here", "a", true)
	s := h.session()
	h.offer(s, "offer-s")
	before := h.snapshot()
	p := h.send(s, joinJSON("elsewhere", "s", `{"notifications":true,"data":true}`), "")
	want := `{"error":{"code":"wrong_host","msg":"Room is served by another host.","owner":"wss://sfu.example.com/janus?host=janus2"},"success":false}`
	if p.RawBody != want {
		t.Fatalf("join to another host's room:\n got %s\nwant %s", p.RawBody, want)
	}
	if after := h.snapshot(); after != before {
		t.Fatalf("refused join changed state:\nbefore %s\nafter  %s", before, after)
	}
	if n := h.log.errors.Load(); n != 0 {
		t.Errorf("a refusal is not an error of ours: %d errors logged", n)
	}
	if dir.refsOf("elsewhere") != 0 || dir.refsOf("here") != 1 {
		t.Fatalf("refs: %v", dir.refs)
	}
	// The session may then join a room this host serves.
	h.ok(s, joinJSON("here", "s", `{"notifications":true,"data":true}`), "")
	if got := h.gw.eventBodies(a); !slices.Equal(got, []string{`{"event":"join","room_id":"here","user_id":"s"}`}) {
		t.Errorf("a's events: %v", got)
	}
}

func TestPlacementReferencesFollowSessions(t *testing.T) {
	dir := newFakeDirectory(t)
	h := newHarness(t, Options{Rooms: dir, MaxRoomSize: 2})
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	sub := h.subscriber("r", "a", "b")
	if n := dir.refsOf("r"); n != 3 {
		t.Fatalf("three joined handles hold %d references", n)
	}
	// Refused joins give their reference back.
	h.fail(h.session(), joinJSON("r", "c", `{"data":true}`), "", ErrRoomFull)
	h.fail(a, joinJSON("r", "a", `{"data":true}`), "", ErrJoinOnce)
	h.fail(h.session(), joinJSON("r", "x", `{"media":"nobody"}`), "", ErrNoPublisher)
	if n := dir.refsOf("r"); n != 3 {
		t.Fatalf("after refused joins: %d references, want 3", n)
	}
	unjoined := h.session()
	h.s.DestroySession(unjoined) // never joined: nothing to release
	for i, id := range []SessionID{sub, a, b} {
		h.s.DestroySession(id)
		h.s.settle() // destroy_session's work runs on the control goroutine
		if n, want := dir.refsOf("r"), 2-i; n != want {
			t.Fatalf("after %d leaves: %d references, want %d", i+1, n, want)
		}
	}
}

func TestPlacementClaimError(t *testing.T) {
	dir := newFakeDirectory(t)
	dir.err = errors.New("placement: directory closed")
	h := newHarness(t, Options{Rooms: dir})
	h.log.errors.Store(0)
	h.fail(h.session(), joinJSON("r", "a", `{"data":true}`), "", "placement: directory closed")
}

func TestEvictRoom(t *testing.T) {
	dir := newFakeDirectory(t)
	h := newHarness(t, Options{Rooms: dir})
	a := h.publisher("lost", "a", true)
	b := h.publisher("lost", "b", false)
	sub := h.subscriber("lost", "a", "b")
	other := h.publisher("kept", "c", true)
	h.s.EvictRoom("lost", "wss://owner")
	ended := h.gw.endedSessions()
	slices.Sort(ended)
	if !slices.Equal(ended, []SessionID{a, b, sub}) {
		t.Fatalf("ended %v, want %v", ended, []SessionID{a, b, sub})
	}
	want := `{"event":"wrong_host","owner":"wss://owner","room_id":"lost"}`
	for _, id := range []SessionID{a, b, sub} {
		if got := h.gw.eventBodies(id); !slices.Contains(got, want) {
			t.Errorf("session %d events %v, want %s", id, got, want)
		}
	}
	if got := h.gw.eventBodies(other); len(got) != 0 {
		t.Errorf("other room's session got %v", got)
	}
}
