package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// fakeJanus echoes WebSocket messages and, like Janus, insists on the
// janus-protocol subprotocol.
func fakeJanus(t *testing.T) *httptest.Server {
	up := websocket.Upgrader{Subprotocols: []string{"janus-protocol"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), "janus-protocol") {
			http.Error(w, "no subprotocol", http.StatusForbidden)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func demoDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<title>demo</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestProxiesJanusWebSocket(t *testing.T) {
	janus := fakeJanus(t)
	h, err := newHandler(demoDir(t), "ws"+strings.TrimPrefix(janus.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	demo := httptest.NewServer(h)
	defer demo.Close()

	d := websocket.Dialer{Subprotocols: []string{"janus-protocol"}}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(demo.URL, "http")+"/janus", nil)
	if err != nil {
		t.Fatalf("dial through the proxy: %v (%v)", err, resp)
	}
	defer c.Close()
	if c.Subprotocol() != "janus-protocol" {
		t.Fatalf("subprotocol %q, want janus-protocol", c.Subprotocol())
	}
	want := `{"janus":"create","transaction":"t1"}`
	if err := c.WriteMessage(websocket.TextMessage, []byte(want)); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != want {
		t.Fatalf("echo through the proxy: %q, %v", got, err)
	}
}

func TestServesDemoFiles(t *testing.T) {
	h, err := newHandler(demoDir(t), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	demo := httptest.NewServer(h)
	defer demo.Close()

	resp, err := http.Get(demo.URL + "/?room=x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>demo</title>") {
		t.Fatalf("GET /: %d %q", resp.StatusCode, body)
	}
	// naf-janus-adapter reads the server clock from the page's Date header.
	if resp.Header.Get("Date") == "" {
		t.Fatal("no Date header")
	}
	// Janus down: a clear 502, not a hang.
	resp, err = http.Get(demo.URL + "/janus")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("GET /janus with Janus down: %d, want 502", resp.StatusCode)
	}
}

func TestRejectsBadSettings(t *testing.T) {
	if _, err := newHandler(filepath.Join(t.TempDir(), "missing"), "http://127.0.0.1:8188"); err == nil {
		t.Fatal("missing demo folder accepted")
	}
	if _, err := newHandler(demoDir(t), "tcp://127.0.0.1:8188"); err == nil {
		t.Fatal("bad Janus URL scheme accepted")
	}
}
