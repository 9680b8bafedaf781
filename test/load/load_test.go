package load

// Environment (TestLoad skips unless SFU_LOAD is set; `make load` sets it):
//
//	SFU_LOAD=1                 run the load test
//	SFU_LOAD_NETNS=sfutest     network namespace (scripts/netns.sh up NAME)
//	SFU_LOAD_BASELINE=videoroom  run the ladder through Janus's videoroom
//	                           plugin instead of ours (same topology), to tell
//	                           the plugin's share from Janus's own work
//	SFU_LOAD_MODE=classic      how users subscribe (our plugin only), a
//	                           comma list of variants run in turn at each
//	                           size, each classic or multistream, with an
//	                           optional listener share (multistream:0.75):
//	                           classic = one subscriber handle and
//	                           PeerConnection per other user, as
//	                           naf-janus-adapter; multistream = ONE
//	                           subscriber handle with subscribe.streams
//	                           carrying every other user's audio and video
//	                           (docs/protocol.md section 11)
//	SFU_LOAD_LISTENERS=0       share of each room's users that are
//	                           listeners: they publish audio only (camera
//	                           off) and, in multistream mode, pause every
//	                           video line they receive (configure), so they
//	                           receive audio only; classic subscriptions
//	                           cannot pause, listeners there still receive
//	                           the others' video
//	SFU_LOAD_EVENT_LOOPS=0     Janus's event_loops (0: unset, one thread per
//	                           handle)
//	SFU_LOAD_RCVBUF=4194304    SO_RCVBUF of the pion peers' UDP sockets (0:
//	                           the system's default, ~208 KB, which drops
//	                           bursts to one multistream PeerConnection)
//	SFU_LOAD_PERF=file         perf record -g Janus for 10 s in the window
//	                           of every size, to file.<variant>.<R×U> (perf must be
//	                           installed)
//	SFU_LOAD_LADDER=1x4,2x4    R×U sizes to try, in order; the ladder stops
//	                           at the first run with ≥ 1% loss or a failure
//	SFU_LOAD_WARMUP=5s         media time before the measurement window
//	SFU_LOAD_DURATION=20s      measurement window
//	SFU_LOAD_BUDGET=8m         no new ladder run starts if it is predicted to
//	                           end after this much time
//	SFU_LOAD_PARALLEL=4        PeerConnections set up at a time
//	SFU_LOAD_SIG_USERS=500     users of the signalling-only phase (0: skip)
//	SFU_LOAD_SIG_ROOM=10       users per room in that phase
//	SFU_LOAD_SIG_CHURN=3       times every user leaves and rejoins
//	SFU_LOAD_PLUGIN=path       plugin .so (default <repo>/libjanus_plugin_sfu.so)
//	SFU_LOAD_NO_SETTLE=1       stop Janus right after the peers leave (Janus
//	                           1.1.2 then tends to crash in its SCTP teardown;
//	                           a core's backtraces go to test/load/out/)
//
// Results are logged and written as markdown to test/load/out/.

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// maxLoss is the loss at or above which a size counts as not sustained.
const maxLoss = 0.01

const videoroomSO = "/usr/lib/x86_64-linux-gnu/janus/plugins/libjanus_videoroom.so"

type size struct{ R, U int }

func (s size) String() string { return fmt.Sprintf("%dx%d", s.R, s.U) }

// pcs is the number of PeerConnections (= handles) of a size.
func (s size) pcs() int { return s.R * s.U * s.U }

type config struct {
	netns      string
	mode       string
	ladder     []size
	warmup     time.Duration
	duration   time.Duration
	budget     time.Duration
	parallel   int
	sigUsers   int
	sigRoom    int
	sigChurn   int
	pluginPath string
	variants   []variant // SFU_LOAD_MODE
	ms         bool      // this run: multistream subscriptions
	listeners  float64   // this run: share of listeners per room
	eventLoops int
	perf       string
	rcvbuf     int
}

// variant is how users subscribe in one run of a size.
type variant struct {
	ms        bool
	listeners float64
}

// with returns c for one variant.
func (c config) with(v variant) config {
	c.ms, c.listeners = v.ms, v.listeners
	return c
}

// label names the run's variant in tables and report names.
func (c config) label() string {
	l := c.mode
	if c.ms {
		l += "-ms"
	}
	if c.listeners > 0 {
		l += fmt.Sprintf("-L%.2f", c.listeners)
	}
	return l
}

// labels names all variants.
func (c config) labels() string {
	var l []string
	for _, v := range c.variants {
		l = append(l, c.with(v).label())
	}
	return strings.Join(l, "+")
}

// listenersIn is the number of listeners in a room of u users.
func (c config) listenersIn(u int) int { return int(math.Round(c.listeners * float64(u))) }

// handles is the number of handles a size should need: per user a
// publisher handle and one subscriber handle (multistream) or one per
// other user (classic).
func (c config) handles(s size) int {
	if c.ms {
		return 2 * s.R * s.U
	}
	return s.pcs()
}

func loadConfig(t *testing.T) config {
	c := config{netns: suite.Netns(), mode: modeSFU,
		ladder: []size{{1, 4}, {2, 4}, {2, 6}, {3, 6}, {2, 8}, {3, 8}, {4, 8}, {5, 8}, {6, 8}, {7, 8}, {8, 8}},
		warmup: 5 * time.Second, duration: 20 * time.Second, budget: 8 * time.Minute, parallel: 4,
		sigUsers: 500, sigRoom: 10, sigChurn: 3, pluginPath: os.Getenv("SFU_LOAD_PLUGIN"), rcvbuf: 4 << 20}
	if b := os.Getenv("SFU_LOAD_BASELINE"); b != "" {
		if b != modeVideoroom {
			t.Fatalf("SFU_LOAD_BASELINE=%q: only %q is supported", b, modeVideoroom)
		}
		c.mode = modeVideoroom
	}
	share := func(name, l string) float64 {
		v, err := strconv.ParseFloat(l, 64)
		if err != nil || v < 0 || v > 1 {
			t.Fatalf("%s: %q is not a share in [0, 1]", name, l)
		}
		return v
	}
	listeners := 0.0
	if l := os.Getenv("SFU_LOAD_LISTENERS"); l != "" {
		listeners = share("SFU_LOAD_LISTENERS", l)
	}
	modes := os.Getenv("SFU_LOAD_MODE")
	if modes == "" {
		modes = "classic"
	}
	for _, f := range strings.Split(modes, ",") {
		name, l, hasShare := strings.Cut(strings.TrimSpace(f), ":")
		v := variant{listeners: listeners}
		if hasShare {
			v.listeners = share("SFU_LOAD_MODE "+f, l)
		}
		switch name {
		case "classic":
		case "multistream":
			if c.mode != modeSFU {
				t.Fatalf("SFU_LOAD_MODE=multistream needs our plugin (no SFU_LOAD_BASELINE)")
			}
			v.ms = true
		default:
			t.Fatalf("SFU_LOAD_MODE: %q: want classic or multistream[:listener share]", f)
		}
		c.variants = append(c.variants, v)
	}
	janus.EnvInt(t, "SFU_LOAD_EVENT_LOOPS", 0, &c.eventLoops)
	janus.EnvInt(t, "SFU_LOAD_RCVBUF", 0, &c.rcvbuf)
	c.perf = os.Getenv("SFU_LOAD_PERF")
	if l := os.Getenv("SFU_LOAD_LADDER"); l != "" {
		c.ladder = nil
		for _, f := range strings.Split(l, ",") {
			var s size
			if _, err := fmt.Sscanf(strings.TrimSpace(f), "%dx%d", &s.R, &s.U); err != nil || s.R < 1 || s.U < 2 {
				t.Fatalf("SFU_LOAD_LADDER: bad size %q (want RxU, U ≥ 2)", f)
			}
			c.ladder = append(c.ladder, s)
		}
	}
	janus.EnvDuration(t, "SFU_LOAD_WARMUP", &c.warmup)
	janus.EnvDuration(t, "SFU_LOAD_DURATION", &c.duration)
	janus.EnvDuration(t, "SFU_LOAD_BUDGET", &c.budget)
	janus.EnvInt(t, "SFU_LOAD_PARALLEL", 0, &c.parallel)
	janus.EnvInt(t, "SFU_LOAD_SIG_USERS", 0, &c.sigUsers)
	janus.EnvInt(t, "SFU_LOAD_SIG_ROOM", 0, &c.sigRoom)
	janus.EnvInt(t, "SFU_LOAD_SIG_CHURN", 0, &c.sigChurn)
	if c.parallel < 1 {
		c.parallel = 1
	}
	if c.sigRoom < 1 {
		c.sigRoom = 10
	}
	return c
}

// result is one ladder run.
type result struct {
	mode       string // config.label()
	size       size
	eventLoops int
	listeners  int     // per room
	nominalPPS float64 // what the publishers should send per second
	handles    int     // Janus's handles (admin API), -1 if unknown
	threads    int     // Janus's threads at the window's end
	unwanted   uint64  // window packets on streams that should not flow
	err        string
	setup      time.Duration
	window     time.Duration
	fwdPPS     float64 // packets delivered to subscribers per second (window)
	expPPS     float64 // packets that should have been delivered per second
	loss       float64
	janCPU     float64 // Janus CPU seconds in the window
	genCPU     float64 // load generator CPU seconds in the window
	rssMB      float64
	plugin     *janus.PluginStats
	pubJoin    latencies
	subJoin    latencies
	// Over the window, to place losses: packets sent by the publishers,
	// received by the plugin (rtp_in) and relayed (rtp_out), delivered to
	// the subscribers (all packets, not only the window's sequences).
	sent                                  uint64 // in the window, by sequence
	sentAll, relayIn, relayOut, delivered uint64
	// Kernel UDP drops in the namespace during the window (full socket
	// receive / send buffers).
	udpRcvDrops, udpSndDrops uint64
}

// offered is the share of the nominal media rate the publishers sent.
func (r result) offered() float64 {
	return float64(r.sent) / r.window.Seconds() / r.nominalPPS
}

// sustained: loss below maxLoss at (almost) the full nominal rate.
func (r result) sustained() bool { return r.err == "" && r.loss < maxLoss && r.offered() >= 0.99 }

func (r result) janusPct() float64 { return 100 * r.janCPU / r.window.Seconds() }
func (r result) genPct() float64   { return 100 * r.genCPU / r.window.Seconds() }
func (r result) usPerPkt() float64 {
	return 1e6 * r.janCPU / (r.fwdPPS * r.window.Seconds())
}

func TestLoad(t *testing.T) {
	suite.Require(t)
	cfg := loadConfig(t)
	if in, err := janus.InNetns(cfg.netns); err != nil || !in {
		t.Fatalf("not inside network namespace %s (%v): run via make load", cfg.netns, err)
	}
	root, err := janus.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	stamp := time.Now().Format("20060102-150405")
	report := &strings.Builder{}
	fmt.Fprintf(report, "# Load test %s (%s)\n\n%s\n", stamp, cfg.labels(), machine())
	fmt.Fprintf(report, "Warm-up %v, window %v, setup %d users at a time, pion peers without interceptors; event_loops %d (0: unset), peer SO_RCVBUF %d.\n\n",
		cfg.warmup, cfg.duration, cfg.parallel, cfg.eventLoops, cfg.rcvbuf)

	// Each size runs every variant in turn (paired runs see about the same
	// machine); a variant leaves the ladder at its first size with ≥ 1%
	// loss or a failure, and the ladder ends when none is left.
	var results []result
	start := time.Now()
	type track struct {
		last     result
		lastWall time.Duration
		stopped  bool
	}
	tracks := make([]track, len(cfg.variants))
ladder:
	for _, sz := range cfg.ladder {
		left := 0
		for i, v := range cfg.variants {
			tr := &tracks[i]
			if tr.stopped {
				continue
			}
			left++
			vc := cfg.with(v)
			if tr.lastWall > 0 {
				fixed := cfg.warmup + cfg.duration + 3*time.Second
				predicted := fixed + time.Duration(float64(tr.lastWall-fixed)*float64(vc.handles(sz))/float64(vc.handles(tr.last.size)))
				if time.Since(start)+predicted > cfg.budget {
					t.Logf("ladder: stopping before %v %s (predicted %v, budget %v)", sz, vc.label(), predicted.Round(time.Second), cfg.budget)
					fmt.Fprintf(report, "Ladder stopped before %v (%s): predicted to exceed the %v budget.\n\n", sz, vc.label(), cfg.budget)
					break ladder
				}
			}
			t0 := time.Now()
			var res result
			t.Run(vc.label()+"-"+sz.String(), func(t *testing.T) { res = runLoad(t, vc, sz) })
			tr.lastWall, tr.last = time.Since(t0), res
			results = append(results, res)
			t.Logf("\n%s", table(results))
			// A variant goes on past a size whose generator fell short of
			// the nominal rate (not sustained, but no loss): the machine.
			if res.err != "" || res.loss >= maxLoss {
				t.Logf("ladder: %s stops at %v (loss %.2f%%, offered %.1f%%, err %q)", vc.label(), sz, 100*res.loss, 100*res.offered(), res.err)
				tr.stopped = true
			}
		}
		if left == 0 {
			break
		}
	}
	if len(results) > 0 {
		fmt.Fprintf(report, "## Media ladder (%s)\n\n%s\n%s\n", cfg.labels(), table(results), notes(results))
	}

	if cfg.mode == modeSFU && cfg.sigUsers > 0 {
		var sr sigResult
		t.Run("signalling", func(t *testing.T) { sr = runSignalling(t, cfg) })
		fmt.Fprintf(report, "## Signalling only: %d users in rooms of %d, churn ×%d\n\n%s\n", cfg.sigUsers, cfg.sigRoom, cfg.sigChurn, sr.markdown())
		t.Logf("\n%s", sr.markdown())
	}

	dir := filepath.Join(root, "test", "load", "out")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		p := filepath.Join(dir, "load-"+stamp+"-"+cfg.labels()+".md")
		if err := os.WriteFile(p, []byte(report.String()), 0o644); err == nil {
			t.Logf("report written to %s", p)
		}
	}
}

// runLoad runs one size: Janus, R×U users, warm-up, window, figures.
func runLoad(t *testing.T, cfg config, sz size) (res result) {
	res = result{mode: cfg.label(), size: sz, eventLoops: cfg.eventLoops, listeners: cfg.listenersIn(sz.U), handles: -1}
	opts := janus.Options{Netns: cfg.netns, Admin: true, PluginPath: cfg.pluginPath, EventLoops: cfg.eventLoops}
	if cfg.mode == modeVideoroom {
		opts.PluginPath = videoroomSO
	}
	s := janus.Start(t, opts)
	e, err := newEnv(s, cfg.mode, cfg.rcvbuf)
	if err != nil {
		t.Fatal(err)
	}
	fail := func(err error) result {
		res.err = err.Error()
		t.Errorf("%v: %v", sz, err)
		return res
	}

	var ctl *janus.Client // videoroom: the session that creates the rooms
	if cfg.mode == modeVideoroom {
		c := s.Connect(t)
		ctl = c
		h, err := c.Attach(videoroomPackage)
		if err != nil {
			t.Fatal(err)
		}
		for r := range sz.R {
			rep, err := peer.Message(h, map[string]any{"request": "create", "room": videoroomID(r), "publishers": sz.U,
				"audiocodec": "opus", "videocodec": "h264", "h264_profile": "42e01f", "notify_joining": false, "bitrate": 0}, nil)
			var created struct{ Videoroom string }
			if err != nil || rep.Event.Decode(&created) != nil || created.Videoroom != "created" {
				t.Fatalf("videoroom create: %s %v", rep.Event.Data, err)
			}
		}
	}

	var users []*lUser
	byRoom := make([][]*lUser, sz.R)
	for r := range sz.R {
		for i := range sz.U {
			idx := len(users)
			u := &lUser{idx: idx, room: r, name: userName(idx), mode: cfg.mode, feed: uint64(idx + 1), listener: i < res.listeners}
			users = append(users, u)
			res.nominalPPS += 1 / tick.Seconds()
			if u.video() {
				res.nominalPPS += (1 + 1.0/extraVideoN) / tick.Seconds()
			}
			byRoom[r] = append(byRoom[r], u)
		}
	}
	defer func() {
		peer.Parallel(8, len(users), func(i int) error { users[i].close(); return nil })
		if ctl != nil {
			_ = ctl.Destroy()
		}
		// Janus 1.1.2 can crash (SIGFPE in janus_sctp_association_destroy,
		// after "De-initializing SCTP") when SIGINT arrives while handles
		// with data channels are still being freed: let them go first.
		if os.Getenv("SFU_LOAD_NO_SETTLE") == "" {
			settle(s)
		}
		s.Stop()
		saveCore(t, s, sz)
	}()

	t0 := time.Now()
	if cfg.ms {
		if err := setupStreams(t, e, cfg, users, byRoom); err != nil {
			return fail(err)
		}
	} else if err := setupClassic(e, cfg, sz, users, byRoom); err != nil {
		return fail(err)
	}
	res.setup = time.Since(t0)
	t.Logf("%v: %d users, %d handles expected, up in %v", sz, len(users), cfg.handles(sz), res.setup.Round(time.Millisecond))

	time.Sleep(cfg.warmup)
	c0 := snapshot(t, s, cfg.mode, users)
	rcv0, snd0 := udpDrops()
	jm, gm := startCPU(s.PID), startCPU(os.Getpid())
	for _, u := range users {
		u.openWindow()
	}
	var perfDone chan error
	if cfg.perf != "" {
		perfDone = make(chan error, 1)
		out := cfg.perf + "." + cfg.label() + "." + sz.String()
		go func() {
			b, err := exec.Command("perf", "record", "-g", "-p", strconv.Itoa(s.PID), "-o", out, "--", "sleep", "10").CombinedOutput()
			if err != nil {
				err = fmt.Errorf("perf: %v: %s", err, b)
			}
			perfDone <- err
		}()
	}
	time.Sleep(cfg.duration)
	res.threads = threads(s.PID)
	sent := make([][2]uint64, len(users))
	for i, u := range users {
		sent[i] = u.closeWindow()
	}
	res.janCPU, res.window = jm.stop()
	res.genCPU, _ = gm.stop()
	rcv1, snd1 := udpDrops()
	res.udpRcvDrops, res.udpSndDrops = rcv1-rcv0, snd1-snd0
	c1 := snapshot(t, s, cfg.mode, users)
	res.relayIn, res.relayOut = c1.relayIn-c0.relayIn, c1.relayOut-c0.relayOut
	res.sentAll, res.delivered = c1.sent-c0.sent, c1.delivered-c0.delivered
	time.Sleep(time.Second) // packets in flight at the window's end
	if perfDone != nil {
		if err := <-perfDone; err != nil {
			t.Logf("%v", err)
		}
	}

	var got, want uint64
	for _, u := range users {
		u.mu.Lock()
		for _, sub := range u.subs {
			for k := range 2 {
				if !sub.want[k] {
					res.unwanted += sub.win[k].Load()
					continue
				}
				got += sub.win[k].Load()
				want += sent[sub.from.idx][k]
			}
		}
		u.mu.Unlock()
		res.sent += sent[u.idx][0] + sent[u.idx][1]
	}
	res.fwdPPS = float64(got) / res.window.Seconds()
	res.expPPS = float64(want) / res.window.Seconds()
	if want > 0 {
		res.loss = 1 - float64(got)/float64(want)
	}
	if res.unwanted > 0 {
		t.Errorf("%v: %d packets in the window on paused streams", sz, res.unwanted)
	}
	res.rssMB = rssMB(s.PID)
	if n, err := countHandles(s); err == nil {
		res.handles = n
	} else {
		t.Errorf("handles: %v", err)
	}
	for _, u := range users {
		select {
		case err := <-u.msErr:
			if err != nil {
				return fail(fmt.Errorf("user %s renegotiation: %w", u.name, err))
			}
		default:
		}
	}
	if cfg.mode == modeSFU {
		if ps, err := s.PluginSummary(); err == nil {
			res.plugin = &ps
		} else {
			t.Errorf("plugin summary: %v", err)
		}
	}
	e.mu.Lock()
	res.pubJoin, res.subJoin = e.pubJoin, e.subJoin
	e.mu.Unlock()
	if !s.Running() {
		return fail(fmt.Errorf("janus died"))
	}
	return res
}

// setupClassic: every publisher, then every subscription (one handle and
// PeerConnection per pair), spread over rooms and publishers.
func setupClassic(e *env, cfg config, sz size, users []*lUser, byRoom [][]*lUser) error {
	if err := peer.Parallel(cfg.parallel, len(users), func(i int) error { return e.setupPublisher(users[i]) }); err != nil {
		return fmt.Errorf("publisher setup: %w", err)
	}
	// Subscriptions, spread over rooms and publishers.
	type pair struct{ u, other *lUser }
	var pairs []pair
	for off := 1; off < sz.U; off++ {
		for i := range sz.U {
			for r := range sz.R {
				pairs = append(pairs, pair{byRoom[r][i], byRoom[r][(i+off)%sz.U]})
			}
		}
	}
	if err := peer.Parallel(cfg.parallel, len(pairs), func(i int) error { return e.subscribe(pairs[i].u, pairs[i].other) }); err != nil {
		return fmt.Errorf("subscriber setup: %w", err)
	}
	return nil
}

// setupStreams: users join one after another (cfg.parallel at a time,
// rooms interleaved), each with its publisher then its multistream
// subscription, so the earlier users' subscriptions renegotiate as the
// later ones arrive. Then it waits until every subscription has answered
// an offer with every other user's streams, and the listeners pause their
// video lines.
func setupStreams(t *testing.T, e *env, cfg config, users []*lUser, byRoom [][]*lUser) error {
	order := make([]*lUser, 0, len(users))
	for i := range len(byRoom[0]) {
		for r := range byRoom {
			order = append(order, byRoom[r][i])
		}
	}
	err := peer.Parallel(cfg.parallel, len(order), func(i int) error {
		u := order[i]
		if err := e.setupPublisher(u); err != nil {
			return fmt.Errorf("publisher setup: %w", err)
		}
		var others []*lUser
		for _, o := range byRoom[u.room] {
			if o != u {
				others = append(others, o)
			}
		}
		if err := e.subscribeStreams(u, others); err != nil {
			return fmt.Errorf("multistream setup: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30*time.Second + time.Duration(len(users))*100*time.Millisecond)
	for _, u := range users {
		for !u.streamsComplete() {
			select {
			case err := <-u.msErr:
				return fmt.Errorf("user %s renegotiation: %v", u.name, err)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("user %s: streams incomplete: %+v", u.name, u.ms.List())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	offers := 0
	for _, u := range users {
		offers += u.ms.Answered()
	}
	t.Logf("multistream: %d offers answered by %d subscriptions", offers, len(users))
	return peer.Parallel(cfg.parallel, len(users), func(i int) error {
		if !users[i].listener {
			return nil
		}
		return users[i].pauseVideo()
	})
}

// counters are cumulative packet counts at one moment.
type counters struct{ sent, relayIn, relayOut, delivered uint64 }

// snapshot reads, publisher by publisher, the plugin's relay counters and
// right after them the peers' own counts for that publisher's packets, so
// that both sides cover about the same interval even when the admin
// requests are slow.
func snapshot(t *testing.T, s *janus.Server, mode string, users []*lUser) (c counters) {
	from := map[*lUser][]*lSub{}
	for _, u := range users {
		u.mu.Lock()
		for _, sub := range u.subs {
			from[sub.from] = append(from[sub.from], sub)
		}
		u.mu.Unlock()
	}
	for _, u := range users {
		if mode == modeSFU {
			i, o, err := relayCounters(s, u.c.SessionID(), u.pub.ID)
			if err != nil {
				t.Errorf("relay counters: %v", err)
			}
			c.relayIn += i
			c.relayOut += o
		}
		c.sent += uint64(u.tracks[0].seq.Load()) + uint64(u.tracks[1].seq.Load())
		for _, sub := range from[u] {
			c.delivered += sub.recv[0].Load() + sub.recv[1].Load()
		}
	}
	return c
}

// settle waits (up to 15 s) until Janus has no session left, then 2 s more
// for the handles' PeerConnections to be freed on their loop threads.
func settle(s *janus.Server) {
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ss, err := s.Sessions(); err == nil && len(ss) == 0 {
			break
		}
	}
	time.Sleep(2 * time.Second)
}

// saveCore, after Janus crashed, writes the backtraces of its core dump
// (core_pattern "core" puts it in Janus's working directory, the test's
// temporary one) to test/load/out/.
func saveCore(t *testing.T, s *janus.Server, sz size) {
	core := filepath.Join(filepath.Dir(s.LogPath), "core")
	if _, err := os.Stat(core); err != nil {
		return
	}
	bin, err := exec.LookPath("janus")
	if err != nil {
		return
	}
	out, _ := exec.Command("gdb", "-batch", "-ex", "bt", "-ex", "thread apply all bt 12", bin, core).CombinedOutput()
	root, _ := janus.RepoRoot()
	dir := filepath.Join(root, "test", "load", "out")
	_ = os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, fmt.Sprintf("janus-crash-%s-%s.txt", sz, time.Now().Format("150405")))
	_ = os.WriteFile(p, append(out, []byte("\n--- janus log ---\n"+s.Log())...), 0o644)
	t.Logf("janus core dump: backtraces and log in %s", p)
}

func table(rs []result) string {
	b := &strings.Builder{}
	b.WriteString("| mode | event_loops | R×U | listeners/room | handles | handles/user | Janus threads | offered % | fwd pkt/s | loss % | Janus CPU % | Janus µs CPU/fwd pkt | Janus RSS MB | plugin goroutines | plugin heap MB | pub join p50/p99 ms | sub join p50/p99 ms | generator CPU % | setup s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		users := r.size.R * r.size.U
		if r.err != "" {
			fmt.Fprintf(b, "| %s | %d | %v | %d | failed: %s |||||||||||||||\n", r.mode, r.eventLoops, r.size, r.listeners, strings.ReplaceAll(r.err, "|", "/"))
			continue
		}
		gor, heap := "-", "-"
		if r.plugin != nil {
			gor = strconv.Itoa(r.plugin.Runtime.Goroutines)
			heap = fmt.Sprintf("%.1f", mb(r.plugin.Runtime.HeapInuse))
		}
		fmt.Fprintf(b, "| %s | %d | %v | %d | %d | %.2f | %d | %.1f | %.0f | %.3f | %.0f | %.1f | %.0f | %s | %s | %v | %v | %.0f | %.1f |\n",
			r.mode, r.eventLoops, r.size, r.listeners, r.handles, float64(r.handles)/float64(users), r.threads,
			100*r.offered(), r.fwdPPS, 100*r.loss, r.janusPct(), r.usPerPkt(), r.rssMB, gor, heap,
			r.pubJoin, r.subJoin, r.genPct(), r.setup.Seconds())
	}
	return b.String()
}

func notes(rs []result) string {
	b := &strings.Builder{}
	best := map[string]string{}
	var order []string
	for _, r := range rs {
		if _, ok := best[r.mode]; !ok {
			best[r.mode] = "none"
			order = append(order, r.mode)
		}
		if r.sustained() {
			best[r.mode] = fmt.Sprintf("%v (%d users, %d handles, %.0f packets/s delivered)", r.size, r.size.R*r.size.U, r.handles, r.fwdPPS)
		}
		if r.err == "" {
			line := fmt.Sprintf("- %v (%s): publishers sent %.0f packets/s (%.1f%% of nominal), subscribers got %d packets",
				r.size, r.mode, float64(r.sent)/r.window.Seconds(), 100*r.offered(), r.delivered)
			if r.plugin != nil {
				line += fmt.Sprintf("; plugin rtp_in %.2f%% short of sent, relayed %d (%.2f%% of those not delivered); plugin sys %.1f MB, %d GCs",
					100*(1-safeDiv(r.relayIn, r.sentAll)), r.relayOut, 100*(1-safeDiv(r.delivered, r.relayOut)),
					mb(r.plugin.Runtime.Sys), r.plugin.Runtime.GCCycles)
			}
			line += fmt.Sprintf("; kernel UDP drops in the window: %d receive-buffer, %d send-buffer", r.udpRcvDrops, r.udpSndDrops)
			if r.listeners > 0 {
				line += fmt.Sprintf("; window packets on streams that should not flow (paused): %d", r.unwanted)
			}
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("\n")
	for _, m := range order {
		fmt.Fprintf(b, "Largest size with < %.0f%% loss at ≥ 99%% of the nominal send rate, %s: %s.\n", 100*maxLoss, m, best[m])
	}
	return b.String()
}

func safeDiv(a, b uint64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func machine() string {
	model := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				if i := strings.IndexByte(l, ':'); i > 0 {
					model = strings.TrimSpace(l[i+1:])
				}
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf(", %.0f GB RAM", kb/1024/1024)
		}
	}
	return fmt.Sprintf("Machine: %s, %d CPUs%s, %s, %s/%s.\n", model, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
