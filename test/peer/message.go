package peer

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// Reply is janus.plugin.sfu's answer to a message.
type Reply struct {
	Success  bool            `json:"success"`
	Response json.RawMessage `json:"response"`
	Error    *struct {
		Msg string `json:"msg"`
	} `json:"error"`
}

// Result is a plugin's answer to one message.
type Result struct {
	Event   janus.PluginEvent
	Reply   Reply         // decoded as janus.plugin.sfu's answer
	Latency time.Duration // from request to answer
}

// RefusedError is a plugin's refusal of a message: janus.plugin.sfu's
// {"success":false,"error":{"msg":...}} or another plugin's "error" field
// (Janus's videoroom).
type RefusedError struct {
	Body any             // the message refused
	Data json.RawMessage // the plugin's answer
	Msg  string          // the error message, when the plugin gave one
}

func (e *RefusedError) Error() string { return fmt.Sprintf("peer: %v refused: %s", e.Body, e.Data) }

// Message sends body (and jsep, or nil) to the plugin on h and waits for
// its answer. A transport or Janus error, and a refusal (*RefusedError),
// are errors; the Result is filled in either way as far as it got.
func Message(h *janus.Handle, body any, jsep any) (Result, error) {
	t0 := time.Now()
	ev, err := h.Message(body, jsep)
	r := Result{Event: ev, Latency: time.Since(t0)}
	if err != nil {
		return r, err
	}
	var probe struct {
		Success *bool           `json:"success"`
		Error   json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(ev.Data, &probe); err != nil {
		return r, fmt.Errorf("peer: answer %s: %w", ev.Data, err)
	}
	_ = json.Unmarshal(ev.Data, &r.Reply)
	if (probe.Success != nil && !*probe.Success) || len(probe.Error) > 0 {
		e := &RefusedError{Body: body, Data: ev.Data}
		if r.Reply.Error != nil {
			e.Msg = r.Reply.Error.Msg
		} else {
			var s string
			if json.Unmarshal(probe.Error, &s) == nil {
				e.Msg = s
			}
		}
		return r, e
	}
	return r, nil
}

// Join is janus.plugin.sfu's join message; sub (the "subscribe" object)
// and token are left out when empty.
func Join(room, user string, sub map[string]any, token string) map[string]any {
	m := map[string]any{"kind": "join", "room_id": room, "user_id": user}
	if sub != nil {
		m["subscribe"] = sub
	}
	if token != "" {
		m["token"] = token
	}
	return m
}

// PublisherSubscribe is the "subscribe" of a publisher's join in
// naf-janus-adapter: room notifications and data.
func PublisherSubscribe() map[string]any { return map[string]any{"notifications": true, "data": true} }

// MediaSubscribe is the "subscribe" of a subscriber's join to user's media.
func MediaSubscribe(user string) map[string]any { return map[string]any{"media": user} }

// Users returns the users of room in a join's response.
func Users(resp json.RawMessage, room string) ([]string, error) {
	var r struct{ Users map[string][]string }
	if err := json.Unmarshal(resp, &r); err != nil {
		return nil, fmt.Errorf("peer: join response %s: %w", resp, err)
	}
	u, ok := r.Users[room]
	if !ok {
		return nil, fmt.Errorf("peer: join response %s has no users for room %q", resp, room)
	}
	return u, nil
}

// Negotiate sends pc's offer with body on h and applies the answer.
func Negotiate(h *janus.Handle, pc *webrtc.PeerConnection, body any) (Result, error) {
	jsep, err := Offer(pc)
	if err != nil {
		return Result{}, err
	}
	r, err := Message(h, body, jsep)
	if err != nil {
		return r, err
	}
	return r, ApplyAnswer(pc, r.Event)
}

// Publish sets up pc as a janus.plugin.sfu publisher the way
// naf-janus-adapter does: offer and answer, webrtcup, then join (a
// message from Join). It returns the join's result.
func Publish(h *janus.Handle, pc *webrtc.PeerConnection, join map[string]any) (Result, error) {
	if _, err := Negotiate(h, pc, map[string]any{}); err != nil {
		return Result{}, err
	}
	if err := WaitSignal(h, "webrtcup", SignalTimeout); err != nil {
		return Result{}, err
	}
	return Message(h, join, nil)
}

// Subscribe sets up pc as a subscriber: the join message (whose answer
// carries the plugin's offer), our answer with start, webrtcup. For
// janus.plugin.sfu, start is an empty message; for Janus's videoroom
// {"request":"start"}. It returns the join's result.
func Subscribe(h *janus.Handle, pc *webrtc.PeerConnection, join, start any) (Result, error) {
	r, err := Message(h, join, nil)
	if err != nil {
		return r, err
	}
	jsep, err := AcceptOffer(pc, r.Event)
	if err != nil {
		return r, err
	}
	if _, err := Message(h, start, jsep); err != nil {
		return r, err
	}
	return r, WaitSignal(h, "webrtcup", SignalTimeout)
}
