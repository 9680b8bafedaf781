//go:build !linux

package janus

import (
	"context"
	"errors"
	"net"
)

var errNoNetns = errors.New("network namespaces are only supported on linux")

// InNetns reports whether the process runs in the named network namespace.
func InNetns(name string) (bool, error) { return false, errNoNetns }

// ReexecInNetns is only supported on linux.
func ReexecInNetns(name string) error { return errNoNetns }

// NetnsDialContext is only supported on linux.
func NetnsDialContext(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) { return nil, errNoNetns }
}
