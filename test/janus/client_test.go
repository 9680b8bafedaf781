package janus

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeJanus is a minimal Janus API server for client unit tests.
type fakeJanus struct {
	t        *testing.T
	mu       sync.Mutex
	conn     *websocket.Conn
	protocol string
}

func (f *fakeJanus) write(v any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.conn.WriteJSON(v); err != nil {
		f.t.Logf("fake write: %v", err)
	}
}

func (f *fakeJanus) serve(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{Subprotocol}}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		f.t.Errorf("upgrade: %v", err)
		return
	}
	f.mu.Lock()
	f.conn = conn
	f.protocol = conn.Subprotocol()
	f.mu.Unlock()
	defer conn.Close()
	for {
		var m map[string]any
		if err := conn.ReadJSON(&m); err != nil {
			return
		}
		txn, _ := m["transaction"].(string)
		switch m["janus"] {
		case "create":
			f.write(map[string]any{"janus": "success", "transaction": txn, "data": map[string]any{"id": 11}})
		case "attach":
			f.write(map[string]any{"janus": "success", "transaction": txn, "session_id": 11, "data": map[string]any{"id": 22}})
		case "detach":
			f.write(map[string]any{"janus": "success", "transaction": txn, "session_id": 11})
			f.write(map[string]any{"janus": "detached", "session_id": 11, "sender": 22})
		case "trickle", "keepalive":
			f.write(map[string]any{"janus": "ack", "transaction": txn, "session_id": 11})
		case "destroy":
			f.write(map[string]any{"janus": "success", "transaction": txn, "session_id": 11})
		case "message":
			body := m["body"].(map[string]any)
			switch body["kind"] {
			case "sync":
				f.write(map[string]any{"janus": "success", "transaction": txn, "sender": 22,
					"plugindata": map[string]any{"plugin": "janus.plugin.sfu", "data": map[string]any{"sync": true}}})
			case "bad":
				f.write(map[string]any{"janus": "error", "transaction": txn, "error": map[string]any{"code": 456, "reason": "nope"}})
			case "silent":
				f.write(map[string]any{"janus": "ack", "transaction": txn})
			default:
				// Async event with no transaction, an event for an unrelated
				// transaction and a core signal arrive before the reply,
				// and the event comes before the ack (Janus may do that).
				plug := func(data any) map[string]any {
					return map[string]any{"plugin": "janus.plugin.sfu", "data": data}
				}
				f.write(map[string]any{"janus": "event", "session_id": 11, "sender": 22, "plugindata": plug(map[string]any{"event": "join"})})
				f.write(map[string]any{"janus": "event", "session_id": 11, "sender": 22, "transaction": "other", "plugindata": plug(map[string]any{"event": "other"})})
				f.write(map[string]any{"janus": "webrtcup", "session_id": 11, "sender": 22})
				f.write(map[string]any{"janus": "event", "session_id": 11, "sender": 22, "transaction": txn,
					"plugindata": plug(map[string]any{"success": true, "echo": body}),
					"jsep":       map[string]any{"type": "answer", "sdp": "v=0"}})
				f.write(map[string]any{"janus": "ack", "transaction": txn, "session_id": 11})
				f.write(map[string]any{"janus": "media", "session_id": 11, "sender": 22, "type": "audio", "receiving": true})
			}
		}
	}
}

func startFake(t *testing.T) (*fakeJanus, *Client) {
	f := &fakeJanus{t: t}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	c, err := Dial("ws" + strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Timeout = 2 * time.Second
	return f, c
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return v
	case <-time.After(2 * time.Second):
		t.Fatal("timeout waiting on channel")
	}
	panic("unreachable")
}

func TestClientRouting(t *testing.T) {
	f, c := startFake(t)
	if err := c.CreateSession(); err != nil {
		t.Fatal(err)
	}
	if c.SessionID() != 11 {
		t.Fatalf("session %d", c.SessionID())
	}
	if f.protocol != Subprotocol {
		t.Fatalf("subprotocol %q", f.protocol)
	}
	h, err := c.Attach("janus.plugin.sfu")
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != 22 {
		t.Fatalf("handle %d", h.ID)
	}

	ev, err := h.Message(map[string]any{"kind": "join", "room_id": "r"}, map[string]any{"type": "offer", "sdp": "v=0"})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Success bool           `json:"success"`
		Echo    map[string]any `json:"echo"`
	}
	if err := ev.Decode(&got); err != nil || !got.Success || got.Echo["room_id"] != "r" {
		t.Fatalf("reply %s (%v)", ev.Data, err)
	}
	var jsep struct{ Type, SDP string }
	if err := ev.DecodeJsep(&jsep); err != nil || jsep.Type != "answer" {
		t.Fatalf("jsep %s (%v)", ev.Jsep, err)
	}
	if ev.Plugin != "janus.plugin.sfu" || ev.Sender != 22 {
		t.Fatalf("event meta %+v", ev)
	}

	a := recv(t, h.Events())
	if string(a.Data) != `{"event":"join"}` || a.Transaction != "" {
		t.Fatalf("async event %s %q", a.Data, a.Transaction)
	}
	o := recv(t, h.Events())
	if string(o.Data) != `{"event":"other"}` || o.Transaction != "other" {
		t.Fatalf("other-transaction event %s", o.Data)
	}
	if s := recv(t, h.Signals()); s.Type != "webrtcup" {
		t.Fatalf("signal %+v", s)
	}
	if s := recv(t, h.Signals()); s.Type != "media" || s.MediaType != "audio" || s.Receiving == nil || !*s.Receiving {
		t.Fatalf("signal %+v", s)
	}

	// Synchronous plugin reply.
	ev, err = h.Message(map[string]any{"kind": "sync"}, nil)
	if err != nil || string(ev.Data) != `{"sync":true}` || ev.Jsep != nil {
		t.Fatalf("sync reply %s %s %v", ev.Data, ev.Jsep, err)
	}
	// Janus error.
	_, err = h.Message(map[string]any{"kind": "bad"}, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 456 {
		t.Fatalf("want APIError 456, got %v", err)
	}
	// No reply: times out, and the connection stays usable.
	c.Timeout = 200 * time.Millisecond
	if _, err := h.Message(map[string]any{"kind": "silent"}, nil); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("want timeout, got %v", err)
	}
	c.Timeout = 2 * time.Second
	if err := h.Send(map[string]any{"kind": "silent"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Trickle(map[string]any{"candidate": "candidate:1 1 udp 1 198.18.0.1 1 typ host", "sdpMid": "0"}); err != nil {
		t.Fatal(err)
	}
	if err := h.TrickleCompleted(); err != nil {
		t.Fatal(err)
	}

	// Detach: the "detached" signal arrives, then both channels close.
	if err := h.Detach(); err != nil {
		t.Fatal(err)
	}
	if s := recv(t, h.Signals()); s.Type != "detached" {
		t.Fatalf("signal %+v", s)
	}
	select {
	case _, ok := <-h.Signals():
		if ok {
			t.Fatal("signals not closed after detached")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("signals not closed after detached")
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	if err := c.CreateSession(); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestClientConnectionLost(t *testing.T) {
	f, c := startFake(t)
	if err := c.CreateSession(); err != nil {
		t.Fatal(err)
	}
	h, err := c.Attach("janus.plugin.sfu")
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.conn.Close()
	f.mu.Unlock()
	select {
	case _, ok := <-h.Events():
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("events not closed on connection loss")
	}
	if _, err := h.Message(map[string]any{"kind": "join"}, nil); err == nil {
		t.Fatal("message on dead connection succeeded")
	}
}

func TestPluginEventJSON(t *testing.T) {
	e := &envelope{}
	raw := `{"janus":"event","sender":5,"plugindata":{"plugin":"p","data":{"a":1}},"jsep":null}`
	if err := json.Unmarshal([]byte(raw), e); err != nil {
		t.Fatal(err)
	}
	ev := e.pluginEvent()
	if ev.Jsep != nil || string(ev.Data) != `{"a":1}` || ev.Plugin != "p" {
		t.Fatalf("%+v", ev)
	}
}
