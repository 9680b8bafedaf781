package soak

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// ending is how a client's cycle ends.
type ending int

const (
	endClean     ending = iota // handles detached, session destroyed
	endTransport               // WebSocket and PeerConnections closed, nothing detached
	endNoICE                   // joined, offer without candidates: ICE never completes; transport closed
	endKick                    // kicked by another session while its subscriber negotiates
	endTimeout                 // goes silent: Janus's session_timeout reaps the session
	nEndings
)

func (e ending) String() string {
	return [...]string{"clean", "transport closed", "ICE never completes", "kicked mid-negotiation", "session timeout"}[e]
}

// schedule: every other cycle ends abruptly, each abrupt way in turn.
var schedule = []ending{endClean, endTransport, endClean, endNoICE, endClean, endKick, endClean, endTimeout}

// flavor is the plugin under churn and its messages.
type flavor interface {
	plugin() string
	publish(h *janus.Handle, pc *webrtc.PeerConnection, room, user string) error
	// joinOnly joins without media (the ICE-never-completes client), then
	// sends offer.
	joinOnly(h *janus.Handle, room, user string, offer peer.JSEP) error
	subscribe(h *janus.Handle, pc *webrtc.PeerConnection, room, user, other string) error
	// subscribeJoin starts a subscription and stops before answering the
	// plugin's offer.
	subscribeJoin(h *janus.Handle, room, user, other string) error
	kick(room, user string) error
	canKick() bool // false: kicked cycles end as transport closed instead
	roomName(slot int) string
}

// live is the publishers up at the moment, by room, to subscribe to.
type live struct {
	mu    sync.Mutex
	rooms map[string][]string
}

func (l *live) add(room, user string) {
	l.mu.Lock()
	l.rooms[room] = append(l.rooms[room], user)
	l.mu.Unlock()
}

func (l *live) remove(room, user string) {
	l.mu.Lock()
	us := l.rooms[room]
	for i, u := range us {
		if u == user {
			l.rooms[room] = append(us[:i], us[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
}

// pick returns a random live publisher of room other than user, or "".
func (l *live) pick(room, user string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var cands []string
	for _, u := range l.rooms[room] {
		if u != user {
			cands = append(cands, u)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	return cands[rand.IntN(len(cands))]
}

// tally counts cycles by ending and outcome.
type tally struct {
	done, failed [nEndings]atomic.Int64
	raced        atomic.Int64 // subscriptions refused because the publisher had just left
	kickedMid    atomic.Int64 // kicks that landed with a subscriber offer unanswered
	mu           sync.Mutex
	errs         []string
}

func (t *tally) fail(e ending, err error) {
	t.failed[e].Add(1)
	t.mu.Lock()
	if len(t.errs) < 20 {
		t.errs = append(t.errs, fmt.Sprintf("%v: %v", e, err))
	}
	t.mu.Unlock()
}

func (t *tally) total() (done, failed int64) {
	for e := range nEndings {
		done += t.done[e].Load()
		failed += t.failed[e].Load()
	}
	return done, failed
}

// churn is one soak run's clients.
type churn struct {
	s      *janus.Server
	api    *peer.API
	fl     flavor
	live   live
	tally  tally
	reaper sync.WaitGroup // clients waiting for their session timeout
	// sessionTimeout bounds a silent client's wait for Janus's timeout event.
	sessionTimeout time.Duration
}

// cycle runs client cycle k on slot: connect, publish, subscribe to
// someone of the room, hold a moment with media flowing, end.
func (ch *churn) cycle(k, slot int, end ending) error {
	room, user := ch.fl.roomName(slot), fmt.Sprintf("u%d-%d", slot, k)
	c, err := ch.s.Dial()
	if err != nil {
		return err
	}
	closeAll := []func() error{c.Close}
	defer func() {
		for _, f := range closeAll {
			_ = f()
		}
	}()
	if err := c.CreateSession(); err != nil {
		return err
	}
	c.SetKeepalive(time.Second)
	pubH, err := c.Attach(ch.fl.plugin())
	if err != nil {
		return err
	}
	pub, err := ch.api.NewPublisher(user)
	if err != nil {
		return err
	}
	closeAll = append([]func() error{pub.Close}, closeAll...)

	if end == endNoICE {
		// An offer as created, before gathering: no candidates, so Janus
		// waits for trickled ones that never come. Then the transport goes.
		offer, err := pub.PC.CreateOffer(nil)
		if err != nil {
			return err
		}
		return ch.fl.joinOnly(pubH, room, user, peer.JSEP{"type": "offer", "sdp": offer.SDP})
	}

	if err := ch.fl.publish(pubH, pub.PC, room, user); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	stop, sent := make(chan struct{}), make(chan struct{})
	go sendMedia(pub, stop, sent)
	closeAll = append([]func() error{func() error { close(stop); <-sent; return nil }}, closeAll...)
	ch.live.add(room, user)
	defer ch.live.remove(room, user)

	var subH *janus.Handle
	if other := ch.live.pick(room, user); other != "" {
		if subH, err = c.Attach(ch.fl.plugin()); err != nil {
			return err
		}
		if end == endKick {
			if err := ch.fl.subscribeJoin(subH, room, user, other); err == nil {
				ch.tally.kickedMid.Add(1)
			} else if !raced(err) {
				return fmt.Errorf("subscribe join: %w", err)
			}
		} else {
			pc, err := ch.api.NewPC()
			if err != nil {
				return err
			}
			closeAll = append([]func() error{pc.Close}, closeAll...)
			if err := ch.fl.subscribe(subH, pc, room, user, other); err != nil {
				if !raced(err) {
					return fmt.Errorf("subscribe to %s: %w", other, err)
				}
				ch.tally.raced.Add(1)
			}
		}
	}
	if end != endKick {
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
	}

	switch end {
	case endClean:
		if subH != nil {
			if err := subH.Detach(); err != nil {
				return fmt.Errorf("detach subscriber: %w", err)
			}
		}
		if err := pubH.Detach(); err != nil {
			return fmt.Errorf("detach publisher: %w", err)
		}
		return c.Destroy()
	case endTransport:
		return nil // the deferred closes: WebSocket first, then the PCs
	case endKick:
		if err := ch.fl.kick(room, user); err != nil {
			return fmt.Errorf("kick: %w", err)
		}
		// The plugin ends every handle of the user; Janus tells us.
		if err := waitDetached(pubH, 10*time.Second); err != nil {
			return err
		}
		return c.Destroy()
	case endTimeout:
		// Media and keepalives stop; the WebSocket stays open and silent
		// until Janus reaps the session. The slot moves on meanwhile.
		c.SetKeepalive(-1)
		closeAll = closeAll[:len(closeAll)-1] // keep c open
		events := c.SessionEvents()
		ch.reaper.Add(1)
		go func() {
			defer ch.reaper.Done()
			defer c.Close()
			deadline := time.After(ch.sessionTimeout + 15*time.Second)
			for {
				select {
				case ev, ok := <-events:
					if !ok || strings.Contains(string(ev), `"timeout"`) {
						return
					}
				case <-deadline:
					ch.tally.fail(endTimeout, errors.New("no session timeout event"))
					return
				}
			}
		}()
		return nil
	}
	return nil
}

// raced reports a subscription refused because its publisher had left
// (or had not negotiated yet) in the meantime: churn, not a failure.
func raced(err error) bool {
	var ref *peer.RefusedError
	if !errors.As(err, &ref) {
		return false
	}
	return strings.Contains(ref.Msg, "nonexistent publisher") || strings.Contains(ref.Msg, "not negotiated") ||
		strings.Contains(string(ref.Data), "No such feed") || strings.Contains(string(ref.Data), "428")
}

// run runs cycles on clients slots, no cycle starting after budget, and
// calls sample after each finished cycle.
func (ch *churn) run(cycles, clients int, budget time.Duration, sample func(done int64)) {
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for slot := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= cycles || time.Since(start) > budget {
					return
				}
				end := schedule[k%len(schedule)]
				if end == endKick && !ch.fl.canKick() {
					end = endTransport
				}
				if err := ch.cycle(k, slot, end); err != nil {
					ch.tally.fail(end, err)
				} else {
					ch.tally.done[end].Add(1)
				}
				done, failed := ch.tally.total()
				sample(done + failed)
			}
		}()
	}
	wg.Wait()
}

// waitDetached waits for Janus to detach h (a hangup comes first).
func waitDetached(h *janus.Handle, d time.Duration) error {
	deadline := time.After(d)
	for {
		select {
		case sig, ok := <-h.Signals():
			if !ok || sig.Type == "detached" {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("handle %d not detached within %v", h.ID, d)
		}
	}
}
