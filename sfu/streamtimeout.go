package sfu

// Offer timeouts of multistream subscriptions (docs/protocol.md 11.2): an
// offer pushed to a multistream subscriber and not answered within
// Options.StreamOfferTimeout expires. The handle gets a "streams_timeout"
// event and Janus is asked to end it (as a kick does): its routes, its
// relay work and its place in the room go with the handle, and the client
// (if it is alive at all) joins again on a fresh handle.
//
// Why not re-send the offer, or keep the handle: Janus delivers a pushed
// event while the session lives, so a second copy only helps a client that
// already lost its state; and a handle whose PeerConnection never saw the
// offer cannot take a later one either (its m-lines would disagree).
//
// One goroutine sweeps the subscribers with a pushed offer (msIndex.waiting)
// a few times per timeout; it holds s.mu for that scan only and pushes and
// ends handles after releasing it. No Janus thread runs it or waits for it.

import (
	"slices"
	"time"
)

// DefaultStreamOfferTimeout is the streams_offer_timeout_ms default.
const DefaultStreamOfferTimeout = 20 * time.Second

// EventStreamsTimeout is the event a multistream subscriber gets before its
// handle is ended for an unanswered offer.
const EventStreamsTimeout = "streams_timeout"

// offerSweeper is the state of the sweep goroutine.
type offerSweeper struct {
	stop chan struct{}
	done chan struct{}
}

// sweepInterval is how often the sweep runs for a timeout: a quarter of
// it (an offer expires at most a quarter late), within [10ms, 1s].
func sweepInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 10*time.Millisecond), time.Second)
}

func (s *Server) startOfferTimeouts() {
	if s.opts.Streams == nil || !s.opts.Multistream || s.opts.StreamOfferTimeout <= 0 {
		return
	}
	s.sweep = &offerSweeper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.sweep.done)
		t := time.NewTicker(sweepInterval(s.opts.StreamOfferTimeout))
		defer t.Stop()
		for {
			select {
			case <-s.sweep.stop:
				return
			case <-t.C:
				s.safely("offer timeouts", s.expireOffers)
			}
		}
	}()
}

func (s *Server) stopOfferTimeouts() {
	if s.sweep != nil {
		close(s.sweep.stop)
		<-s.sweep.done
	}
}

// offerPushed starts the clock of sub's offer gen once it is out (in the
// join's reply or a "streams" event). Called with s.mu held.
func (s *Server) offerPushed(id SessionID, gen uint64) {
	sess := s.state.sessions[id]
	if sess == nil || sess.ms == nil || sess.ms.gen != gen || !sess.ms.outstanding ||
		len(sess.ms.offered) == 0 || s.opts.StreamOfferTimeout <= 0 {
		return
	}
	b := s.state
	if b.ms.waiting == nil {
		b.ms.waiting = map[SessionID]*session{}
	}
	sess.ms.deadline = s.opts.Now().Add(s.opts.StreamOfferTimeout)
	b.ms.waiting[id] = sess
}

// expireOffers ends the multistream subscribers whose offer is past its
// deadline at Options.Now. A handle with a message still queued (it may be
// the answer, late only because the workers are) is left for the next
// sweep.
func (s *Server) expireOffers() {
	now := s.opts.Now()
	due := s.dueOffers(now)
	if len(due) == 0 {
		return
	}
	s.qmu.Lock()
	due = slices.DeleteFunc(due, func(o dueOffer) bool { return s.inflight[o.id] > 0 })
	s.qmu.Unlock()
	var expired []SessionID
	s.mu.Lock()
	b := s.state
	for _, o := range due {
		sess := b.sessions[o.id]
		if sess == nil || sess.ms == nil || sess.ms.gen != o.gen || !sess.ms.outstanding || sess.ms.expired {
			continue // answered or gone meanwhile
		}
		// The offer is abandoned: no answer is taken for it, and as it
		// stays outstanding no further offer is planned.
		delete(b.ms.waiting, o.id)
		sess.ms.expired = true
		b.ms.timeouts++
		expired = append(expired, o.id)
	}
	s.mu.Unlock()
	slices.Sort(expired)
	ms := s.opts.StreamOfferTimeout.Milliseconds()
	for _, id := range expired {
		s.log.Infof("session %d: multistream offer not answered within %d ms; ending the handle", id, ms)
		// Before ending it: Janus drops events about a gone handle.
		s.push(id, "", eventJSON(map[string]any{"event": EventStreamsTimeout, "timeout_ms": ms}), nil)
		s.gw.EndSession(id)
	}
}

// dueOffer is an offer past its deadline.
type dueOffer struct {
	id  SessionID
	gen uint64
}

// dueOffers lists the offers past their deadline at now, and forgets the
// waiting entries that were answered or are gone.
func (s *Server) dueOffers(now time.Time) []dueOffer {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.state
	var out []dueOffer
	for id, sess := range b.ms.waiting {
		m := sess.ms
		if b.sessions[id] != sess || m == nil || !m.outstanding || m.deadline.IsZero() {
			delete(b.ms.waiting, id)
			continue
		}
		if !now.Before(m.deadline) {
			out = append(out, dueOffer{id, m.gen})
		}
	}
	return out
}
