// Package cjanus is the only package that speaks C: the Janus plugin ABI
// (both the 0.x and 1.x layouts), the relay hot path (in C), the gateway
// callbacks and jansson. Everything above it is plain Go.
package cjanus

/*
#cgo CFLAGS: -O2 -Wall -std=gnu11
#cgo pkg-config: glib-2.0 jansson
#cgo LDFLAGS: -ldl -lpthread
#include <stdlib.h>
#include <string.h>
#include "core.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"unsafe"

	pointer "github.com/mattn/go-pointer"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// Host is what the plugin's Go side implements: the control-path callbacks
// of one plugin instance.
type Host interface {
	CreateSession(id sfu.SessionID) error
	HandleMessage(id sfu.SessionID, transaction string, body, jsep []byte)
	RefuseMessage(id sfu.SessionID, transaction, msg string)
	SetupMedia(id sfu.SessionID)
	HangupMedia(id sfu.SessionID)
	DestroySession(id sfu.SessionID)
	SlowLink(id sfu.SessionID, mindex int, video, uplink bool)
	QuerySession(id sfu.SessionID) []byte
	AdminMessage(msg []byte) []byte
	Destroy()
}

// StartFunc builds the Host at init time from Janus's config folder.
type StartFunc func(gw *Gateway, log sfu.Logger, configDir string) (Host, error)

var (
	startMu sync.Mutex
	start   StartFunc
	host    Host
)

// gateway returns the Gateway that init handed to C as an opaque token.
// cgo lets C keep no Go pointer, so C keeps a token (cj_gw.user) and
// go-pointer's registry, a map inside that package, keeps the Gateway
// reachable until destroy Unrefs the token.
func gateway() *Gateway {
	p := C.cj_gw.user
	if p == nil {
		return nil
	}
	g, _ := pointer.Restore(p).(*Gateway)
	return g
}

// SetStart registers how to build the plugin when Janus calls init.
func SetStart(f StartFunc) {
	startMu.Lock()
	start = f
	startMu.Unlock()
}

// recoverExport keeps a Go panic from reaching Janus: it is logged with its
// stack and the callback returns its neutral value.
func recoverExport(name string) {
	if r := recover(); r != nil {
		Log.Errorf("panic in %s: %v\n%s", name, r, debug.Stack())
	}
}

func currentHost() Host {
	startMu.Lock()
	defer startMu.Unlock()
	return host
}

//export cjGoInit
func cjGoInit(configPath *C.char) (rc C.int) {
	rc = -1
	defer recoverExport("init")
	startMu.Lock()
	defer startMu.Unlock()
	if start == nil {
		Log.Errorf("init: no plugin registered")
		return -1
	}
	if host != nil {
		Log.Errorf("init called twice")
		return -1
	}
	g := newGateway()
	h, err := start(g, Log, C.GoString(configPath))
	if err != nil {
		Log.Errorf("init failed, plugin not loaded: %v", err)
		return -1
	}
	C.cj_gw.user = pointer.Save(g)
	host = h
	Log.Infof("%s", describeABI())
	return 0
}

func describeABI() string {
	return fmt.Sprintf("ready (version %s, Janus %d, %s ABI, plugin API %d)", Version, int(C.cj_gw.janus_version),
		map[C.int]string{0: "0.x", 1: "1.x"}[C.cj_gw.abi], int(C.cj_gw.api))
}

//export cjGoDestroy
func cjGoDestroy() {
	defer recoverExport("destroy")
	startMu.Lock()
	h := host
	host = nil
	startMu.Unlock()
	if h != nil {
		h.Destroy()
	}
	if g := gateway(); g != nil {
		g.close()
	}
	if p := C.cj_gw.user; p != nil {
		C.cj_gw.user = nil
		pointer.Unref(p)
	}
}

//export cjGoCreateSession
func cjGoCreateSession(h *C.sfu_plugin_session) (rc C.int) {
	rc = -1
	defer recoverExport("create_session")
	hs := currentHost()
	if hs == nil || h == nil {
		return -1
	}
	gw := gateway()
	id, err := gw.attach(unsafe.Pointer(h))
	if err != nil {
		Log.Errorf("create_session: %v", err)
		return -1
	}
	if err := hs.CreateSession(id); err != nil {
		Log.Errorf("create_session: %v", err)
		gw.detach(id)
		gw.Publish(nil, nil, []sfu.SessionID{id})
		return -1
	}
	return 0
}

// maxTransactionBytes bounds the transaction string we copy; a longer one
// cannot be answered (the client would not recognise a cut one), so the
// message is dropped.
const maxTransactionBytes = 1024

// maxJSEPBytes bounds the jsep text: an SDP of sfu.MaxSDPBytes, escaped
// (at most 6 bytes per byte), plus the object around it.
const maxJSEPBytes = 6*sfu.MaxSDPBytes + 1024

//export cjGoHandleMessage
func cjGoHandleMessage(id C.uint64_t, txn *C.char, msg *C.char, msgLen C.size_t, jsep *C.char, jsepLen C.size_t) {
	defer recoverExport("handle_message")
	hs := currentHost()
	if hs == nil {
		return
	}
	sid := sfu.SessionID(id)
	var t string
	if txn != nil {
		n := C.strnlen(txn, maxTransactionBytes+1)
		if n > maxTransactionBytes {
			Log.Verbosef("session %d: message with a transaction over %d bytes dropped", sid, maxTransactionBytes)
			return
		}
		t = C.GoStringN(txn, C.int(n))
	}
	// Sizes are checked before copying: Janus hands over whatever the
	// client sent.
	if msg != nil && msgLen > sfu.MaxMessageBytes {
		hs.RefuseMessage(sid, t, fmt.Sprintf("Malformed message: larger than %d bytes.", sfu.MaxMessageBytes))
		return
	}
	if jsep != nil && jsepLen > maxJSEPBytes {
		hs.RefuseMessage(sid, t, fmt.Sprintf("Malformed jsep: larger than %d bytes.", maxJSEPBytes))
		return
	}
	var body, j []byte
	if msg != nil {
		body = C.GoBytes(unsafe.Pointer(msg), C.int(msgLen))
	}
	if jsep != nil {
		j = C.GoBytes(unsafe.Pointer(jsep), C.int(jsepLen))
	}
	hs.HandleMessage(sid, t, body, j)
}

//export cjGoAdminMessage
func cjGoAdminMessage(msg *C.char, msgLen C.size_t) (out *C.char) {
	defer recoverExport("handle_admin_message")
	hs := currentHost()
	if hs == nil {
		return nil
	}
	var m []byte
	if msg != nil {
		m = C.GoBytes(unsafe.Pointer(msg), C.int(msgLen))
	}
	if r := hs.AdminMessage(m); r != nil {
		return C.CString(string(r))
	}
	return nil
}

//export cjGoSetupMedia
func cjGoSetupMedia(id C.uint64_t) {
	defer recoverExport("setup_media")
	if hs := currentHost(); hs != nil {
		hs.SetupMedia(sfu.SessionID(id))
	}
}

//export cjGoHangupMedia
func cjGoHangupMedia(id C.uint64_t) {
	defer recoverExport("hangup_media")
	if hs := currentHost(); hs != nil {
		hs.HangupMedia(sfu.SessionID(id))
	}
}

//export cjGoDestroySession
func cjGoDestroySession(id C.uint64_t) {
	defer recoverExport("destroy_session")
	sid := sfu.SessionID(id)
	g := gateway()
	if g == nil {
		return
	}
	// Stop the hot path and the Go side from using the handle first; the
	// memory goes once the SFU has republished routes without it.
	g.detach(sid)
	if hs := currentHost(); hs != nil {
		hs.DestroySession(sid)
		return
	}
	g.Publish(nil, nil, []sfu.SessionID{sid})
}

//export cjGoQuerySession
func cjGoQuerySession(id C.uint64_t) (out *C.char) {
	defer recoverExport("query_session")
	hs := currentHost()
	if hs == nil {
		return nil
	}
	r := hs.QuerySession(sfu.SessionID(id))
	if st, ok := gateway().Stats(sfu.SessionID(id)); ok {
		r = withRelayStats(r, st, func() []int { return gateway().relayedMindexes(sfu.SessionID(id)) })
	}
	if r == nil {
		return nil
	}
	return C.CString(string(r))
}

// withRelayStats adds the hot path's counters to a query_session answer
// and, to each m-line of a multistream subscriber's "streams.lines",
// "relayed": whether the relay's published routes send to it (relayed is
// only called for such a subscriber).
func withRelayStats(obj []byte, st RelayStats, relayed func() []int) []byte {
	m := map[string]any{}
	if len(obj) > 0 && json.Unmarshal(obj, &m) != nil {
		return obj
	}
	m["relay"] = st
	if streams, ok := m["streams"].(map[string]any); ok {
		if lines, ok := streams["lines"].([]any); ok {
			mindexes := relayed()
			for _, l := range lines {
				if line, ok := l.(map[string]any); ok {
					i, _ := line["mindex"].(float64)
					_, line["relayed"] = slices.BinarySearch(mindexes, int(i))
				}
			}
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return obj
	}
	return b
}

//export cjGoSlowLink
func cjGoSlowLink(id C.uint64_t, mindex C.int, video C.int, uplink C.int) {
	defer recoverExport("slow_link")
	if hs := currentHost(); hs != nil {
		hs.SlowLink(sfu.SessionID(id), int(mindex), video != 0, uplink != 0)
	}
}
