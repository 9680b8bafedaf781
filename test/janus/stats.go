package janus

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PluginStats is the plugin's admin summary (message_plugin with an empty
// request). Decoding is tolerant: fields the plugin adds are kept in Raw,
// fields it lacks stay zero.
type PluginStats struct {
	Sessions int `json:"sessions"`
	Rooms    int `json:"rooms"`
	Users    int `json:"users"`
	Blocks   int `json:"blocks"` // when the plugin reports it
	Runtime  struct {
		Goroutines int    `json:"goroutines"`
		HeapInuse  uint64 `json:"heap_inuse_bytes"`
		Sys        uint64 `json:"sys_bytes"`
		Retained   uint64 `json:"retained_bytes"`
		Mallocs    uint64 `json:"mallocs"`
		GCCycles   uint64 `json:"gc_cycles"`
	} `json:"runtime"`
	Raw json.RawMessage `json:"-"`
}

// PluginSummary asks the plugin for its admin summary.
func (s *Server) PluginSummary() (PluginStats, error) {
	var ps PluginStats
	raw, err := s.MessagePlugin(map[string]any{})
	if err != nil {
		return ps, err
	}
	if err := json.Unmarshal(raw, &ps); err != nil {
		return ps, fmt.Errorf("janus: plugin summary %s: %w", raw, err)
	}
	ps.Raw = raw
	return ps, nil
}

// Sessions lists Janus's sessions (admin list_sessions).
func (s *Server) Sessions() ([]uint64, error) {
	raw, err := s.AdminPost("", map[string]any{"janus": "list_sessions"})
	if err != nil {
		return nil, err
	}
	var r struct {
		Janus    string   `json:"janus"`
		Sessions []uint64 `json:"sessions"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Janus != "success" {
		return nil, fmt.Errorf("janus: list_sessions: %v: %s", err, raw)
	}
	return r.Sessions, nil
}

// RSS returns Janus's resident set size in bytes.
func (s *Server) RSS() (uint64, error) { return ProcRSS(s.PID) }

// ProcRSS returns VmRSS of a process in bytes.
func ProcRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// clkTck is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on
// every Linux architecture the project targets).
const clkTck = 100

// ProcCPU returns utime+stime of a process (all its threads), in seconds.
func ProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces; fields after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat times", pid)
	}
	return float64(ut+st) / clkTck, nil
}
