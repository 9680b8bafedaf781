package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// janusEvent is one event as Janus's event handlers get it.
type janusEvent struct {
	Type     int             `json:"type"`
	Session  uint64          `json:"session_id"`
	Handle   uint64          `json:"handle_id"`
	Event    json.RawMessage `json:"event"`
	received time.Time
}

// eventSink is the HTTP backend Janus's sample event handler POSTs to: one
// JSON event, or an array of them (grouping), per request.
type eventSink struct {
	mu     sync.Mutex
	events []janusEvent
	url    string
}

func newEventSink(t *testing.T) *eventSink {
	t.Helper()
	// The test binary runs in Janus's network namespace (TestMain), so
	// loopback here is loopback there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	es := &eventSink{url: "http://" + l.Addr().String() + "/events"}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var batch []janusEvent
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			if err := json.Unmarshal(body, &batch); err != nil {
				t.Errorf("event handler posted %s: %v", body, err)
			}
		} else {
			var one janusEvent
			if err := json.Unmarshal(body, &one); err != nil {
				t.Errorf("event handler posted %s: %v", body, err)
			}
			batch = append(batch, one)
		}
		es.mu.Lock()
		for _, e := range batch {
			e.received = time.Now()
			es.events = append(es.events, e)
		}
		es.mu.Unlock()
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return es
}

// wait returns the first event that match accepts, waiting up to d.
func (es *eventSink) wait(t *testing.T, what string, d time.Duration, match func(janusEvent) bool) janusEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		es.mu.Lock()
		for _, e := range es.events {
			if match(e) {
				es.mu.Unlock()
				return e
			}
		}
		n := len(es.events)
		es.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s event within %v (%d events received)", what, d, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The Janus event types of events.h that the test looks at.
const (
	eventTypeHandle = 2
	eventTypePlugin = 64
)

// pluginData decodes a type 64 event of our plugin; ok is false for any
// other event.
func pluginData(e janusEvent) (data map[string]any, ok bool) {
	if e.Type != eventTypePlugin {
		return nil, false
	}
	var body struct {
		Plugin string         `json:"plugin"`
		Data   map[string]any `json:"data"`
	}
	if json.Unmarshal(e.Event, &body) != nil || body.Plugin != janus.PluginPackage {
		return nil, false
	}
	return body.Data, true
}

// TestEventHandlers runs Janus with its sample event handler posting to the
// test: Janus's own handle events and the plugin's events both arrive.
func TestEventHandlers(t *testing.T) {
	requireE2E(t)
	sink := newEventSink(t)
	s := janus.Start(t, janus.Options{Netns: Netns(), Admin: true, EventsBackend: sink.url})
	c := s.Connect(t)
	a := attach(t, c)
	a.ok(join("evroom", "alice", pubSub, ""), nil)

	sink.wait(t, "core attached", 10*time.Second, func(e janusEvent) bool {
		var ev struct{ Name, Plugin string }
		return e.Type == eventTypeHandle && e.Handle == a.h.ID && json.Unmarshal(e.Event, &ev) == nil &&
			ev.Name == "attached" && ev.Plugin == janus.PluginPackage
	})
	joined := sink.wait(t, "plugin joined", 10*time.Second, func(e janusEvent) bool {
		d, ok := pluginData(e)
		return ok && d["event"] == "joined"
	})
	d, _ := pluginData(joined)
	if joined.Session != c.SessionID() || joined.Handle != a.h.ID ||
		d["room_id"] != "evroom" || d["user_id"] != "alice" || d["publisher"] != true {
		t.Errorf("joined event: session %d handle %d data %v; want session %d handle %d",
			joined.Session, joined.Handle, d, c.SessionID(), a.h.ID)
	}

	// An admin kick is reported too, about the kicked handle.
	if _, err := s.MessagePlugin(map[string]any{"request": "kick", "room_id": "evroom", "user_id": "alice"}); err != nil {
		t.Fatal(err)
	}
	kicked := sink.wait(t, "plugin kicked", 10*time.Second, func(e janusEvent) bool {
		d, ok := pluginData(e)
		return ok && d["event"] == "kicked"
	})
	if d, _ := pluginData(kicked); kicked.Handle != a.h.ID || d["user_id"] != "alice" || d["by"] != "admin" {
		t.Errorf("kicked event: handle %d data %v", kicked.Handle, d)
	}
	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}
