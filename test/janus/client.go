// Package janus contains helpers for end-to-end tests against a real Janus
// server: starting/stopping Janus with a plugin (Server) and a Janus API
// client over WebSocket (Client, Handle).
package janus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultTimeout bounds every request made by Client (ack/response/event).
const DefaultTimeout = 10 * time.Second

// KeepaliveInterval is how often a Client with a session sends keepalives.
const KeepaliveInterval = 15 * time.Second

// Subprotocol is the WebSocket subprotocol of the Janus API.
const Subprotocol = "janus-protocol"

// APIError is a Janus-level error response ({"janus":"error",...}).
type APIError struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func (e *APIError) Error() string { return fmt.Sprintf("janus error %d: %s", e.Code, e.Reason) }

// ErrClosed is returned by requests on a closed Client.
var ErrClosed = errors.New("janus: client closed")

// PluginEvent is a plugin event (or synchronous plugin response) addressed
// to a handle.
type PluginEvent struct {
	Sender      uint64          // handle id
	Transaction string          // empty for asynchronous events
	Plugin      string          // plugindata.plugin
	Data        json.RawMessage // plugindata.data
	Jsep        json.RawMessage // nil when absent
	Raw         json.RawMessage // the whole Janus message
}

// Decode unmarshals e.Data into v.
func (e PluginEvent) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// DecodeJsep unmarshals e.Jsep into v (e.g. a webrtc.SessionDescription).
func (e PluginEvent) DecodeJsep(v any) error {
	if len(e.Jsep) == 0 {
		return errors.New("janus: event has no jsep")
	}
	return json.Unmarshal(e.Jsep, v)
}

// Signal is a Janus core notification about a handle's PeerConnection:
// "webrtcup", "media", "hangup", "slowlink", "detached", "trickle".
type Signal struct {
	Type      string          `json:"janus"`
	Sender    uint64          `json:"sender"`
	MediaType string          `json:"type,omitempty"`      // media
	Mid       string          `json:"mid,omitempty"`       // media (Janus 1.x)
	Receiving *bool           `json:"receiving,omitempty"` // media
	Reason    string          `json:"reason,omitempty"`    // hangup
	Uplink    *bool           `json:"uplink,omitempty"`    // slowlink
	Raw       json.RawMessage `json:"-"`
}

// envelope is any message from Janus.
type envelope struct {
	Janus       string          `json:"janus"`
	Transaction string          `json:"transaction"`
	SessionID   uint64          `json:"session_id"`
	Sender      uint64          `json:"sender"`
	Data        json.RawMessage `json:"data"`
	PluginData  *struct {
		Plugin string          `json:"plugin"`
		Data   json.RawMessage `json:"data"`
	} `json:"plugindata"`
	Jsep  json.RawMessage `json:"jsep"`
	Error *APIError       `json:"error"`
	raw   json.RawMessage
}

func (e *envelope) pluginEvent() PluginEvent {
	ev := PluginEvent{Sender: e.Sender, Transaction: e.Transaction, Jsep: e.Jsep, Raw: e.raw}
	if e.PluginData != nil {
		ev.Plugin = e.PluginData.Plugin
		ev.Data = e.PluginData.Data
	}
	if string(ev.Jsep) == "null" {
		ev.Jsep = nil
	}
	return ev
}

// Client is a Janus API connection over WebSocket holding at most one
// session. It is safe for concurrent use.
type Client struct {
	// Timeout bounds each request; DefaultTimeout when zero.
	Timeout time.Duration

	conn      *websocket.Conn
	wmu       sync.Mutex
	txn       atomic.Uint64
	session   atomic.Uint64
	keepalive atomic.Int64 // interval in ns; 0: KeepaliveInterval, < 0: none

	mu      sync.Mutex
	pending map[string]*waiter
	handles map[uint64]*Handle
	readErr error

	closed    chan struct{}
	closeOnce sync.Once
	readDone  chan struct{}
	sessionEv *queue[*envelope]
}

// Dial connects to a Janus WebSocket endpoint (e.g. ws://127.0.0.1:8188/).
func Dial(url string) (*Client, error) {
	return DialWith(url, websocket.DefaultDialer)
}

// DialWith is Dial with a custom dialer (e.g. one whose NetDialContext is
// NetnsDialContext). The "janus-protocol" subprotocol is always requested.
func DialWith(url string, d *websocket.Dialer) (*Client, error) {
	dd := *d
	dd.Subprotocols = []string{Subprotocol}
	if dd.HandshakeTimeout == 0 {
		dd.HandshakeTimeout = DefaultTimeout
	}
	conn, _, err := dd.Dial(url, nil)
	if err != nil {
		return nil, fmt.Errorf("janus: dial %s: %w", url, err)
	}
	c := &Client{
		conn:      conn,
		pending:   map[string]*waiter{},
		handles:   map[uint64]*Handle{},
		closed:    make(chan struct{}),
		readDone:  make(chan struct{}),
		sessionEv: newQueue[*envelope](),
	}
	go c.readLoop()
	go c.keepaliveLoop()
	return c, nil
}

// SessionID returns the id of the session created by CreateSession (0 if none).
func (c *Client) SessionID() uint64 { return c.session.Load() }

// Done is closed when the connection is gone (closed or broken).
func (c *Client) Done() <-chan struct{} { return c.readDone }

// SessionEvents delivers messages addressed to the session rather than to a
// handle, e.g. {"janus":"timeout"}; the raw JSON of each.
func (c *Client) SessionEvents() <-chan json.RawMessage {
	out := make(chan json.RawMessage)
	go func() {
		defer close(out)
		for e := range c.sessionEv.out {
			out <- e.raw
		}
	}()
	return out
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// CreateSession creates the Janus session used by Attach and friends.
func (c *Client) CreateSession() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	resp, err := c.request(ctx, map[string]any{"janus": "create"}, false)
	if err != nil {
		return err
	}
	var d struct {
		ID uint64 `json:"id"`
	}
	if err := json.Unmarshal(resp.Data, &d); err != nil || d.ID == 0 {
		return fmt.Errorf("janus: bad create response %s", resp.raw)
	}
	c.session.Store(d.ID)
	return nil
}

// Destroy destroys the session (handles are detached by Janus).
func (c *Client) Destroy() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	_, err := c.request(ctx, map[string]any{"janus": "destroy", "session_id": c.SessionID()}, false)
	if err == nil {
		c.session.Store(0)
	}
	return err
}

// Attach attaches a handle to plugin (e.g. "janus.plugin.sfu").
func (c *Client) Attach(plugin string) (*Handle, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	// Register the handle before the response is processed further, so no
	// early event for it can be missed: readLoop holds c.mu while routing.
	var h *Handle
	resp, err := c.requestHook(ctx, map[string]any{"janus": "attach", "plugin": plugin, "session_id": c.SessionID()}, false,
		func(e *envelope) {
			var d struct {
				ID uint64 `json:"id"`
			}
			if e.Janus == "success" && json.Unmarshal(e.Data, &d) == nil && d.ID != 0 {
				h = newHandle(c, d.ID, plugin)
				c.handles[d.ID] = h
			}
		})
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("janus: bad attach response %s", resp.raw)
	}
	return h, nil
}

// Close closes the connection without destroying the session.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		c.wmu.Lock()
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		c.wmu.Unlock()
		err = c.conn.Close()
		<-c.readDone
	})
	return err
}

func (c *Client) send(msg map[string]any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

func (c *Client) request(ctx context.Context, msg map[string]any, ackOK bool) (*envelope, error) {
	return c.requestHook(ctx, msg, ackOK, nil)
}

// requestHook sends msg with a new transaction and returns the first
// response: "success", "error" → *APIError, or "ack" when ackOK. hook runs
// in the read loop, under c.mu, on that response.
func (c *Client) requestHook(ctx context.Context, msg map[string]any, ackOK bool, hook func(*envelope)) (*envelope, error) {
	txn, ch, err := c.begin(msg, hook)
	if err != nil {
		return nil, err
	}
	defer c.end(txn)
	for {
		e, err := c.next(ctx, ch, msg)
		if err != nil {
			return nil, err
		}
		switch e.Janus {
		case "success":
			return e, nil
		case "error":
			return e, apiErr(e)
		case "ack":
			if ackOK {
				return e, nil
			}
		}
	}
}

func (c *Client) begin(msg map[string]any, hook func(*envelope)) (string, chan *envelope, error) {
	txn := "t" + strconv.FormatUint(c.txn.Add(1), 10)
	msg["transaction"] = txn
	ch := make(chan *envelope, 8)
	c.mu.Lock()
	if c.readErr != nil {
		err := c.readErr
		c.mu.Unlock()
		return "", nil, err
	}
	c.pending[txn] = &waiter{ch: ch, hook: hook}
	c.mu.Unlock()
	if err := c.send(msg); err != nil {
		c.end(txn)
		return "", nil, err
	}
	return txn, ch, nil
}

// waiter is a request awaiting replies with its transaction.
type waiter struct {
	ch   chan *envelope
	hook func(*envelope) // run by readLoop under Client.mu on non-ack replies
}

func (c *Client) end(txn string) {
	c.mu.Lock()
	delete(c.pending, txn)
	c.mu.Unlock()
}

func (c *Client) next(ctx context.Context, ch chan *envelope, msg map[string]any) (*envelope, error) {
	select {
	case e := <-ch:
		return e, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("janus: %v waiting for reply to %s %v", ctx.Err(), msg["janus"], msg["transaction"])
	case <-c.readDone:
		// Drain anything delivered just before the connection ended.
		select {
		case e := <-ch:
			return e, nil
		default:
		}
		c.mu.Lock()
		err := c.readErr
		c.mu.Unlock()
		return nil, err
	}
}

func apiErr(e *envelope) error {
	if e.Error != nil {
		return e.Error
	}
	return &APIError{Reason: string(e.raw)}
}

// SetKeepalive sets the interval of the session keepalives (0: the
// default KeepaliveInterval; negative: none, so that Janus times the session
// out after its session_timeout unless other requests keep it alive).
// Keepalives are checked once a second.
func (c *Client) SetKeepalive(every time.Duration) { c.keepalive.Store(int64(every)) }

func (c *Client) keepaliveLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-c.readDone:
			return
		case now := <-t.C:
			every := time.Duration(c.keepalive.Load())
			if every == 0 {
				every = KeepaliveInterval
			}
			if every < 0 || now.Sub(last) < every {
				continue
			}
			last = now
			if id := c.SessionID(); id != 0 {
				txn := "k" + strconv.FormatUint(c.txn.Add(1), 10)
				_ = c.send(map[string]any{"janus": "keepalive", "session_id": id, "transaction": txn})
			}
		}
	}
}

func (c *Client) readLoop() {
	defer close(c.readDone)
	var err error
	for {
		var b []byte
		_, b, err = c.conn.ReadMessage()
		if err != nil {
			break
		}
		e := &envelope{}
		if jerr := json.Unmarshal(b, e); jerr != nil {
			continue
		}
		e.raw = json.RawMessage(b)
		c.deliver(e)
	}
	select {
	case <-c.closed:
		err = ErrClosed
	default:
		err = fmt.Errorf("janus: connection lost: %w", err)
	}
	c.mu.Lock()
	c.readErr = err
	hs := c.handles
	c.handles = map[uint64]*Handle{}
	c.mu.Unlock()
	for _, h := range hs {
		h.events.close()
		h.signals.close()
	}
	c.sessionEv.close()
}

func (c *Client) deliver(e *envelope) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Transaction != "" {
		if w, ok := c.pending[e.Transaction]; ok {
			if w.hook != nil && e.Janus != "ack" {
				w.hook(e)
			}
			select {
			case w.ch <- e:
			default: // waiter gone or flooded; only acks can pile up
			}
			return
		}
	}
	switch e.Janus {
	case "ack", "success", "error":
		return // reply to a keepalive or to an abandoned request
	case "event":
		if h := c.handles[e.Sender]; h != nil {
			h.events.push(e.pluginEvent())
		}
	case "webrtcup", "media", "hangup", "slowlink", "detached", "trickle":
		h := c.handles[e.Sender]
		if h == nil {
			return
		}
		var s Signal
		_ = json.Unmarshal(e.raw, &s)
		s.Raw = e.raw
		h.signals.push(s)
		if e.Janus == "detached" {
			delete(c.handles, e.Sender)
			h.events.close()
			h.signals.close()
		}
	default:
		c.sessionEv.push(e)
	}
}

// Handle is a plugin handle within the Client's session.
type Handle struct {
	ID     uint64
	Plugin string

	c       *Client
	events  *queue[PluginEvent]
	signals *queue[Signal]
}

func newHandle(c *Client, id uint64, plugin string) *Handle {
	return &Handle{ID: id, Plugin: plugin, c: c, events: newQueue[PluginEvent](), signals: newQueue[Signal]()}
}

// Events delivers asynchronous plugin events for this handle (those without
// a transaction, or whose transaction is no longer awaited). The channel is
// unbounded (nothing is dropped) and closes when the handle is detached or
// the connection ends.
func (h *Handle) Events() <-chan PluginEvent { return h.events.out }

// Signals delivers the Janus core's webrtcup/media/hangup/slowlink/detached
// notifications for this handle; unbounded, closed like Events.
func (h *Handle) Signals() <-chan Signal { return h.signals.out }

// Message sends a plugin message with an optional jsep (nil to omit) and
// waits up to the client's timeout for the plugin's reply: the "event" with
// the same transaction (after Janus's ack) or a synchronous "success" with
// plugindata. A Janus "error" is returned as *APIError.
func (h *Handle) Message(body any, jsep any) (PluginEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.c.timeout())
	defer cancel()
	return h.MessageContext(ctx, body, jsep)
}

// MessageContext is Message with a caller-supplied deadline.
func (h *Handle) MessageContext(ctx context.Context, body any, jsep any) (PluginEvent, error) {
	if body == nil {
		body = map[string]any{}
	}
	msg := map[string]any{"janus": "message", "body": body, "session_id": h.c.SessionID(), "handle_id": h.ID}
	if jsep != nil {
		msg["jsep"] = jsep
	}
	txn, ch, err := h.c.begin(msg, nil)
	if err != nil {
		return PluginEvent{}, err
	}
	defer h.c.end(txn)
	for {
		e, err := h.c.next(ctx, ch, msg)
		if err != nil {
			return PluginEvent{}, err
		}
		switch e.Janus {
		case "ack":
			continue // the plugin answers asynchronously
		case "error":
			return PluginEvent{}, apiErr(e)
		case "event", "success":
			if e.PluginData == nil {
				return PluginEvent{}, fmt.Errorf("janus: reply without plugindata: %s", e.raw)
			}
			return e.pluginEvent(), nil
		}
	}
}

// Send sends a plugin message and returns once Janus acknowledges it,
// without waiting for the plugin's reply (which then arrives on Events).
func (h *Handle) Send(body any, jsep any) error {
	ctx, cancel := context.WithTimeout(context.Background(), h.c.timeout())
	defer cancel()
	if body == nil {
		body = map[string]any{}
	}
	msg := map[string]any{"janus": "message", "body": body, "session_id": h.c.SessionID(), "handle_id": h.ID}
	if jsep != nil {
		msg["jsep"] = jsep
	}
	_, err := h.c.request(ctx, msg, true)
	return err
}

// Trickle sends one ICE candidate (e.g. webrtc.ICECandidateInit, or
// map[string]any{"completed": true}) and waits for the ack.
func (h *Handle) Trickle(candidate any) error {
	ctx, cancel := context.WithTimeout(context.Background(), h.c.timeout())
	defer cancel()
	_, err := h.c.request(ctx, map[string]any{"janus": "trickle", "candidate": candidate, "session_id": h.c.SessionID(), "handle_id": h.ID}, true)
	return err
}

// TrickleCompleted signals the end of candidates.
func (h *Handle) TrickleCompleted() error {
	return h.Trickle(map[string]any{"completed": true})
}

// Hangup asks Janus to close the handle's PeerConnection.
func (h *Handle) Hangup() error {
	ctx, cancel := context.WithTimeout(context.Background(), h.c.timeout())
	defer cancel()
	_, err := h.c.request(ctx, map[string]any{"janus": "hangup", "session_id": h.c.SessionID(), "handle_id": h.ID}, false)
	return err
}

// Detach detaches the handle from the plugin.
func (h *Handle) Detach() error {
	ctx, cancel := context.WithTimeout(context.Background(), h.c.timeout())
	defer cancel()
	_, err := h.c.request(ctx, map[string]any{"janus": "detach", "session_id": h.c.SessionID(), "handle_id": h.ID}, false)
	return err
}

// Info fetches GET {base}/info from the Janus HTTP transport, where base is
// e.g. "http://127.0.0.1:8088/janus".
func Info(base string) (*ServerInfo, error) { return InfoWith(http.DefaultClient, base) }

// InfoWith is Info using hc.
func InfoWith(hc *http.Client, base string) (*ServerInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/info", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		return nil, fmt.Errorf("janus: info: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("janus: info: HTTP %d: %s", resp.StatusCode, raw)
	}
	info := &ServerInfo{Raw: raw}
	if err := json.Unmarshal(raw, info); err != nil {
		return nil, fmt.Errorf("janus: info: %w", err)
	}
	return info, nil
}

// ServerInfo is the subset of Janus's server_info used by tests.
type ServerInfo struct {
	Janus         string                     `json:"janus"`
	Name          string                     `json:"name"`
	Version       int                        `json:"version"`
	VersionString string                     `json:"version_string"`
	ServerName    string                     `json:"server-name"`
	Plugins       map[string]json.RawMessage `json:"plugins"`
	Transports    map[string]json.RawMessage `json:"transports"`
	Raw           json.RawMessage            `json:"-"`
}

// HasPlugin reports whether the plugin package (e.g. "janus.plugin.sfu") is loaded.
func (i *ServerInfo) HasPlugin(pkg string) bool {
	_, ok := i.Plugins[pkg]
	return ok
}

// queue is an unbounded FIFO feeding a channel.
type queue[T any] struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []T
	closed bool
	out    chan T
}

func newQueue[T any]() *queue[T] {
	q := &queue[T]{out: make(chan T)}
	q.cond = sync.NewCond(&q.mu)
	go q.pump()
	return q
}

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, v)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// close lets the queued items drain, then closes out. Items nobody reads
// keep a goroutine alive until the test binary exits; fine for tests.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Signal()
	q.mu.Unlock()
}

func (q *queue[T]) pump() {
	for {
		q.mu.Lock()
		for len(q.items) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.items) == 0 {
			q.mu.Unlock()
			close(q.out)
			return
		}
		v := q.items[0]
		var zero T
		q.items[0] = zero
		q.items = q.items[1:]
		q.mu.Unlock()
		q.out <- v
	}
}
