package load

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// Targets of the signalling phase.
const (
	targetJoinP99MS = 20.0
	targetMemMB     = 20.0
)

// sigUser is a user of the signalling phase: a session with a publisher
// handle joined in a room, no PeerConnection.
type sigUser struct {
	c *janus.Client
	h *janus.Handle
}

type memPoint struct {
	label string
	ps    janus.PluginStats
	rssMB float64
}

type sigResult struct {
	users, room, churn int
	err                string
	rampJoin           latencies // joins while the server fills up
	churnJoin          latencies // each user leaving and rejoining, ~users-1 others connected
	mem                []memPoint
	rampTime           time.Duration
	churnTime          time.Duration
}

// runSignalling connects cfg.sigUsers users (one session and one publisher
// handle each, rooms of cfg.sigRoom, no SDP), then makes every user leave
// (destroy its session) and rejoin on a new session cfg.sigChurn times, a
// few at a time, and records join latencies and the plugin's memory.
func runSignalling(t *testing.T, cfg config) (res sigResult) {
	res = sigResult{users: cfg.sigUsers, room: cfg.sigRoom, churn: cfg.sigChurn}
	s := janus.Start(t, janus.Options{Netns: cfg.netns, Admin: true, PluginPath: cfg.pluginPath})
	users := make([]*sigUser, cfg.sigUsers)
	var mu sync.Mutex
	connect := func(i int, lat *latencies) error {
		c, err := s.Dial()
		if err != nil {
			return err
		}
		if err := c.CreateSession(); err != nil {
			c.Close()
			return err
		}
		h, err := c.Attach(janus.PluginPackage)
		if err != nil {
			c.Close()
			return err
		}
		r, err := peer.Message(h, peer.Join("sig-"+strconv.Itoa(i/cfg.sigRoom), userName(i), peer.PublisherSubscribe(), ""), nil)
		if err != nil {
			c.Close()
			return err
		}
		mu.Lock()
		*lat = append(*lat, r.Latency)
		users[i] = &sigUser{c: c, h: h}
		mu.Unlock()
		return nil
	}
	leave := func(i int) {
		mu.Lock()
		u := users[i]
		users[i] = nil
		mu.Unlock()
		if u != nil {
			_ = u.c.Destroy()
			_ = u.c.Close()
		}
	}
	defer peer.Parallel(8, len(users), func(i int) error { leave(i); return nil })
	sample := func(label string) {
		time.Sleep(time.Second)
		ps, err := s.PluginSummary()
		if err != nil {
			t.Errorf("plugin summary: %v", err)
			return
		}
		res.mem = append(res.mem, memPoint{label: label, ps: ps, rssMB: rssMB(s.PID)})
		t.Logf("%s: users %d sessions %d, heap %.1f MB, sys %.1f MB, goroutines %d, gc %d, Janus RSS %.0f MB",
			label, ps.Users, ps.Sessions, mb(ps.Runtime.HeapInuse), mb(ps.Runtime.Sys), ps.Runtime.Goroutines, ps.Runtime.GCCycles, rssMB(s.PID))
	}

	sample("start, 0 users")
	t0 := time.Now()
	if err := peer.Parallel(cfg.parallel, len(users), func(i int) error { return connect(i, &res.rampJoin) }); err != nil {
		res.err = err.Error()
		t.Errorf("ramp: %v", err)
		return res
	}
	res.rampTime = time.Since(t0)
	sample(fmt.Sprintf("%d users", cfg.sigUsers))
	t0 = time.Now()
	for c := 1; c <= cfg.sigChurn; c++ {
		err := peer.Parallel(cfg.parallel, len(users), func(i int) error {
			leave(i)
			return connect(i, &res.churnJoin)
		})
		if err != nil {
			res.err = err.Error()
			t.Errorf("churn %d: %v", c, err)
			return res
		}
		sample(fmt.Sprintf("%d users after churn %d", cfg.sigUsers, c))
	}
	res.churnTime = time.Since(t0)
	peer.Parallel(8, len(users), func(i int) error { leave(i); return nil })
	sample("all left")
	return res
}

func (r sigResult) markdown() string {
	b := &strings.Builder{}
	if r.err != "" {
		fmt.Fprintf(b, "Failed: %s\n\n", r.err)
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	fmt.Fprintf(b, "| joins | count | p50 ms | p99 ms | max ms | target p99 ≤ %.0f ms |\n|---|---|---|---|---|---|\n", targetJoinP99MS)
	for _, j := range []struct {
		name string
		l    latencies
	}{{fmt.Sprintf("ramp 0 → %d users", r.users), r.rampJoin}, {fmt.Sprintf("churn: leave + rejoin with %d others connected", r.users-1), r.churnJoin}} {
		if len(j.l) == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %d | %.1f | %.1f | %.1f | %s |\n", j.name, len(j.l), j.l.pct(0.5), j.l.pct(0.99), j.l.pct(1), verdict(j.l.pct(0.99) <= targetJoinP99MS))
	}
	fmt.Fprintf(b, "\n| point | plugin users | sessions | heap_inuse MB | sys MB | goroutines | GC cycles | Janus RSS MB |\n|---|---|---|---|---|---|---|---|\n")
	for _, m := range r.mem {
		fmt.Fprintf(b, "| %s | %d | %d | %.1f | %.1f | %d | %d | %.0f |\n", m.label, m.ps.Users, m.ps.Sessions,
			mb(m.ps.Runtime.HeapInuse), mb(m.ps.Runtime.Sys), m.ps.Runtime.Goroutines, m.ps.Runtime.GCCycles, m.rssMB)
	}
	var full []memPoint
	for _, m := range r.mem {
		if strings.HasPrefix(m.label, fmt.Sprintf("%d users", r.users)) {
			full = append(full, m)
		}
	}
	if len(full) > 0 {
		maxSys, maxHeap := 0.0, 0.0
		for _, m := range full {
			maxSys = max(maxSys, mb(m.ps.Runtime.Sys))
			maxHeap = max(maxHeap, mb(m.ps.Runtime.HeapInuse))
		}
		first, last := full[0], full[len(full)-1]
		fmt.Fprintf(b, "\nPlugin memory at %d users: heap_inuse ≤ %.1f MB, sys ≤ %.1f MB (target ≤ %.0f MB: %s). After churn: heap %.1f → %.1f MB, sys %.1f → %.1f MB.\n",
			r.users, maxHeap, maxSys, targetMemMB, verdict(maxSys <= targetMemMB),
			mb(first.ps.Runtime.HeapInuse), mb(last.ps.Runtime.HeapInuse), mb(first.ps.Runtime.Sys), mb(last.ps.Runtime.Sys))
	}
	fmt.Fprintf(b, "Ramp took %v, churn %v.\n", r.rampTime.Round(time.Millisecond), r.churnTime.Round(time.Millisecond))
	return b.String()
}
