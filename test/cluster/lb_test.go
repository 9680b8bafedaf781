package cluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// lb is HAProxy running deploy/haproxy.cfg in master-worker mode.
type lb struct {
	t        testing.TB
	addr     string // host:port clients dial
	cfgPath  string
	sockPath string
	logPath  string
	cmd      *exec.Cmd
	done     chan struct{}
}

// backend is one Janus host as HAProxy sees it.
type backend struct {
	name     string
	wsAddr   string // host:port of the websocket transport
	httpPort int    // Janus's HTTP transport, for the health check
}

// haproxyConfig is the shipped deploy/haproxy.cfg with the lines marked
// "test:" replaced: logging to stdout, the stats socket, the bind address
// and the servers.
func haproxyConfig(t testing.TB, addr, sock string, servers []backend) string {
	t.Helper()
	root, err := janus.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(root, "deploy", "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	replaced := map[string]int{}
	for _, line := range strings.Split(string(shipped), "\n") {
		marker := ""
		if i := strings.Index(line, "# test: "); i >= 0 {
			marker = strings.TrimSpace(line[i+len("# test: "):])
		}
		switch marker {
		case "":
			out = append(out, line)
		case "log":
			out = append(out, "\tlog stdout format raw local0 info")
		case "maxconn":
			out = append(out, "\tmaxconn 2000") // this machine's hard fd limit is lower
		case "stats socket":
			out = append(out, "\tstats socket "+sock+" mode 600 level admin")
		case "bind":
			out = append(out, "\tbind "+addr)
		case "server":
			if replaced["server"] == 0 {
				for _, s := range servers {
					out = append(out, fmt.Sprintf("\tserver %s %s port %d", s.name, s.wsAddr, s.httpPort))
				}
			}
		default:
			t.Fatalf("deploy/haproxy.cfg: unknown test marker %q", marker)
		}
		if marker != "" {
			replaced[marker]++
		}
	}
	for _, m := range []string{"log", "maxconn", "stats socket", "bind", "server"} {
		if replaced[m] == 0 {
			t.Fatalf("deploy/haproxy.cfg has no line marked \"# test: %s\"", m)
		}
	}
	return strings.Join(out, "\n")
}

// freeAddr returns host:port with a port free on ip.
func freeAddr(t testing.TB, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// requireHAProxy skips the test when haproxy is not installed.
func requireHAProxy(t testing.TB) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy not installed (scripts/install-deps.sh --cluster installs it)")
	}
}

// startLB runs HAProxy on addr.
func startLB(t testing.TB, addr string, servers []backend) *lb {
	t.Helper()
	dir := t.TempDir()
	b := &lb{t: t, addr: addr, cfgPath: filepath.Join(dir, "haproxy.cfg"), sockPath: filepath.Join(dir, "admin.sock"),
		logPath: filepath.Join(dir, "haproxy.log"), done: make(chan struct{})}
	b.writeConfig(servers)
	if out, err := exec.Command("haproxy", "-c", "-f", b.cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	logf, err := os.Create(b.logPath)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command("haproxy", "-W", "-db", "-f", b.cfgPath)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); logf.Close(); close(b.done) }()
	t.Cleanup(b.stop)
	b.waitUp(servers)
	return b
}

func (b *lb) writeConfig(servers []backend) {
	if err := os.WriteFile(b.cfgPath, []byte(haproxyConfig(b.t, b.addr, b.sockPath, servers)), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// reload makes HAProxy take a new server list as an operator's reload does
// (SIGUSR2 to the master): connections already open stay with the old
// worker.
func (b *lb) reload(servers []backend) {
	b.t.Helper()
	b.writeConfig(servers)
	if err := b.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		b.t.Fatal(err)
	}
	b.waitUp(servers)
}

// waitUp waits until HAProxy's health checks have every server up.
func (b *lb) waitUp(servers []backend) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := b.status()
		up := err == nil
		for _, s := range servers {
			up = up && st[s.name] == "UP"
		}
		if up {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(b.logPath)
			b.t.Fatalf("haproxy: servers not up: %v %v\n%s", st, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// status returns each janus server's state ("UP", "DOWN", ...) from the
// runtime API's "show stat".
func (b *lb) status() (map[string]string, error) {
	c, err := net.DialTimeout("unix", b.sockPath, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	st := map[string]string{}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		// pxname, svname, ... status is field 17 (0-based).
		if len(f) > 17 && f[0] == "janus" && f[1] != "BACKEND" {
			st[f[1]] = strings.Fields(f[17] + " ")[0]
		}
	}
	return st, sc.Err()
}

func (b *lb) log() string {
	log, _ := os.ReadFile(b.logPath)
	return string(log)
}

func (b *lb) stop() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	if b.t.Failed() {
		b.t.Logf("haproxy log %s:\n%s", b.logPath, tail(b.log(), 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// wsURL is the client URL of a room through the load balancer.
func (b *lb) wsURL(room string) string { return "ws://" + b.addr + "/janus?room=" + room }

// publicURL is the public_url of a host behind this load balancer.
func publicURL(lbAddr, name string) string { return "ws://" + lbAddr + "/janus?host=" + name }
