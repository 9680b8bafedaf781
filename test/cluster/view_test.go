package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/cmd/sfu-exporter/exporter"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// The cluster view: cmd/sfu-exporter scraping every host's admin API, and a
// table of each host's admin stats.

// stats is the plugin's admin "stats" answer on h.
func (h *host) stats() (sfu.Stats, error) {
	var st sfu.Stats
	raw, err := h.srv.MessagePlugin(map[string]any{"request": sfu.AdminStats})
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(raw, &st)
}

// spreadTable is the room spread as a table of every host's admin stats
// (a dead host shows as down) and the rooms each serves per owners.
func spreadTable(hs []*host, owners map[string]string) string {
	n := map[string]int{}
	for _, o := range owners {
		n[o]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %-4s %5s %5s %5s %5s %5s %9s %9s\n", "host", "up", "owns", "rooms", "users", "pubs", "subs", "rtp_in", "rtp_out")
	for _, h := range hs {
		if !h.srv.Running() {
			fmt.Fprintf(&b, "%-7s %-4s %5d\n", h.name, "no", n[h.name])
			continue
		}
		st, err := h.stats()
		if err != nil {
			fmt.Fprintf(&b, "%-7s %-4s %5d\n", h.name, "no", n[h.name])
			continue
		}
		var in, out uint64
		if st.Relay != nil {
			in, out = st.Relay.RTPIn, st.Relay.RTPOut
		}
		fmt.Fprintf(&b, "%-7s %-4s %5d %5d %5d %5d %5d %9d %9d\n", h.name, "yes", n[h.name], st.Rooms, st.Users,
			st.Publishers, st.Subscribers, in, out)
	}
	return strings.TrimRight(b.String(), "\n")
}

// exporterProc is cmd/sfu-exporter, built by the test, scraping hosts.
type exporterProc struct {
	url  string // .../metrics
	cmd  *exec.Cmd
	done chan struct{}
	out  *strings.Builder
}

// startExporter builds cmd/sfu-exporter and runs it in the client
// namespace with every host's admin API as a target.
func startExporter(t *testing.T, hs []*host) *exporterProc {
	t.Helper()
	root, err := janus.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "sfu-exporter")
	build := exec.Command(gobin, "build", "-o", bin, "./cmd/sfu-exporter")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/sfu-exporter: %v\n%s", err, out)
	}
	listen := freeAddr(t, bridgeIP())
	args := []string{"-listen", listen, "-admin-secret", janus.AdminSecret, "-timeout", "3s"}
	for _, h := range hs {
		args = append(args, "-janus", h.srv.AdminURL)
	}
	e := &exporterProc{url: "http://" + listen + "/metrics", cmd: exec.Command(bin, args...), done: make(chan struct{}), out: &strings.Builder{}}
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.cmd.Wait(); close(e.done) }()
	t.Cleanup(func() {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.done:
		case <-time.After(5 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(e.url)
		if err == nil {
			resp.Body.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("sfu-exporter not serving %s: %v\n%s", e.url, err, e.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricLine is one sample of the text exposition format with an
// instance label and no others.
var metricLine = regexp.MustCompile(`^(janus_sfu_[a-z_]+)\{instance="([^"]+)"\} (\S+)$`)

// scrape reads /metrics once: metric -> host name -> value, for the
// metrics with only an instance label.
func (e *exporterProc) scrape(hs []*host) (map[string]map[string]float64, error) {
	resp, err := http.Get(e.url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s: %s", e.url, resp.Status, b)
	}
	byInstance := map[string]string{}
	for _, h := range hs {
		byInstance[exporter.Instance(h.srv.AdminURL)] = h.name
	}
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := metricLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name, ok := byInstance[m[2]]
		if !ok {
			return nil, fmt.Errorf("metric for an unknown instance: %s", sc.Text())
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", sc.Text(), err)
		}
		if out[m[1]] == nil {
			out[m[1]] = map[string]float64{}
		}
		out[m[1]][name] = v
	}
	return out, sc.Err()
}

// checkView scrapes the exporter once: every host in up is up and no
// other, and each live host's janus_sfu_rooms is the rooms it serves per
// owners (so they sum to the live rooms).
func checkView(t *testing.T, e *exporterProc, all []*host, live []*host, owners map[string]string, when string) {
	t.Helper()
	m, err := e.scrape(all)
	if err != nil {
		t.Fatalf("%s: scrape: %v", when, err)
	}
	n := map[string]int{}
	for _, o := range owners {
		n[o]++
	}
	sum := 0.0
	var parts []string
	for _, h := range all {
		isLive := false
		for _, l := range live {
			isLive = isLive || l == h
		}
		up, ok := m["janus_sfu_up"][h.name]
		if !ok || (up == 1) != isLive {
			t.Fatalf("%s: exporter: janus_sfu_up of %s is %v (present %v), want live=%v", when, h.name, up, ok, isLive)
		}
		if !isLive {
			parts = append(parts, h.name+": down")
			continue
		}
		rooms := m["janus_sfu_rooms"][h.name]
		if int(rooms) != n[h.name] {
			t.Fatalf("%s: exporter: janus_sfu_rooms of %s is %v, it serves %d", when, h.name, rooms, n[h.name])
		}
		sum += rooms
		parts = append(parts, fmt.Sprintf("%s: %v rooms %v users", h.name, rooms, m["janus_sfu_users"][h.name]))
	}
	if int(sum) != len(owners) {
		t.Fatalf("%s: exporter: rooms sum to %v, %d rooms are live", when, sum, len(owners))
	}
	t.Logf("%s: exporter scrape: %s; %v rooms in all", when, strings.Join(parts, ", "), sum)
}
