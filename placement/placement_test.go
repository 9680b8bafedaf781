package placement

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/placement/redistest"
)

// testLog counts warnings and errors, so tests can check what is logged
// once per outage.
type testLog struct {
	t        testing.TB
	mu       sync.Mutex
	warnings []string
	errors   []string
}

func (l *testLog) Errorf(f string, a ...any) {
	l.mu.Lock()
	l.errors = append(l.errors, fmt.Sprintf(f, a...))
	l.mu.Unlock()
	l.t.Logf("ERROR "+f, a...)
}
func (l *testLog) Warnf(f string, a ...any) {
	l.mu.Lock()
	l.warnings = append(l.warnings, fmt.Sprintf(f, a...))
	l.mu.Unlock()
	l.t.Logf("WARN "+f, a...)
}
func (l *testLog) Infof(f string, a ...any)    { l.t.Logf("INFO "+f, a...) }
func (l *testLog) Verbosef(f string, a ...any) {}

func (l *testLog) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, w := range l.warnings {
		if strings.Contains(w, substr) {
			n++
		}
	}
	return n
}

func newDir(t *testing.T, url, self string, lease time.Duration) (*Directory, *testLog) {
	t.Helper()
	log := &testLog{t: t}
	d, err := New(Options{URL: url, Self: self, Lease: lease, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	t.Cleanup(func() {
		if len(log.errors) > 0 {
			t.Errorf("%s logged errors: %q", self, log.errors)
		}
	})
	return d, log
}

func mustClaim(t *testing.T, d *Directory, room, want string) {
	t.Helper()
	owner, err := d.Claim(room)
	if err != nil || owner != want {
		t.Fatalf("%s: Claim(%q) = %q, %v; want %q", d.opts.Self, room, owner, err, want)
	}
}

func owner(t *testing.T, d *Directory, room string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	o, err := d.Owner(ctx, room)
	if err != nil {
		t.Fatalf("Owner(%q): %v", room, err)
	}
	return o
}

func (d *Directory) isDown() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.down
}

func tryOwner(d *Directory, room string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	return d.Owner(ctx, room)
}

// eventually polls cond for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClaimRefusesOtherHostUntilReleased(t *testing.T) {
	r := redistest.Start(t, "127.0.0.1")
	a, _ := newDir(t, r.URL(), "ws://a", 3*time.Second)
	b, _ := newDir(t, r.URL(), "ws://b", 3*time.Second)

	mustClaim(t, a, "room1", "")
	mustClaim(t, b, "room1", "ws://a") // refused, with the owner
	mustClaim(t, a, "room1", "")       // a second join on the owner
	a.Release("room1")
	if got := owner(t, b, "room1"); got != "ws://a" {
		t.Fatalf("one of two joins left: owner %q, want ws://a", got)
	}
	a.Release("room1")
	eventually(t, 2*time.Second, "lease deleted when the room emptied", func() bool { o, err := tryOwner(b, "room1"); return err == nil && o == "" })
	mustClaim(t, b, "room1", "")
	mustClaim(t, a, "room1", "ws://b")
	b.Release("room1")
	eventually(t, 2*time.Second, "b's release", func() bool { o, err := tryOwner(a, "room1"); return err == nil && o == "" })
	a.mu.Lock()
	n := len(a.rooms)
	a.mu.Unlock()
	if n != 0 {
		t.Fatalf("a keeps %d room entries after everything was released", n)
	}
}

func TestLeaseRenewedWhileLiveAndExpiresWhenHostDies(t *testing.T) {
	r := redistest.Start(t, "127.0.0.1")
	lease := time.Second
	a, _ := newDir(t, r.URL(), "ws://a", lease)
	b, _ := newDir(t, r.URL(), "ws://b", lease)
	mustClaim(t, a, "live", "")
	time.Sleep(3 * lease) // three lease lengths: only renewals keep it
	mustClaim(t, b, "live", "ws://a")

	// a dies: renewals stop, nothing is released.
	close(a.stop)
	<-a.done
	died := time.Now()
	eventually(t, 2*lease, "the dead host's lease expired", func() bool { o, err := tryOwner(b, "live"); return err == nil && o == "" })
	t.Logf("room free %v after the host stopped renewing (lease %v)", time.Since(died).Round(10*time.Millisecond), lease)
	mustClaim(t, b, "live", "")
	a.mu.Lock()
	a.closed = true // Close must not release: a is dead
	a.mu.Unlock()
}

func TestCloseReleasesLeases(t *testing.T) {
	r := redistest.Start(t, "127.0.0.1")
	a, err := New(Options{URL: r.URL(), Self: "ws://a", Lease: time.Minute, Log: &testLog{t: t}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newDir(t, r.URL(), "ws://b", time.Minute)
	mustClaim(t, a, "x", "")
	mustClaim(t, a, "y", "")
	a.Close()
	if _, err := a.Claim("z"); err != ErrClosed {
		t.Fatalf("Claim after Close: %v, want ErrClosed", err)
	}
	for _, room := range []string{"x", "y"} {
		if got := owner(t, b, room); got != "" {
			t.Fatalf("room %s still owned by %q after its host closed", room, got)
		}
	}
}

func TestRedisOutage(t *testing.T) {
	r := redistest.Start(t, "127.0.0.1")
	lease := time.Second
	// a's renewals run when the test says, so that the race below (who
	// claims first after the outage) has a known outcome.
	alog := &testLog{t: t}
	a, err := New(Options{URL: r.URL(), Self: "ws://a", Lease: lease, Log: alog, renewEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	b, _ := newDir(t, r.URL(), "ws://b", lease)
	var lostMu sync.Mutex
	lostRooms := map[string]string{}
	a.OnLost(func(room, owner string) {
		lostMu.Lock()
		lostRooms[room] = owner
		lostMu.Unlock()
		a.Release(room) // the SFU ends the room's one session here
	})
	mustClaim(t, a, "before", "")

	r.Kill()
	// The first call that meets the outage waits at most the timeout; the
	// ones after it do not wait at all.
	start := time.Now()
	mustClaim(t, a, "during1", "")
	if d := time.Since(start); d > 4*DefaultTimeout {
		t.Fatalf("claim during an outage took %v", d)
	}
	start = time.Now()
	for i := range 20 {
		mustClaim(t, a, fmt.Sprintf("during-%d", i), "")
	}
	if d := time.Since(start); d > DefaultTimeout {
		t.Fatalf("20 claims during a known outage took %v", d)
	}
	mustClaim(t, a, "before", "") // a live room keeps admitting
	mustClaim(t, a, "contested", "")
	a.renew() // renewals fail meanwhile
	a.renew()
	if n := alog.count("Redis unreachable"); n != 1 {
		t.Fatalf("outage logged %d times, want once", n)
	}

	r.Restart() // empty: every lease is gone
	// Another host takes one of the rooms a served locally, before a has
	// reconciled (a's next renewal is up to lease/3 away; go-redis's dialer
	// comes back within about a second).
	eventually(t, 3*time.Second, "b reaches Redis again", func() bool {
		o, err := b.Claim("contested")
		return err == nil && o == "" && !b.isDown()
	})
	eventually(t, 3*time.Second, "a reconciled", func() bool {
		a.renew()
		o, _ := tryOwner(b, "during1")
		return o == "ws://a"
	})
	if got := owner(t, b, "before"); got != "ws://a" {
		t.Fatalf("room live before the outage: owner %q after it, want ws://a", got)
	}
	// The contested room was served by a without a lease: a waits a full
	// lease (b keeps renewing it) before handing it back.
	contest := time.Now()
	eventually(t, 3*lease, "a hands back the contested room", func() bool {
		a.renew()
		lostMu.Lock()
		defer lostMu.Unlock()
		return lostRooms["contested"] == "ws://b"
	})
	if d := time.Since(contest); d < lease-100*time.Millisecond {
		t.Fatalf("handed back after %v, before a lease (%v) had shown the owner alive", d, lease)
	}
	lostMu.Lock()
	if len(lostRooms) != 1 {
		t.Fatalf("lost rooms %v, want only contested", lostRooms)
	}
	lostMu.Unlock()
	mustClaim(t, a, "contested", "ws://b") // new joins go to the owner
	if n := alog.count("Redis unreachable"); n != 1 {
		t.Fatalf("outage logged %d times, want once", n)
	}
}

// TestDeadOwnersLeaseRunsOut: a room served locally during an outage whose
// lease, once Redis is back, belongs to a host that died (it is not
// renewed) is kept: no session is ended, and the lease becomes ours.
func TestDeadOwnersLeaseRunsOut(t *testing.T) {
	r := redistest.Start(t, "127.0.0.1")
	lease := time.Second
	a, err := New(Options{URL: r.URL(), Self: "ws://a", Lease: lease, Log: &testLog{t: t}, renewEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	a.OnLost(func(room, owner string) { t.Errorf("room %s handed to %s", room, owner) })
	r.Kill()
	mustClaim(t, a, "x", "") // served locally
	r.Restart()
	// The dead host's lease, as it was when it died.
	b, _ := newDir(t, r.URL(), "ws://b", lease)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if err := b.client.Set(ctx, KeyPrefix+"x", "ws://dead", 700*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	cancel()
	eventually(t, 3*lease+2*time.Second, "a owns x", func() bool {
		a.renew()
		o, _ := tryOwner(b, "x")
		return o == "ws://a"
	})
}

func TestNoRedisAtStart(t *testing.T) {
	r := redistest.Start(t, "127.0.0.1")
	url := r.URL()
	r.Kill()
	start := time.Now()
	a, alog := newDir(t, url, "ws://a", time.Second)
	mustClaim(t, a, "room", "")
	if d := time.Since(start); d > 4*DefaultTimeout {
		t.Fatalf("start and first claim without Redis took %v", d)
	}
	if n := alog.count("Redis unreachable"); n != 1 {
		t.Fatalf("outage logged %d times, want once", n)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{URL: "redis://127.0.0.1:1", Lease: time.Second},
		{URL: "redis://127.0.0.1:1", Self: "ws://a", Lease: 10 * time.Millisecond},
		{URL: "http://nope", Self: "ws://a", Lease: time.Second},
	} {
		if d, err := New(o); err == nil {
			d.Close()
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// TestConcurrentJoinsAndLeaves races claims and releases of a few rooms on
// two hosts: every admitted join must be on the room's owner, and when all
// have left no lease and no entry remains.
func TestConcurrentJoinsAndLeaves(t *testing.T) {
	r := redistest.Start(t, "127.0.0.1")
	a, _ := newDir(t, r.URL(), "ws://a", 2*time.Second)
	b, _ := newDir(t, r.URL(), "ws://b", 2*time.Second)
	rooms := []string{"r0", "r1", "r2"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	live := map[string]map[string]int{} // room -> host -> joins admitted and not yet released
	for w := range 8 {
		d := []*Directory{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				room := rooms[(w+i)%len(rooms)]
				o, err := d.Claim(room)
				if err != nil {
					t.Error(err)
					return
				}
				if o != "" {
					continue
				}
				mu.Lock()
				if live[room] == nil {
					live[room] = map[string]int{}
				}
				live[room][d.opts.Self]++
				if len(live[room]) > 1 {
					t.Errorf("room %s split: %v", room, live[room])
				}
				mu.Unlock()
				time.Sleep(time.Duration(i%3) * time.Millisecond)
				mu.Lock()
				if live[room][d.opts.Self]--; live[room][d.opts.Self] == 0 {
					delete(live[room], d.opts.Self)
				}
				// Released under mu: the bookkeeping above must not see a
				// join admitted elsewhere before this release lands.
				d.Release(room)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, d := range []*Directory{a, b} {
		eventually(t, 2*time.Second, "entries gone", func() bool {
			d.mu.Lock()
			defer d.mu.Unlock()
			return len(d.rooms) == 0
		})
	}
	for _, room := range rooms {
		if o := owner(t, a, room); o != "" {
			t.Errorf("room %s still leased to %s", room, o)
		}
	}
}
