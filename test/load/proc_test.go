package load

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// rssMB returns VmRSS of a process in MiB (NaN if unreadable).
func rssMB(pid int) float64 {
	b, err := janus.ProcRSS(pid)
	if err != nil {
		return math.NaN()
	}
	return mb(b)
}

// cpuMeter measures a process's CPU use over an interval.
type cpuMeter struct {
	pid   int
	cpu0  float64
	wall0 time.Time
}

func startCPU(pid int) cpuMeter {
	c, _ := janus.ProcCPU(pid)
	return cpuMeter{pid: pid, cpu0: c, wall0: time.Now()}
}

// stop returns CPU seconds used and the wall time elapsed.
func (m cpuMeter) stop() (cpu float64, wall time.Duration) {
	c, _ := janus.ProcCPU(m.pid)
	return c - m.cpu0, time.Since(m.wall0)
}

// relayCounters returns the plugin's relay counters of one handle.
func relayCounters(s *janus.Server, session, handle uint64) (in, out uint64, err error) {
	raw, err := s.HandleInfo(session, handle)
	if err != nil {
		return 0, 0, err
	}
	var r struct {
		Relay struct {
			RTPIn  uint64 `json:"rtp_in"`
			RTPOut uint64 `json:"rtp_out"`
		} `json:"relay"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, 0, fmt.Errorf("handle_info: %v %s", err, raw)
	}
	return r.Relay.RTPIn, r.Relay.RTPOut, nil
}

// latencies collects durations; safe for one writer at a time (callers lock).
type latencies []time.Duration

// pct returns the q-quantile (nearest rank) in milliseconds, NaN if empty.
func (l latencies) pct(q float64) float64 {
	if len(l) == 0 {
		return math.NaN()
	}
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(q*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	return float64(s[i].Microseconds()) / 1000
}

func (l latencies) String() string {
	if len(l) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f / %.1f", l.pct(0.5), l.pct(0.99))
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// udpDrops returns the namespace's UDP RcvbufErrors and SndbufErrors
// (/proc/net/snmp): datagrams the kernel dropped because a socket's buffer
// was full, i.e. its reader (Janus or a pion peer) did not keep up.
func udpDrops() (rcv, snd uint64) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, 0
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "Udp: ") {
			continue
		}
		f := strings.Fields(l)[1:]
		if names == nil {
			names = f
			continue
		}
		for i, v := range f {
			if i >= len(names) {
				break
			}
			n, _ := strconv.ParseUint(v, 10, 64)
			switch names[i] {
			case "RcvbufErrors":
				rcv = n
			case "SndbufErrors":
				snd = n
			}
		}
		break
	}
	return rcv, snd
}

// threads returns the number of threads of a process (/proc/<pid>/task).
func threads(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// countHandles returns the number of handles Janus has, over all its
// sessions (admin API list_sessions, then list_handles for each).
func countHandles(s *janus.Server) (int, error) {
	ss, err := s.Sessions()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ss {
		raw, err := s.AdminPost(fmt.Sprintf("/%d", id), map[string]any{"janus": "list_handles"})
		if err != nil {
			return 0, err
		}
		var r struct {
			Janus   string   `json:"janus"`
			Handles []uint64 `json:"handles"`
		}
		if err := json.Unmarshal(raw, &r); err != nil || r.Janus != "success" {
			return 0, fmt.Errorf("list_handles: %v: %s", err, raw)
		}
		n += len(r.Handles)
	}
	return n, nil
}
