package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
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

// gapLimit bounds the largest audio gap of a room whose host lives, through
// a host joining, a host dying and Redis going away. It is a gross bound
// (a room that moved or a stalled relay), far above what scheduling on a
// loaded machine causes; the gaps measured are logged.
const gapLimit = 5 * time.Second

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
// host, two users of each exchanging media; a 4th host splits no live room;
// SIGKILL of a host moves only its rooms, whose clients meet again on one
// host within the lease and exchange media again; Redis down and back; the
// other rooms' media flows throughout; the exporter sees every host; no
// unexpected errors in any log.
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
	bound := 240 * time.Second // the whole test's, for every wait in it
	if !testing.Short() {
		bound = 420 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
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
	users := map[string][]*user{}      // room -> users, in join order
	media := map[string][]*mediaUser{} // room -> its two media users
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
	// addMedia makes users a and b of a room publish and receive each
	// other; it reports failure with t.Error (it runs on other goroutines).
	addMedia := func(room string, a, b *user) bool {
		ms, err := startPair(a, b)
		if err != nil {
			t.Errorf("room %s: %v", room, err)
			return false
		}
		for _, m := range ms {
			t.Cleanup(m.close)
		}
		mu.Lock()
		media[room] = ms[:]
		mu.Unlock()
		return true
	}
	// subsOf returns the subscriptions of every media room but skip.
	subsOf := func(skip ...string) []*mediaSub {
		mu.Lock()
		defer mu.Unlock()
		var out []*mediaSub
		for room, ms := range media {
			if slices.Contains(skip, room) {
				continue
			}
			for _, m := range ms {
				out = append(out, m.subscriptions()...)
			}
		}
		return out
	}
	// mediaFlows waits until every subscription in base has new audio and
	// video, and checks that the largest audio gap since the gaps were reset
	// stays under gapLimit; it returns that gap.
	mediaFlows := func(when string, base map[*mediaSub][2]int64) time.Duration {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
		defer wcancel()
		if err := waitMedia(wctx, base); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var subs []*mediaSub
		for s := range base {
			subs = append(subs, s)
		}
		gap, who := largestGap(subs)
		if gap > gapLimit {
			t.Fatalf("%s: %s received no audio from %s for %v", when, who.to, who.from, gap.Round(time.Millisecond))
		}
		return gap
	}
	resetGaps := func(subs []*mediaSub) map[*mediaSub][2]int64 {
		for _, s := range subs {
			s.resetGap()
		}
		return snapshot(subs)
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

	// Phase 1: rooms through the LB; in each, the first two users publish
	// and receive each other.
	done = phase("1: rooms on 3 hosts")
	var wg sync.WaitGroup
	for r := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perRoom {
				addUser(roomName(r))
			}
			mu.Lock()
			us := users[roomName(r)]
			mu.Unlock()
			addMedia(roomName(r), us[0], us[1])
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	mediaFlows("3 hosts", snapshot(subsOf()))
	owners := checkWhole("3 hosts")
	for room, us := range users {
		for i, u := range us {
			if len(u.met) != i {
				t.Fatalf("room %s: user %d met %v", room, i, u.met)
			}
		}
	}
	t.Logf("room spread over 3 hosts (%d rooms, %d media subscriptions):\n%s", len(owners), len(subsOf()), spreadTable(hs, owners))
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
	// with the owner's URL. Media goes on meanwhile.
	done = phase("2: add a 4th host")
	base := resetGaps(subsOf())
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
	gap := mediaFlows("4 hosts", base)
	t.Logf("room spread over 4 hosts; %d joins to live rooms came through janus4 and were redirected; media went on, largest audio gap %v:\n%s",
		redirected, gap.Round(time.Millisecond), spreadTable(hs, owners))
	// The cluster view: the exporter scrapes every host.
	exp := startExporter(t, hs)
	checkView(t, exp, hs, hs, owners, "4 hosts")
	done()

	// Phase 3: SIGKILL one host. Its rooms' clients lose their websocket
	// and join again through the LB; the other rooms see nothing, and
	// their media goes on.
	done = phase("3: kill a host")
	victim := busiest(hs[:3], owners)
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
	for _, us := range users {
		for _, u := range us {
			u.takeEvents()
		}
	}
	base = resetGaps(subsOf(lost...))
	victim.srv.Kill()
	killed := time.Now()
	for _, room := range lost {
		for _, u := range users[room] {
			select {
			case <-u.c.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("room %s user %s: websocket still open 5 s after its host died", room, u.id)
			}
		}
	}
	// Everyone of the lost rooms reconnects, concurrently, as adapters do;
	// the media users publish again and receive each other.
	mu.Lock()
	lostUsers := map[string][]*user{}
	lostMedia := map[string][]*mediaUser{}
	for _, room := range lost {
		lostUsers[room] = users[room]
		lostMedia[room] = media[room]
		delete(users, room)
		delete(media, room)
	}
	mu.Unlock()
	rejoined := map[string][]time.Time{} // room -> when each user's join succeeded
	for _, room := range lost {
		for _, m := range lostMedia[room] {
			m.close()
		}
		var pair [2]*user // the new media users, in the old order
		var pairWG sync.WaitGroup
		for _, old := range lostUsers[room] {
			mediaIdx := slices.IndexFunc(lostMedia[room], func(m *mediaUser) bool { return m.id == old.id })
			if mediaIdx >= 0 {
				pairWG.Add(1)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if mediaIdx >= 0 {
					defer pairWG.Done()
				}
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
				rejoined[room] = append(rejoined[room], time.Now())
				if mediaIdx >= 0 {
					pair[mediaIdx] = u
				}
				mu.Unlock()
			}()
		}
		if len(lostMedia[room]) == 0 {
			continue // a room of phase 2, signalling only
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pairWG.Wait()
			if pair[0] != nil && pair[1] != nil {
				addMedia(room, pair[0], pair[1])
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	moved := time.Since(killed)
	// Media again in the lost rooms: when each room's last subscription
	// got its first packet.
	var lostSubs []*mediaSub
	for _, room := range lost {
		for _, m := range media[room] {
			lostSubs = append(lostSubs, m.subscriptions()...)
		}
	}
	if err := waitMedia(ctx, snapshot(lostSubs)); err != nil {
		t.Fatalf("lost rooms after the kill: %v", err)
	}
	var joinable, mediaAgain []time.Duration // per lost room
	for _, room := range lost {
		joinable = append(joinable, slices.MinFunc(rejoined[room], func(a, b time.Time) int { return a.Compare(b) }).Sub(killed))
		if len(media[room]) == 0 {
			continue
		}
		var last time.Time
		for _, m := range media[room] {
			for _, s := range m.subscriptions() {
				if f := s.firstAudio(); f.After(last) {
					last = f
				}
			}
		}
		mediaAgain = append(mediaAgain, last.Sub(killed))
	}
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
	gap = mediaFlows("other rooms during the failover", base)
	span := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "(no media room)"
		}
		return fmt.Sprintf("%.1f–%.1fs", slices.Min(ds).Seconds(), slices.Max(ds).Seconds())
	}
	t.Logf("killed %s (lease %v): its %d rooms joinable again %s after SIGKILL, all users met again on one host each %.1fs after, media flowing again in every lost room %s after; %d other rooms untouched, largest audio gap of their %d subscriptions %v",
		victim.name, lease, len(lost), span(joinable), moved.Seconds(), span(mediaAgain), len(users)-len(lost), len(base), gap.Round(time.Millisecond))
	t.Logf("room spread after the kill:\n%s", spreadTable(all, after))
	if moved > lease+10*time.Second {
		t.Fatalf("failover took %v, more than the lease (%v) + 10 s", moved, lease)
	}
	done()

	// Phase 4: Redis goes away and comes back empty. Live rooms keep
	// working (and their media flowing), new rooms are served by the host
	// the load balancer picks (no wrong_host, no lease until Redis is
	// back), each host logs the outage once, and the leases are back in
	// Redis after it returns.
	done = phase("4: redis outage")
	base = resetGaps(subsOf())
	redis.Kill()
	outage := time.Now()
	var fresh []*user
	for r := rooms + 4; r < rooms+6; r++ {
		u := addUser(roomName(r)) // new rooms are served
		fresh = append(fresh, u, addUser(roomName(r)))
	}
	addUser(roomName(0)) // live rooms keep admitting
	for _, u := range fresh {
		if u.redirs != 0 {
			t.Fatalf("room %s: a join during the Redis outage was sent elsewhere %d times", u.room, u.redirs)
		}
	}
	if !addMedia(fresh[0].room, fresh[0], fresh[1]) {
		t.FailNow()
	}
	freshSubs := snapshot(media[fresh[0].room][0].subscriptions())
	maps.Copy(freshSubs, snapshot(media[fresh[0].room][1].subscriptions()))
	// Long enough for every host's renewals to fail, and for any lease to
	// have run out had Redis kept its data.
	time.Sleep(time.Until(outage.Add(lease + time.Second)))
	redis.Restart()
	restarted := time.Now()
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
	back := time.Since(restarted)
	final := checkWhole("after the Redis outage")
	gap = mediaFlows("live rooms during the Redis outage", base)
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	if err := waitMedia(wctx, freshSubs); err != nil {
		t.Fatalf("the room started during the Redis outage: %v", err)
	}
	wcancel()
	for _, h := range hs {
		if n := strings.Count(h.srv.Log(), "placement: Redis unreachable"); n != 1 {
			t.Errorf("%s logged the Redis outage %d times, want once", h.name, n)
		}
	}
	// The rule (placement package, docs/deploy.md): with Redis unreachable
	// a host serves a new room locally, without a lease, and claims it when
	// Redis returns.
	t.Logf("Redis down %.1fs: live rooms' media went on (largest audio gap %v); %d new rooms served, without a lease, by the host the load balancer sent them to (one with media); every lease back in Redis %.1fs after it restarted",
		restarted.Sub(outage).Seconds(), gap.Round(time.Millisecond), len(fresh)/2, back.Seconds())
	t.Logf("room spread at the end:\n%s", spreadTable(all, final))
	checkView(t, exp, all, hs, final, "the end")
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
	n, m := 0, 0
	for _, us := range users {
		n += len(us)
	}
	for _, ms := range media {
		m += len(ms)
	}
	mu.Unlock()
	t.Logf("cluster test: %d rooms, %d users (%d publishing media), %d hosts left, %.1fs", len(users), n, m, len(hs), time.Since(began).Seconds())
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
