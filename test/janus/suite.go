package janus

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// Suite says how one test package that runs real Janus is switched on and
// where its peers live. Start itself runs whenever it is called: gating is
// the suite's business, so that one suite (load, soak) does not have to fake
// another's variable.
type Suite struct {
	Name string // for messages, e.g. "e2e"
	// Gate is the environment variable that enables the suite (any
	// non-empty value), e.g. SFU_E2E.
	Gate string
	// NetnsVar names the environment variable holding the network namespace
	// (scripts/netns.sh) that the test binary re-enters, e.g. SFU_E2E_NETNS.
	NetnsVar string
	// DefaultNetns is used when NetnsVar is unset ("" = stay where we are).
	DefaultNetns string
}

// Enabled reports whether the suite's gate variable is set.
func (s Suite) Enabled() bool { return os.Getenv(s.Gate) != "" }

// Netns is the suite's network namespace, or "".
func (s Suite) Netns() string {
	if ns := os.Getenv(s.NetnsVar); ns != "" {
		return ns
	}
	return s.DefaultNetns
}

// Require skips t unless the suite is enabled.
func (s Suite) Require(t testing.TB) {
	t.Helper()
	Require(t, s.Gate)
}

// Main is the suite's TestMain: when the suite is enabled and has a
// namespace, it re-executes the test binary inside it (Janus skips loopback
// for ICE, so pion peers and Janus must share the namespace), then runs the
// tests.
func (s Suite) Main(m *testing.M) {
	if s.Enabled() {
		if ns := s.Netns(); ns != "" {
			if err := ReexecInNetns(ns); err != nil {
				fmt.Fprintf(os.Stderr, "%s: cannot enter network namespace %s: %v (scripts/netns.sh up %s)\n", s.Name, ns, err, ns)
				os.Exit(2)
			}
		}
	}
	os.Exit(m.Run())
}

// Require skips t unless the environment variable env is set.
func Require(t testing.TB, env string) {
	t.Helper()
	if os.Getenv(env) == "" {
		t.Skipf("set %s=1 to run tests against real Janus (make test does)", env)
	}
}

// RequireE2E skips the test unless SFU_E2E is set.
func RequireE2E(t testing.TB) {
	t.Helper()
	Require(t, EnvE2E)
}

// EnvInt sets *p from the environment variable name when it is set; a value
// that is not an integer ≥ min fails t.
func EnvInt(t testing.TB, name string, min int, p *int) {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			t.Fatalf("%s: bad number %q (want an integer ≥ %d)", name, v, min)
		}
		*p = n
	}
}

// EnvDuration sets *p from the environment variable name when it is set.
func EnvDuration(t testing.TB, name string, p *time.Duration) {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		*p = d
	}
}
