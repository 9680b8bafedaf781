// Package redistest runs a throwaway redis-server for tests: no
// persistence, its own port, stopped by t.Cleanup.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server owned by a test.
type Server struct {
	Addr    string // host:port
	LogPath string

	t    testing.TB
	bind string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Require skips the test when redis-server is not installed.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (scripts/install-deps.sh --cluster installs Debian's redis-server)")
	}
}

// Start runs redis-server on bind (an address of this network namespace)
// and a free port, and waits until it answers. It skips the test when
// redis-server is missing.
func Start(t testing.TB, bind string) *Server {
	t.Helper()
	Require(t)
	l, err := net.Listen("tcp", net.JoinHostPort(bind, "0"))
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Addr: net.JoinHostPort(bind, strconv.Itoa(port)), t: t, bind: bind, port: port,
		LogPath: filepath.Join(t.TempDir(), "redis.log")}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--bind", s.bind, "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--logfile", s.LogPath,
		"--dir", filepath.Dir(s.LogPath))
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.ping(); err == nil {
			return
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.LogPath)
			s.t.Fatalf("redistest: redis-server on %s not ready: %v\n%s", s.Addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends PING in the inline protocol.
func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Kill stops the server at once (SIGKILL); its data is gone.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts a fresh, empty server on the same address.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}
