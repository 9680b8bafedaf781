package janus

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// EnvE2E enables the end-to-end suite (test/e2e) and this package's own
// tests against real Janus; see Suite. Start does not read it.
const EnvE2E = "SFU_E2E"

// EnvLogDir, when set, makes Stop copy each Janus log there
// (<test name>.janus.log) so logs survive the test's temp dir.
const EnvLogDir = "SFU_E2E_LOGDIR"

// EnvJanusBin, when set, is the janus binary Start runs instead of `janus`
// from PATH (e.g. a Janus 0.x built from source under /opt); see
// Options.JanusBin.
const EnvJanusBin = "SFU_JANUS_BIN"

// EnvJanusTransports, when set, is the transports_folder given to Janus
// instead of Debian's; see Options.Transports.
const EnvJanusTransports = "SFU_JANUS_TRANSPORTS"

// EnvPlugin, when set, is the plugin .so Start uses when Options.PluginPath
// is empty, instead of <repo root>/libjanus_plugin_sfu.so (e.g. the
// AddressSanitizer build of scripts/asan-e2e.sh).
const EnvPlugin = "SFU_E2E_PLUGIN"

// PluginPackage is the package name our plugin registers with Janus.
const PluginPackage = "janus.plugin.sfu"

// NetnsIP is the address of the d0 interface in a scripts/netns.sh
// namespace; the only ICE host address Janus offers when Options.Netns is set.
const NetnsIP = "198.18.0.1"

// Crash markers: Stop fails the test if the Janus log contains any of them.
var CrashMarkers = []string{"SIGSEGV", "Segmentation", "ABRT", "panic:", "fatal error:", "ERROR: AddressSanitizer"}

// Options configures Start.
type Options struct {
	// PluginPath is the plugin .so copied into Janus's plugins folder
	// (default $SFU_E2E_PLUGIN, else <repo root>/libjanus_plugin_sfu.so).
	// Any Janus plugin works.
	PluginPath string
	// SFUConfig, when non-empty, is written as janus.plugin.sfu.cfg.
	SFUConfig string
	// Netns runs Janus in this network namespace (see scripts/netns.sh) with
	// ICE restricted to d0 (NetnsIP). If the test process is not itself in
	// the namespace, Janus is started via `ip netns exec` and the Server's
	// HTTP/WebSocket clients dial into the namespace.
	Netns string
	// DebugLevel is Janus's debug_level (default 4).
	DebugLevel int
	// Admin enables the HTTP admin API (AdminURL, secret AdminSecret).
	Admin bool
	// EventsBackend, when set, turns on Janus's event handlers with only
	// the sample handler (libjanus_sampleevh.so), which POSTs every event
	// as JSON to this URL.
	EventsBackend string
	// EventLoops, when > 0, is Janus's event_loops (that many loop threads
	// shared by all handles instead of one thread per handle).
	EventLoops int
	// ExtraArgs are appended to the janus command line.
	ExtraArgs []string
	// StartTimeout bounds waiting for /janus/info (default 20 s).
	StartTimeout time.Duration
	// JanusBin is the janus binary to run (default $SFU_JANUS_BIN, else
	// `janus` from PATH).
	JanusBin string
	// Bind is the address the HTTP and WebSocket transports listen on and
	// the URLs use (default 127.0.0.1), e.g. a namespace's own address that
	// other namespaces reach (test/cluster).
	Bind string
	// Transports is Janus's transports_folder (default $SFU_JANUS_TRANSPORTS,
	// else scripts/janus-config.sh's default, Debian's folder). Set it with
	// JanusBin for a Janus not installed from Debian's package.
	Transports string
}

// Server is a running Janus instance owned by a test.
type Server struct {
	HTTPBase  string // e.g. http://127.0.0.1:PORT/janus
	WSURL     string // e.g. ws://127.0.0.1:PORT/
	AdminURL  string // e.g. http://127.0.0.1:PORT/admin, when Options.Admin
	ConfigDir string // janus -F
	PluginDir string // janus -P
	LogPath   string
	Netns     string
	PID       int

	t       testing.TB
	cmd     *exec.Cmd
	logf    *os.File
	done    chan struct{}
	waitErr error
	dialer  *websocket.Dialer
	hc      *http.Client

	stopOnce    sync.Once
	mu          sync.Mutex
	interrupted bool // Interrupt was called: the caller judges the exit
}

// RepoRoot returns the directory holding go.mod, walking up from the
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above working directory")
		}
		dir = parent
	}
}

// Start configures and starts Janus with one plugin, waits until its HTTP
// transport answers, and registers Stop with t.Cleanup. It fails the test
// on any setup error. It runs whenever called: suites gate themselves
// (Suite.Require).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("janus: %v", err)
	}
	if opts.PluginPath == "" {
		opts.PluginPath = os.Getenv(EnvPlugin)
	}
	if opts.PluginPath == "" {
		opts.PluginPath = filepath.Join(root, "libjanus_plugin_sfu.so")
	}
	if _, err := os.Stat(opts.PluginPath); err != nil {
		t.Fatalf("janus: plugin %s missing (run make first): %v", opts.PluginPath, err)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 20 * time.Second
	}
	if opts.DebugLevel == 0 {
		opts.DebugLevel = 4
	}
	if opts.JanusBin == "" {
		opts.JanusBin = os.Getenv(EnvJanusBin)
	}
	if opts.JanusBin == "" {
		opts.JanusBin = "janus"
	}
	if opts.Transports == "" {
		opts.Transports = os.Getenv(EnvJanusTransports)
	}

	base := t.TempDir()
	s := &Server{
		t:         t,
		ConfigDir: filepath.Join(base, "cfg"),
		PluginDir: filepath.Join(base, "plugins"),
		LogPath:   filepath.Join(base, "janus.log"),
		Netns:     opts.Netns,
		done:      make(chan struct{}),
		dialer:    &websocket.Dialer{HandshakeTimeout: DefaultTimeout},
		hc:        &http.Client{Timeout: DefaultTimeout, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	wrap := false
	if opts.Netns != "" {
		in, err := InNetns(opts.Netns)
		if err != nil {
			t.Fatalf("janus: %v", err)
		}
		if !in {
			wrap = true
			dial := NetnsDialContext(opts.Netns)
			s.dialer.NetDialContext = dial
			s.hc.Transport = &http.Transport{DialContext: dial, DisableKeepAlives: true}
		}
	}

	if opts.Bind == "" {
		opts.Bind = "127.0.0.1"
	}
	ports := freePorts(t, 3)
	args := []string{s.ConfigDir, s.PluginDir,
		"--http-port", strconv.Itoa(ports[0]), "--ws-port", strconv.Itoa(ports[1]),
		"--bind", opts.Bind, "--debug-level", strconv.Itoa(opts.DebugLevel)}
	if opts.Admin {
		args = append(args, "--admin-port", strconv.Itoa(ports[2]))
		s.AdminURL = fmt.Sprintf("http://%s/admin", net.JoinHostPort(opts.Bind, strconv.Itoa(ports[2])))
	}
	if opts.Netns != "" {
		args = append(args, "--netns")
	}
	if opts.Transports != "" {
		args = append(args, "--transports", opts.Transports)
	}
	if opts.EventLoops > 0 {
		args = append(args, "--event-loops", strconv.Itoa(opts.EventLoops))
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "janus-config.sh"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("janus: janus-config.sh: %v\n%s", err, out)
	}
	if opts.SFUConfig != "" {
		if err := os.WriteFile(filepath.Join(s.ConfigDir, "janus.plugin.sfu.cfg"), []byte(opts.SFUConfig), 0o644); err != nil {
			t.Fatalf("janus: %v", err)
		}
	}
	if opts.EventsBackend != "" {
		if err := enableSampleEventHandler(s.ConfigDir, opts.EventsBackend); err != nil {
			t.Fatalf("janus: %v", err)
		}
	}
	if err := copyFile(opts.PluginPath, filepath.Join(s.PluginDir, filepath.Base(opts.PluginPath))); err != nil {
		t.Fatalf("janus: copy plugin: %v", err)
	}
	s.HTTPBase = fmt.Sprintf("http://%s/janus", net.JoinHostPort(opts.Bind, strconv.Itoa(ports[0])))
	s.WSURL = fmt.Sprintf("ws://%s/", net.JoinHostPort(opts.Bind, strconv.Itoa(ports[1])))

	janusArgs := append([]string{"-F", s.ConfigDir, "-P", s.PluginDir}, opts.ExtraArgs...)
	if wrap {
		// ip(8) execs janus, so the child's pid is janus itself.
		s.cmd = exec.Command("ip", append([]string{"netns", "exec", opts.Netns, opts.JanusBin}, janusArgs...)...)
	} else {
		s.cmd = exec.Command(opts.JanusBin, janusArgs...)
	}
	s.logf, err = os.Create(s.LogPath)
	if err != nil {
		t.Fatalf("janus: %v", err)
	}
	s.cmd.Stdout = s.logf
	s.cmd.Stderr = s.logf
	s.cmd.Dir = base
	// Own process group: a ^C on the terminal must not reach Janus before
	// Stop does, and Janus must not outlive us if the test binary dies.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.logf.Close()
		t.Fatalf("janus: start: %v", err)
	}
	s.PID = s.cmd.Process.Pid
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.Stop)

	deadline := time.Now().Add(opts.StartTimeout)
	for {
		if _, err := s.Info(); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("janus: not ready after %v: %v\n%s", opts.StartTimeout, err, s.logTail(60))
		}
		select {
		case <-s.done:
			t.Fatalf("janus: exited during startup (%v)\n%s", s.waitErr, s.logTail(60))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("janus: pid %d, %s, %s, log %s", s.PID, s.HTTPBase, s.WSURL, s.LogPath)
	return s
}

// enableSampleEventHandler switches janus-config.sh's "events" section on,
// with every handler but the sample one disabled, and points the sample
// handler at backend.
func enableSampleEventHandler(dir, backend string) error {
	path := filepath.Join(dir, "janus.jcfg")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	const off = "events: {\n\tbroadcast = false\n}"
	if !strings.Contains(string(b), off) {
		return fmt.Errorf("%s has no %q section to enable", path, off)
	}
	on := "events: {\n\tbroadcast = true\n\tstats_period = 0\n" +
		"\tdisable = \"libjanus_gelfevh.so,libjanus_mqttevh.so,libjanus_nanomsgevh.so,libjanus_rabbitmqevh.so,libjanus_wsevh.so\"\n}"
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), off, on, 1)), 0o644); err != nil {
		return err
	}
	evh := fmt.Sprintf("general: {\n\tenabled = true\n\tevents = \"all\"\n\tgrouping = true\n\tjson = \"compact\"\n\tbackend = %q\n\tmax_retransmissions = 2\n\tretransmissions_backoff = 50\n}\n", backend)
	return os.WriteFile(filepath.Join(dir, "janus.eventhandler.sampleevh.jcfg"), []byte(evh), 0o644)
}

// Running reports whether the Janus process is still alive.
func (s *Server) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Log returns Janus's output (stdout+stderr) so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// WaitLog waits up to timeout for substr to appear in the log.
func (s *Server) WaitLog(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(s.Log(), substr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(s.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- janus log tail ---\n" + strings.Join(lines, "\n")
}

// HTTPClient returns an http.Client that reaches this server (dialing into
// its network namespace when needed).
func (s *Server) HTTPClient() *http.Client { return s.hc }

// Dialer returns the WebSocket dialer that reaches this server.
func (s *Server) Dialer() *websocket.Dialer { return s.dialer }

// Info fetches /janus/info.
func (s *Server) Info() (*ServerInfo, error) { return InfoWith(s.hc, s.HTTPBase) }

// Dial opens a Janus API WebSocket connection (no session yet).
func (s *Server) Dial() (*Client, error) { return DialWith(s.WSURL, s.dialer) }

// Connect dials, creates a session, and registers Close with t.Cleanup; it
// fails the test on error.
func (s *Server) Connect(t testing.TB) *Client {
	t.Helper()
	c, err := s.Dial()
	if err != nil {
		t.Fatalf("janus: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.CreateSession(); err != nil {
		t.Fatalf("janus: create session: %v", err)
	}
	return c
}

// Kill ends Janus with SIGKILL, as a host dies, and waits for it; Stop then
// reports nothing about the exit. The log stays readable (Log).
func (s *Server) Kill() {
	s.stopOnce.Do(func() {
		defer s.logf.Close()
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// Stop sends SIGINT to Janus, waits up to 15 s for it to exit, and reports
// (t.Errorf) an unclean exit, a crash marker in the log, or Janus having
// died before Stop. Safe to call more than once; registered by Start. After
// Interrupt, the caller has judged the exit and Stop only checks the log.
func (s *Server) Stop() {
	s.stopOnce.Do(s.stop)
}

// Exit is how Janus ended after a SIGINT.
type Exit struct {
	Elapsed  time.Duration // from SIGINT to exit (or to the deadline)
	Err      error         // the process's wait error: nil on a clean exit
	TimedOut bool          // still running at the deadline (then killed)
}

// Interrupt sends SIGINT to Janus and waits up to within for it to exit;
// if it has not, it is aborted and killed. The caller judges the result:
// Stop then no longer reports the exit status.
func (s *Server) Interrupt(within time.Duration) Exit {
	s.mu.Lock()
	s.interrupted = true
	s.mu.Unlock()
	if !s.Running() {
		return Exit{Err: s.waitErr}
	}
	t0 := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		return Exit{Elapsed: time.Since(t0), Err: s.waitErr}
	case <-time.After(within):
	}
	e := Exit{Elapsed: time.Since(t0), TimedOut: true}
	_ = s.cmd.Process.Signal(syscall.SIGABRT) // core/backtrace if enabled
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	e.Err = s.waitErr
	return e
}

func (s *Server) stop() {
	t := s.t
	t.Helper()
	defer s.logf.Close()
	s.mu.Lock()
	judged := s.interrupted
	s.mu.Unlock()
	switch {
	case judged:
	case !s.Running():
		t.Errorf("janus: process exited before Stop: %v", s.waitErr)
	default:
		if created, freed := s.WaitHandlesFreed(5 * time.Second); freed < created {
			t.Logf("janus: %d of %d handles not freed 5 s after the test (clients still connected?)", created-freed, created)
		}
		if e := s.Interrupt(15 * time.Second); e.TimedOut {
			t.Errorf("janus: did not exit within 15s of SIGINT")
		} else if e.Err != nil {
			t.Errorf("janus: unclean exit after SIGINT: %v", e.Err)
		}
	}
	log := s.Log()
	for _, m := range CrashMarkers {
		if strings.Contains(log, m) {
			t.Errorf("janus: log contains %q", m)
		}
	}
	if dir := os.Getenv(EnvLogDir); dir != "" {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".janus.log"
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(dir, name), []byte(log), 0o644)
		}
	}
	if t.Failed() {
		t.Logf("janus log: %s\n%s", s.LogPath, s.logTail(80))
	}
}

// HandleCounts reads from Janus's log (debug level 4) how many handles it
// has created and how many it has freed. A handle is freed only once the
// plugin dropped the reference Janus gave it, so freed < created when
// every client has left means a plugin holds handles.
func (s *Server) HandleCounts() (created, freed int) {
	log := s.Log()
	return strings.Count(log, "Creating new handle in session "), strings.Count(log, HandleFreedLog)
}

// HandleFreedLog is what Janus logs, after "[handle id] ", when it frees a
// handle (janus_ice_handle_free, debug level 4).
const HandleFreedLog = "Handle and related resources freed"

// WaitHandlesFreed waits up to d until Janus has freed every handle it
// created, and returns the last counts. Stop calls it before its SIGINT, so
// that the signal does not race the teardown of handles whose clients just
// left: Janus 1.1.2 frees their PeerConnections on the handles' own threads
// while it shuts SCTP down, and an SCTP association destroyed after that
// crashes it with SIGFPE (meetecho/janus-gateway#3089). A suite that means
// to stop Janus with live media calls Interrupt (test/soak's shutdown
// test).
func (s *Server) WaitHandlesFreed(d time.Duration) (created, freed int) {
	deadline := time.Now().Add(d)
	for {
		created, freed = s.HandleCounts()
		if freed >= created || time.Now().After(deadline) {
			return created, freed
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("janus: free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}
