package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// clkTck is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on
// every Linux architecture the project targets).
const clkTck = 100

// cpuSeconds returns utime+stime of a process (all its threads), in seconds.
func cpuSeconds(pid string) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%s/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%s/stat", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%s/stat times", pid)
	}
	return float64(ut+st) / clkTck, nil
}

// rssMB returns VmRSS of a process in MiB.
func rssMB(pid string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return math.NaN()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return math.NaN()
}

// cpuMeter measures a process's CPU use over an interval.
type cpuMeter struct {
	pid   string
	cpu0  float64
	wall0 time.Time
}

func startCPU(pid string) cpuMeter {
	c, _ := cpuSeconds(pid)
	return cpuMeter{pid: pid, cpu0: c, wall0: time.Now()}
}

// stop returns CPU seconds used and the wall time elapsed.
func (m cpuMeter) stop() (cpu float64, wall time.Duration) {
	c, _ := cpuSeconds(m.pid)
	return c - m.cpu0, time.Since(m.wall0)
}

// pluginStats is the plugin's admin summary (message_plugin).
type pluginStats struct {
	Sessions int `json:"sessions"`
	Rooms    int `json:"rooms"`
	Users    int `json:"users"`
	Runtime  struct {
		Goroutines int    `json:"goroutines"`
		HeapInuse  uint64 `json:"heap_inuse_bytes"`
		Sys        uint64 `json:"sys_bytes"`
		Mallocs    uint64 `json:"mallocs"`
		GCCycles   uint64 `json:"gc_cycles"`
	} `json:"runtime"`
}

func adminPost(s *janus.Server, url string, req map[string]any) ([]byte, error) {
	b, _ := json.Marshal(req)
	resp, err := s.HTTPClient().Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func pluginSummary(s *janus.Server) (pluginStats, error) {
	raw, err := adminPost(s, s.AdminURL, map[string]any{"janus": "message_plugin", "plugin": janus.PluginPackage,
		"admin_secret": "janusoverlord", "transaction": "x", "request": map[string]any{}})
	var out struct {
		Janus    string      `json:"janus"`
		Response pluginStats `json:"response"`
	}
	if err != nil {
		return out.Response, err
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Janus != "success" {
		return out.Response, fmt.Errorf("admin message_plugin: %v %s", err, raw)
	}
	return out.Response, nil
}

// relayCounters returns the plugin's relay counters of one handle.
func relayCounters(s *janus.Server, session, handle uint64) (in, out uint64, err error) {
	raw, err := adminPost(s, fmt.Sprintf("%s/%d/%d", s.AdminURL, session, handle), map[string]any{"janus": "handle_info",
		"transaction": "q", "admin_secret": "janusoverlord"})
	if err != nil {
		return 0, 0, err
	}
	var r struct {
		Info struct {
			PluginSpecific struct {
				Relay struct {
					RTPIn  uint64 `json:"rtp_in"`
					RTPOut uint64 `json:"rtp_out"`
				} `json:"relay"`
			} `json:"plugin_specific"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, 0, fmt.Errorf("handle_info: %v %s", err, raw)
	}
	return r.Info.PluginSpecific.Relay.RTPIn, r.Info.PluginSpecific.Relay.RTPOut, nil
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
