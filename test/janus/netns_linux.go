//go:build linux

package janus

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// InNetns reports whether the current process already runs inside the named
// network namespace (as created by scripts/netns.sh, i.e. /run/netns/NAME).
func InNetns(name string) (bool, error) {
	var self, target syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &self); err != nil {
		return false, err
	}
	if err := syscall.Stat("/run/netns/"+name, &target); err != nil {
		return false, fmt.Errorf("network namespace %q: %w (run scripts/netns.sh up %s)", name, err, name)
	}
	return self.Ino == target.Ino && self.Dev == target.Dev, nil
}

// ReexecInNetns replaces the current process with itself running inside the
// named network namespace (`ip netns exec NAME <self> <args>`), unless it
// already runs there. Meant for TestMain, so that WebRTC peers created by
// the tests share the namespace with Janus. It only returns on error or when
// no re-exec was needed.
func ReexecInNetns(name string) error {
	in, err := InNetns(name)
	if err != nil || in {
		return err
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	argv := append([]string{"ip", "netns", "exec", name, self}, os.Args[1:]...)
	return syscall.Exec(ip, argv, os.Environ())
}

// NetnsDialContext returns a DialContext function whose sockets are created
// inside the named network namespace, while the rest of the process stays
// where it is. Usable as http.Transport.DialContext and
// websocket.Dialer.NetDialContext.
func NetnsDialContext(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			// The goroutine keeps its thread locked if the namespace cannot
			// be restored, so the runtime discards that thread on exit.
			runtime.LockOSThread()
			orig, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{nil, err}
				return
			}
			defer orig.Close()
			target, err := os.Open("/run/netns/" + name)
			if err != nil {
				runtime.UnlockOSThread()
				ch <- result{nil, err}
				return
			}
			defer target.Close()
			if err := setns(target); err != nil {
				runtime.UnlockOSThread()
				ch <- result{nil, fmt.Errorf("setns %s: %w", name, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if setns(orig) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

func setns(f *os.File) error {
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}
