package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/janus-sfu-go/janus-plugin-sfu/placement"
	"github.com/janus-sfu-go/janus-plugin-sfu/placement/redistest"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// EnvCluster must be set for the cluster test to run.
const EnvCluster = "SFU_CLUSTER"

// lease is room_lease_ms of the test's hosts: a killed host's rooms are
// free after at most this long.
const lease = 3 * time.Second

var dialer = &websocket.Dialer{HandshakeTimeout: 3 * time.Second, Subprotocols: []string{janus.Subprotocol}}

func TestMain(m *testing.M) {
	if os.Getenv(EnvCluster) == "" {
		os.Exit(m.Run()) // every test skips
	}
	if in, _ := janus.InNetns(clientNetns()); !in {
		// First run, in the root namespace: make the network, then run
		// again inside the client namespace; remove the network after.
		if err := netUp(); err != nil {
			fmt.Fprintf(os.Stderr, "cluster: %v\n", err)
			os.Exit(2)
		}
		err := janus.ReexecInNetns(clientNetns())
		netDown()
		fmt.Fprintf(os.Stderr, "cluster: cannot enter %s: %v\n", clientNetns(), err)
		os.Exit(2)
	}
	os.Setenv(janus.EnvE2E, "1") // test/janus.Start runs only with it
	code := m.Run()
	netDown() // the namespaces live on until their last process exits
	os.Exit(code)
}

// host is one Janus with the plugin in its own namespace.
type host struct {
	i    int
	name string // HAProxy's server name, the host= of its public_url
	srv  *janus.Server
}

func startHost(t *testing.T, i int, redisURL, lbAddr string) *host {
	t.Helper()
	name := fmt.Sprintf("janus%d", i)
	cfg := fmt.Sprintf("[general]\nredis_url = %s\npublic_url = %s\nroom_lease_ms = %d\n",
		redisURL, publicURL(lbAddr, name), lease.Milliseconds())
	srv := janus.Start(t, janus.Options{Netns: hostNetns(i), Bind: hostIP(i), Admin: true, SFUConfig: cfg})
	return &host{i: i, name: name, srv: srv}
}

func (h *host) backend() backend {
	var ws, http string
	ws = strings.TrimSuffix(strings.TrimPrefix(h.srv.WSURL, "ws://"), "/")
	http = strings.TrimSuffix(strings.TrimPrefix(h.srv.HTTPBase, "http://"), "/janus")
	port := 0
	fmt.Sscanf(http[strings.LastIndex(http, ":")+1:], "%d", &port)
	return backend{name: h.name, wsAddr: ws, httpPort: port}
}

func backends(hs []*host) []backend {
	var out []backend
	for _, h := range hs {
		out = append(out, h.backend())
	}
	return out
}

// TestCluster: 3 hosts, ≥ 12 rooms placed by HAProxy, every room on one
// host; a 4th host splits no live room; SIGKILL of a host moves only its
// rooms, whose clients meet again on one host within the lease; Redis
// down and back; no unexpected errors in any log.
func TestCluster(t *testing.T) {
	if os.Getenv(EnvCluster) == "" {
		t.Skip("set SFU_CLUSTER=1 (make cluster) to run the cluster test (root, janus, haproxy, redis-server)")
	}
	redistest.Require(t)
	requireHAProxy(t)
	began := time.Now()
	var all []*host // for the logs
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, h := range all {
			p := fmt.Sprintf("%s/sfu-cluster-%s.log", os.TempDir(), h.name)
			if os.WriteFile(p, []byte(h.srv.Log()), 0o644) == nil {
				t.Logf("%s's log kept in %s", h.name, p)
			}
		}
	})
	phase := func(name string) func() {
		start := time.Now()
		return func() { t.Logf("phase %-28s %6.1fs", name, time.Since(start).Seconds()) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	done := phase("start: redis, 3 janus, haproxy")
	redis := redistest.Start(t, bridgeIP())
	// The LB's address is known before the hosts start (it is in their
	// public_url); HAProxy starts once they are up.
	lbAddr := freeAddr(t, bridgeIP())
	var hs []*host
	for i := 1; i <= 3; i++ {
		hs = append(hs, startHost(t, i, redis.URL(), lbAddr))
	}
	lb := startLB(t, lbAddr, backends(hs))
	all = append(all, hs...)
	done()

	rooms := 12
	if !testing.Short() {
		rooms = 24
	}
	perRoom := 3
	var mu sync.Mutex
	users := map[string][]*user{} // room -> users, in join order
	addUser := func(room string) *user {
		t.Helper()
		mu.Lock()
		id := fmt.Sprintf("%s-u%d", room, len(users[room]))
		mu.Unlock()
		jctx, jcancel := context.WithTimeout(ctx, 20*time.Second)
		defer jcancel()
		u, err := join(jctx, lb.wsURL, room, id)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		users[room] = append(users[room], u)
		mu.Unlock()
		t.Cleanup(func() { u.c.Close() })
		return u
	}
	roomName := func(i int) string { return fmt.Sprintf("room%02d", i) }
	// checkWhole: every live room's users are on exactly one host, they all
	// met (each join listed the users before it), and Redis names that host.
	checkWhole := func(when string) map[string]string {
		t.Helper()
		where, err := placementOf(hs)
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]string{}
		mu.Lock()
		defer mu.Unlock()
		for room, us := range users {
			if len(where[room]) != 1 {
				var ids []string
				for _, u := range us {
					ids = append(ids, fmt.Sprintf("%s@%s alive=%v", u.id, u.url, u.alive()))
				}
				for _, h := range hs {
					r, err := h.rooms()
					t.Logf("%s: %v %v", h.name, r[room], err)
				}
				t.Fatalf("%s: room %s is on hosts %v; its users %v", when, room, where[room], ids)
			}
			owners[room] = where[room][0]
			var want []string
			for _, u := range us {
				want = append(want, u.id)
			}
			slices.Sort(want)
			for _, h := range hs {
				if h.name == owners[room] {
					got, _ := h.rooms()
					if !slices.Equal(got[room], want) {
						t.Fatalf("%s: room %s on %s has users %v, want %v", when, room, h.name, got[room], want)
					}
				}
			}
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			o, err := redisOwner(rctx, redis.URL(), room)
			rcancel()
			if err != nil || o != publicURL(lb.addr, owners[room]) {
				t.Fatalf("%s: room %s served by %s, Redis says %q (%v)", when, room, owners[room], o, err)
			}
		}
		return owners
	}
	spread := func(owners map[string]string) string {
		n := map[string]int{}
		for _, o := range owners {
			n[o]++
		}
		var parts []string
		for _, h := range hs {
			s, _ := h.summary()
			parts = append(parts, fmt.Sprintf("%s: %d rooms (summary: %v rooms, %v users)", h.name, n[h.name], s["rooms"], s["users"]))
		}
		return strings.Join(parts, "; ")
	}

	// Phase 1: rooms through the LB.
	done = phase("1: rooms on 3 hosts")
	var wg sync.WaitGroup
	for r := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perRoom {
				addUser(roomName(r))
			}
		}()
	}
	wg.Wait()
	owners := checkWhole("3 hosts")
	for room, us := range users {
		for i, u := range us {
			if len(u.met) != i {
				t.Fatalf("room %s: user %d met %v", room, i, u.met)
			}
		}
	}
	t.Logf("spread over 3 hosts: %s", spread(owners))
	if hostsUsed(owners) < 2 {
		t.Fatalf("consistent hashing put all %d rooms on one host: %v", rooms, owners)
	}
	// A host= naming no server is ignored: the room's hash decides.
	if u, err := joinAt(lb.wsURL("stray")+"&host=nosuch", "stray", "stray"); err != nil {
		t.Fatalf("join with an unknown host=: %v", err)
	} else {
		u.c.Close()
	}
	done()

	// Phase 2: a 4th host. New joins to live rooms still reach the room's
	// host: the LB's hash moved some rooms to janus4, which refuses them
	// with the owner's URL.
	done = phase("2: add a 4th host")
	h4 := startHost(t, 4, redis.URL(), lb.addr)
	hs = append(hs, h4)
	all = append(all, h4)
	lb.reload(backends(hs))
	for room, owner := range owners {
		_, err := joinAt(strings.TrimSuffix(h4.srv.WSURL, "/")+"/janus", room, "probe")
		var wh *errWrongHost
		if !errors.As(err, &wh) || wh.owner != publicURL(lb.addr, owner) {
			t.Fatalf("join to live room %s (on %s) straight at janus4: %v, want wrong_host naming %s", room, owner, err, owner)
		}
	}
	redirected := 0
	for r := range rooms {
		u := addUser(roomName(r))
		redirected += u.redirs
		if len(u.met) != perRoom {
			t.Fatalf("room %s: the new user met %v", u.room, u.met)
		}
	}
	// New rooms may go to janus4.
	for r := rooms; r < rooms+4; r++ {
		addUser(roomName(r))
	}
	owners = checkWhole("4 hosts")
	t.Logf("spread over 4 hosts: %s; %d joins to live rooms came through janus4 and were redirected", spread(owners), redirected)
	done()

	// Phase 3: SIGKILL one host. Its rooms' clients lose their websocket
	// and join again through the LB; the other rooms see nothing.
	done = phase("3: kill a host")
	victim := busiest(hs[:3], owners)
	for _, us := range users {
		for _, u := range us {
			u.takeEvents()
		}
	}
	victim.srv.Kill()
	killed := time.Now()
	var lost []string
	for room, o := range owners {
		if o == victim.name {
			lost = append(lost, room)
		}
	}
	slices.Sort(lost)
	if len(lost) == 0 {
		t.Fatalf("the victim %s served no room", victim.name)
	}
	for _, room := range lost {
		for _, u := range users[room] {
			select {
			case <-u.c.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("room %s user %s: websocket still open 5 s after its host died", room, u.id)
			}
		}
	}
	// Everyone of the lost rooms reconnects, concurrently, as adapters do.
	mu.Lock()
	lostUsers := map[string][]*user{}
	for _, room := range lost {
		lostUsers[room] = users[room]
		delete(users, room)
	}
	mu.Unlock()
	for _, room := range lost {
		for _, old := range lostUsers[room] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				jctx, jcancel := context.WithTimeout(ctx, lease+15*time.Second)
				defer jcancel()
				u, err := join(jctx, lb.wsURL, room, old.id)
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(func() { u.c.Close() })
				mu.Lock()
				users[room] = append(users[room], u)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	moved := time.Since(killed)
	hs = slices.DeleteFunc(hs, func(h *host) bool { return h == victim })
	after := checkWhole("after the kill")
	for room, o := range owners {
		if o != victim.name && after[room] != o {
			t.Fatalf("room %s moved from %s to %s though its host lives", room, o, after[room])
		}
	}
	// Users of a lost room meet again: the last to rejoin lists the others.
	for _, room := range lost {
		us := users[room]
		met := 0
		for _, u := range us {
			met = max(met, len(u.met))
		}
		if met != len(us)-1 {
			t.Fatalf("room %s: rejoined users met at most %d others, want %d", room, met, len(us)-1)
		}
	}
	for room, us := range users {
		if slices.Contains(lost, room) {
			continue
		}
		for _, u := range us {
			if !u.alive() {
				t.Fatalf("room %s user %s on a living host lost its connection", room, u.id)
			}
			if ev := u.takeEvents(); len(ev) != 0 {
				t.Fatalf("room %s user %s on a living host saw %v during the failover", room, u.id, ev)
			}
		}
	}
	t.Logf("killed %s: its %d rooms (%d users) met again on one host each %.1fs later (lease %v); %d other rooms untouched; %s",
		victim.name, len(lost), len(lost)*(perRoom+1), moved.Seconds(), lease, len(users)-len(lost), spread(after))
	if moved > lease+10*time.Second {
		t.Fatalf("failover took %v, more than the lease (%v) + 10 s", moved, lease)
	}
	done()

	// Phase 4: Redis goes away and comes back empty. Live rooms keep
	// working, new rooms are served, each host logs the outage once, and
	// the leases are back in Redis after it returns.
	done = phase("4: redis outage")
	redis.Kill()
	outage := time.Now()
	for r := rooms + 4; r < rooms+6; r++ {
		addUser(roomName(r)) // new rooms are served
	}
	addUser(roomName(0)) // live rooms keep admitting
	// Long enough for every host's renewals to fail, and for any lease to
	// have run out had Redis kept its data.
	time.Sleep(time.Until(outage.Add(lease + time.Second)))
	redis.Restart()
	deadline := time.Now().Add(lease + 5*time.Second)
	for {
		where, err := placementOf(hs)
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for room, hostsOf := range where {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			o, err := redisOwner(rctx, redis.URL(), room)
			rcancel()
			if err != nil || len(hostsOf) != 1 || o != publicURL(lb.addr, hostsOf[0]) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rooms without their lease in Redis %v after it returned", missing, lease+5*time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkWhole("after the Redis outage")
	for _, h := range hs {
		if n := strings.Count(h.srv.Log(), "placement: Redis unreachable"); n != 1 {
			t.Errorf("%s logged the Redis outage %d times, want once", h.name, n)
		}
	}
	done()

	// Logs: no errors but the expected ones.
	for _, h := range hs {
		log := h.srv.Log()
		t.Logf("%s log: %d [ERR] lines, %d [WARN] lines of the plugin", h.name, strings.Count(log, "[ERR]"),
			strings.Count(log, "[WARN] [janus.plugin.sfu]"))
		if bad := unexpectedErrors(h.srv.Log()); len(bad) > 0 {
			t.Errorf("%s logged unexpected errors:\n%s", h.name, strings.Join(bad, "\n"))
		}
	}
	mu.Lock()
	n := 0
	for _, us := range users {
		n += len(us)
	}
	mu.Unlock()
	t.Logf("cluster test: %d rooms, %d users, %d hosts left, %.1fs", len(users), n, len(hs), time.Since(began).Seconds())
}

func hostsUsed(owners map[string]string) int {
	seen := map[string]bool{}
	for _, o := range owners {
		seen[o] = true
	}
	return len(seen)
}

// busiest is the host serving the most rooms.
func busiest(hs []*host, owners map[string]string) *host {
	n := map[string]int{}
	for _, o := range owners {
		n[o]++
	}
	best := hs[0]
	for _, h := range hs {
		if n[h.name] > n[best.name] {
			best = h
		}
	}
	return best
}

// expectedWarnings are the plugin's warnings that the test provokes on
// purpose; no error at all is expected.
var expectedWarnings = []*regexp.Regexp{regexp.MustCompile(`placement: Redis unreachable`)}

// unexpectedErrors returns the error lines of a Janus log (Janus's own
// [ERR] and the plugin's) and the plugin's warnings that no expected
// pattern covers.
func unexpectedErrors(log string) []string {
	var bad []string
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(line, "[ERR]"):
			bad = append(bad, line)
		case strings.Contains(line, "[WARN] [janus.plugin.sfu]") &&
			!slices.ContainsFunc(expectedWarnings, func(re *regexp.Regexp) bool { return re.MatchString(line) }):
			bad = append(bad, line)
		}
	}
	return bad
}

// redisOwner reads a room's lease with a client of its own (a restarted
// Redis is then reached at once).
func redisOwner(ctx context.Context, url, room string) (string, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return "", err
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	o, err := c.Get(ctx, placement.KeyPrefix+room).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return o, err
}
