package soak

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

const videoroomSO = "/usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_videoroom.so"

// sessionTimeout is Janus's session_timeout in the soak: short, so that
// silent clients are reaped within the run. Live clients send a keepalive
// every second.
const sessionTimeout = 4 * time.Second

type config struct {
	cycles, clients, perRoom int
	budget                   time.Duration
	maxSlope                 float64 // bytes of RSS per cycle
	baseline                 bool    // Janus's videoroom instead of our plugin
	noKick                   bool    // kicked cycles close the transport, as the baseline's do
	pluginPath               string
}

// The RSS slope allowed per cycle. Over the first ~1,000 cycles Janus's
// allocator is still growing its arenas, so a short run's slope swings
// (6–22 KiB in short-mode runs of the same code) and bounds only a gross
// leak; a long run's judges a small one.
const (
	longRunCycles = 2000
	maxSlopeLong  = 16 << 10
	maxSlopeShort = 64 << 10
)

func loadConfig(t *testing.T) config {
	c := config{cycles: 300, clients: 10, perRoom: 5, budget: 2 * time.Minute,
		pluginPath: os.Getenv("SFU_SOAK_PLUGIN")}
	janus.EnvInt(t, "SFU_SOAK_CYCLES", 1, &c.cycles)
	c.maxSlope = maxSlopeShort
	if c.cycles >= longRunCycles {
		c.maxSlope = maxSlopeLong
	}
	janus.EnvInt(t, "SFU_SOAK_CLIENTS", 1, &c.clients)
	janus.EnvInt(t, "SFU_SOAK_ROOM", 1, &c.perRoom)
	janus.EnvDuration(t, "SFU_SOAK_BUDGET", &c.budget)
	if v := os.Getenv("SFU_SOAK_MAX_SLOPE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("SFU_SOAK_MAX_SLOPE: %v", err)
		}
		c.maxSlope = f
	}
	c.noKick = os.Getenv("SFU_SOAK_NO_KICK") == "1"
	switch b := os.Getenv("SFU_SOAK_BASELINE"); b {
	case "":
	case "videoroom":
		c.baseline = true
		c.pluginPath = videoroomSO
	default:
		t.Fatalf("SFU_SOAK_BASELINE=%q: only videoroom", b)
	}
	return c
}

// point is Janus's RSS after a number of finished cycles.
type point struct {
	cycles int64
	rss    float64
}

// split is one sample of Janus's RSS by owner: what the plugin's Go runtime
// retains (its admin summary), and the rest (Janus, glib, libnice, jansson,
// the plugin's C side).
type split struct {
	cycles       int64
	goHeap, rest float64
}

func splitSlopes(ss []split) (goHeap, rest float64) {
	g, r := make([]point, len(ss)), make([]point, len(ss))
	for i, s := range ss {
		g[i], r[i] = point{s.cycles, s.goHeap}, point{s.cycles, s.rest}
	}
	return slope(g), slope(r)
}

// slope is the least-squares slope of rss over cycles.
func slope(ps []point) float64 {
	if len(ps) < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for _, p := range ps {
		x := float64(p.cycles)
		sx, sy, sxx, sxy = sx+x, sy+p.rss, sxx+x*x, sxy+x*p.rss
	}
	n := float64(len(ps))
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// refcountWarning matches what Janus logs about a reference count gone
// wrong (janus_refcount debugging, or a plugin's complaint).
var refcountWarning = regexp.MustCompile(`(?i)refcount|double free|use after free`)

// TestSoak churns clients through Janus and checks nothing is left behind.
func TestSoak(t *testing.T) {
	suite.Require(t)
	cfg := loadConfig(t)
	if in, err := janus.InNetns(suite.Netns()); err != nil || !in {
		t.Fatalf("not inside network namespace %s (%v): run via make soak", suite.Netns(), err)
	}
	opts := janus.Options{Netns: suite.Netns(), Admin: true, PluginPath: cfg.pluginPath,
		ExtraArgs: []string{fmt.Sprintf("--session-timeout=%d", int(sessionTimeout/time.Second))}}
	var fl flavor
	var sf *sfu
	if cfg.baseline {
		fl = &videoroom{perRoom: cfg.perRoom, feeds: map[string]uint64{}}
	} else {
		sf, opts.SFUConfig = newSFU(t, cfg.perRoom)
		sf.noKick = cfg.noKick
		fl = sf
	}
	s := janus.Start(t, opts)
	api, err := peer.NewAPI(peer.Config{Interface: peer.NetnsInterface})
	if err != nil {
		t.Fatal(err)
	}
	var base janus.PluginStats
	if sf != nil {
		if base, err = s.PluginSummary(); err != nil {
			t.Fatal(err)
		}
		sf.connectKicker(t, s)
	} else {
		fl.(*videoroom).createRooms(t, s, cfg.clients)
	}
	rss0, _ := s.RSS()

	ch := &churn{s: s, api: api, fl: fl, live: live{rooms: map[string][]string{}}, sessionTimeout: sessionTimeout}
	var mu sync.Mutex
	var points []point
	var splits []split
	lastSample, lastSplit := time.Now(), time.Now()
	sample := func(done int64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(lastSample) < 250*time.Millisecond && done%10 != 0 {
			return
		}
		lastSample = time.Now()
		rss, err := s.RSS()
		if err != nil {
			return
		}
		points = append(points, point{done, float64(rss)})
		// The split costs an admin request: once a second is enough.
		if sf != nil && time.Since(lastSplit) >= time.Second {
			lastSplit = time.Now()
			if ps, err := s.PluginSummary(); err == nil {
				g := float64(ps.Runtime.Retained)
				splits = append(splits, split{done, g, float64(rss) - g})
			}
		}
	}
	t0 := time.Now()
	ch.run(cfg.cycles, cfg.clients, cfg.budget, sample)
	churnTime := time.Since(t0)
	ch.reaper.Wait()
	done, failed := ch.tally.total()
	if !s.Running() {
		t.Fatalf("janus died during the soak after %d cycles:\n%s", done+failed, crashExcerpt(s.Log()))
	}

	// Everything must go back to the baseline once the last sessions are
	// reaped: the kicker leaves first.
	if sf != nil {
		_ = sf.kickerC.Destroy()
	}
	var after janus.PluginStats
	var sessions []uint64
	settled := false
	for deadline := time.Now().Add(sessionTimeout + 20*time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		sessions, err = s.Sessions()
		if err != nil {
			t.Fatal(err)
		}
		if sf != nil {
			if after, err = s.PluginSummary(); err != nil {
				t.Fatal(err)
			}
		}
		if len(sessions) == 0 && after.Sessions == base.Sessions && after.Rooms == base.Rooms && after.Users == base.Users && after.Blocks == base.Blocks {
			settled = true
			break
		}
	}
	rss1, _ := s.RSS()
	// Every client has left: Janus must free every handle (the plugin
	// drops the reference Janus gave it a grace period after detach).
	created, freed := s.WaitHandlesFreed(10 * time.Second)

	mu.Lock()
	var second []point
	for _, p := range points {
		if p.cycles >= done/2 {
			second = append(second, p)
		}
	}
	var secondSplits []split
	for _, p := range splits {
		if p.cycles >= done/2 {
			secondSplits = append(secondSplits, p)
		}
	}
	mu.Unlock()
	perCycle := slope(second)
	goSlope, restSlope := splitSlopes(secondSplits)

	name := "janus.plugin.sfu"
	if cfg.baseline {
		name = "janus.plugin.videoroom"
	}
	report := &strings.Builder{}
	fmt.Fprintf(report, "soak (%s): %d cycles (%d failed) over %d clients in rooms of %d in %v (%.1f cycles/s)\n",
		name, done+failed, failed, cfg.clients, cfg.perRoom, churnTime.Round(time.Second), float64(done+failed)/churnTime.Seconds())
	for e := range nEndings {
		if n, f := ch.tally.done[e].Load(), ch.tally.failed[e].Load(); n+f > 0 {
			fmt.Fprintf(report, "  %-24s %5d ok %4d failed\n", e, n, f)
		}
	}
	if !fl.canKick() {
		fmt.Fprintf(report, "  kick variant skipped (%s has no kick of this kind): those cycles closed the transport\n", name)
	}
	fmt.Fprintf(report, "  kicks with a subscriber offer unanswered: %d; subscriptions raced by a leaving publisher: %d\n",
		ch.tally.kickedMid.Load(), ch.tally.raced.Load())
	fmt.Fprintf(report, "  Janus RSS %.1f MiB at start, %.1f MiB at the end; second-half slope %.0f bytes/cycle over %d samples (limit %.0f)\n",
		mib(rss0), mib(rss1), perCycle, len(second), cfg.maxSlope)
	if n := len(splits); n > 0 {
		first, last := splits[0], splits[n-1]
		fmt.Fprintf(report, "  of which the Go runtime retains %.1f -> %.1f MiB (second-half slope %.0f bytes/cycle), the rest %.1f -> %.1f MiB (%.0f bytes/cycle), %d samples\n",
			mib(uint64(first.goHeap)), mib(uint64(last.goHeap)), goSlope, mib(uint64(first.rest)), mib(uint64(last.rest)), restSlope, len(secondSplits))
	}
	if sf != nil {
		fmt.Fprintf(report, "  plugin before %s\n  plugin after  %s\n", base.Raw, after.Raw)
	}
	fmt.Fprintf(report, "  Janus sessions left: %v; handles created %d, freed %d\n", sessions, created, freed)
	t.Log("\n" + report.String())
	for _, e := range ch.tally.errs {
		t.Logf("cycle error: %s", e)
	}

	if !settled {
		t.Errorf("state left behind: Janus sessions %v; plugin %s (baseline %s)", sessions, after.Raw, base.Raw)
	}
	if freed < created {
		t.Errorf("Janus freed %d of the %d handles it created: %d held after every client left", freed, created, created-freed)
	}
	if failed*50 > done+failed {
		t.Errorf("%d of %d cycles failed (more than 2%%)", failed, done+failed)
	}
	// The budget bounds the run on a slow or busy machine: fewer cycles
	// than asked are reported, and fail only when too few to judge.
	if ran := done + failed; ran < int64(cfg.cycles) {
		if ran*4 < int64(cfg.cycles) {
			t.Errorf("only %d of %d cycles within the %v budget: too few to judge", ran, cfg.cycles, cfg.budget)
		} else {
			t.Logf("only %d of %d cycles within the %v budget", ran, cfg.cycles, cfg.budget)
		}
	}
	if perCycle > cfg.maxSlope && !cfg.baseline { // the baseline is only reported
		t.Errorf("Janus RSS grows %.0f bytes/cycle over the second half (limit %.0f)", perCycle, cfg.maxSlope)
	}
	var warn []string
	for _, l := range strings.Split(s.Log(), "\n") {
		if refcountWarning.MatchString(l) {
			warn = append(warn, l)
		}
	}
	if len(warn) > 0 {
		t.Errorf("Janus log has %d refcount warnings, e.g. %s", len(warn), warn[0])
	}
}

// crashExcerpt is the log from a few lines before the first crash marker
// on: the last requests, the signal and the crashing goroutine's stack.
func crashExcerpt(log string) string {
	lines := strings.Split(log, "\n")
	for i, l := range lines {
		for _, m := range janus.CrashMarkers {
			if strings.Contains(l, m) {
				return strings.Join(lines[max(0, i-8):min(len(lines), i+40)], "\n")
			}
		}
	}
	return tail(log, 40)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
