package peer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// StreamEntry is one entry of a multistream subscription's "streams" list
// (docs/protocol.md section 11).
type StreamEntry struct {
	Mid    string `json:"mid"`
	Kind   string `json:"kind"`
	UserID string `json:"user_id"`
	Active bool   `json:"active"`
	Paused bool   `json:"paused"`
}

// StreamsSubscribe is the "subscribe" of a multistream subscriber's join.
func StreamsSubscribe() map[string]any { return map[string]any{"streams": true} }

// Streams is a multistream subscription: one handle and one PeerConnection
// receiving every other publisher of the room on its m-lines. Offers (the
// join's and every "streams" event's) are answered under one lock, so
// Serve, Renegotiate and Configure may run concurrently.
type Streams struct {
	H  *janus.Handle
	PC *webrtc.PeerConnection

	// OnTrack, when set before SubscribeStreams, is called for each remote
	// track with the list entry of its mid at the time the track appeared.
	OnTrack func(e StreamEntry, tr *webrtc.TrackRemote)

	neg      sync.Mutex // one offer/answer at a time
	mu       sync.Mutex
	list     []StreamEntry
	answered int // offers answered
}

// Subscribe sends join (Join with StreamsSubscribe) on m.H and answers the
// join's offer, if any, waiting for webrtcup. It returns the join's result.
// Later offers come as "streams" events: Serve or Renegotiate answer them.
func (m *Streams) Subscribe(join map[string]any) (Result, error) {
	m.PC.OnTrack(func(tr *webrtc.TrackRemote, rx *webrtc.RTPReceiver) {
		mid := ""
		for _, x := range m.PC.GetTransceivers() {
			if x.Receiver() == rx {
				mid = x.Mid()
			}
		}
		e, _ := m.Entry(mid)
		if m.OnTrack != nil {
			m.OnTrack(e, tr)
		}
	})
	r, err := Message(m.H, join, nil)
	if err != nil {
		return r, err
	}
	var resp struct {
		Streams []StreamEntry `json:"streams"`
	}
	if err := json.Unmarshal(r.Reply.Response, &resp); err != nil || resp.Streams == nil {
		return r, fmt.Errorf("peer: streams join response %s: %v", r.Reply.Response, err)
	}
	if len(r.Event.Jsep) == 0 {
		m.setList(resp.Streams)
		return r, nil
	}
	if err := m.answer(r.Event, resp.Streams); err != nil {
		return r, err
	}
	return r, WaitSignal(m.H, "webrtcup", SignalTimeout)
}

func (m *Streams) setList(l []StreamEntry) {
	m.mu.Lock()
	m.list = l
	m.mu.Unlock()
}

// answer applies an offer whose list is l (set before the remote
// description, so OnTrack sees the new lines) and sends the answer.
func (m *Streams) answer(ev janus.PluginEvent, l []StreamEntry) error {
	m.neg.Lock()
	defer m.neg.Unlock()
	m.setList(l)
	if _, err := SDP(ev, "offer"); err != nil {
		return err
	}
	jsep, err := AcceptOffer(m.PC, ev)
	if err != nil {
		return err
	}
	// The offer's m-lines are the listed streams, in order, by mid.
	var mids, want []string
	for _, x := range m.PC.GetTransceivers() {
		mids = append(mids, x.Mid())
	}
	for _, e := range l {
		want = append(want, e.Mid)
	}
	if !slices.Equal(mids, want) {
		return fmt.Errorf("peer: offer's transceivers %v, streams list %v", mids, want)
	}
	if _, err := Message(m.H, map[string]any{}, jsep); err != nil {
		return err
	}
	m.mu.Lock()
	m.answered++
	m.mu.Unlock()
	return nil
}

// handleEvent answers ev if it is a "streams" event; reports whether it was.
func (m *Streams) handleEvent(ev janus.PluginEvent) (bool, error) {
	var body struct {
		Event   string        `json:"event"`
		Streams []StreamEntry `json:"streams"`
	}
	if ev.Decode(&body) != nil || body.Event != "streams" {
		return false, nil
	}
	if len(ev.Jsep) == 0 {
		m.setList(body.Streams)
		return true, nil
	}
	return true, m.answer(ev, body.Streams)
}

// Renegotiate waits up to d for the next "streams" event, answers its
// offer and returns the new list.
func (m *Streams) Renegotiate(d time.Duration) ([]StreamEntry, error) {
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-m.H.Events():
			if !ok {
				return nil, errors.New("peer: multistream handle closed")
			}
			if ok, err := m.handleEvent(ev); err != nil {
				return nil, err
			} else if ok {
				return m.List(), nil
			}
		case <-deadline:
			return nil, fmt.Errorf("peer: no streams event within %v", d)
		}
	}
}

// Serve answers every "streams" event until the handle's events end or
// stop is closed; the first failure is sent on the returned channel (which
// is closed when Serve returns).
func (m *Streams) Serve(stop <-chan struct{}) <-chan error {
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for {
			select {
			case ev, ok := <-m.H.Events():
				if !ok {
					return
				}
				if _, err := m.handleEvent(ev); err != nil {
					errc <- err
					return
				}
			case <-stop:
				return
			}
		}
	}()
	return errc
}

// Configure pauses (send false) or resumes (send true) the given mids and
// returns the new list.
func (m *Streams) Configure(send map[string]bool) ([]StreamEntry, error) {
	var settings []map[string]any
	for mid, s := range send {
		settings = append(settings, map[string]any{"mid": mid, "send": s})
	}
	r, err := Message(m.H, map[string]any{"kind": "configure", "streams": settings}, nil)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Streams []StreamEntry `json:"streams"`
	}
	if err := json.Unmarshal(r.Reply.Response, &resp); err != nil {
		return nil, fmt.Errorf("peer: configure response %s: %w", r.Reply.Response, err)
	}
	m.setList(resp.Streams)
	return resp.Streams, nil
}

// Current returns the list of the last offer answered (waiting for an
// answer under way), or of the join when it had no offer.
func (m *Streams) Current() []StreamEntry {
	m.neg.Lock()
	defer m.neg.Unlock()
	return m.List()
}

// List returns the last streams list.
func (m *Streams) List() []StreamEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.list)
}

// Answered is the number of offers answered so far.
func (m *Streams) Answered() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.answered
}

// Entry returns the list entry of mid.
func (m *Streams) Entry(mid string) (StreamEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.list {
		if e.Mid == mid {
			return e, true
		}
	}
	return StreamEntry{}, false
}

// Mid returns the mid of user's active stream of kind ("audio", "video"),
// "" if none.
func (m *Streams) Mid(user, kind string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.list {
		if e.Active && e.UserID == user && e.Kind == kind {
			return e.Mid
		}
	}
	return ""
}
