package sfu

// Talking events: the relay keeps, per publisher, running totals of the
// RFC 6464 audio levels its packets carry (Gateway.AudioLevel); a ticker
// reads them once per window, outside the relay path, and tells the room
// when a publisher starts or stops talking.

import (
	"maps"
	"sort"
	"sync"
	"time"
)

// TalkingOptions configure talking events. A zero Window turns them off.
type TalkingOptions struct {
	// Threshold is the average level (dBov, 0 loudest .. 127 silence)
	// a window's packets must be louder than (below) to count as talking.
	Threshold int
	// Window is how long levels are averaged over, and how often the
	// totals are read.
	Window time.Duration
}

// talker is the state of the talking ticker, owned by its goroutine
// except where said.
type talker struct {
	stop chan struct{}
	done chan struct{}
	last map[SessionID]talkState
	// now is the set of publishers talking now, as last told to the
	// rooms. The ticker replaces (never mutates) it under s.mu; a joining
	// handle reads it under s.mu to learn who is already talking.
	now map[SessionID]struct{}
	// sendMu orders the ticker's talking events and a join's snapshot:
	// each holds it from reading now to pushing, so a newcomer never gets
	// a snapshot older than a change already pushed to it. Only our own
	// goroutines take it (the ticker, a message worker), never a Janus
	// thread; lock order is sendMu, then s.mu.
	sendMu sync.Mutex
}

type talkState struct {
	sum, packets uint64
	talking      bool
}

// talkee is a publisher as the ticker reads it.
type talkee struct {
	id         SessionID
	room, user string
}

func (s *Server) startTalking() {
	if s.opts.Talking.Window <= 0 {
		return
	}
	s.talk = &talker{stop: make(chan struct{}), done: make(chan struct{}), last: map[SessionID]talkState{}}
	go func() {
		defer close(s.talk.done)
		t := time.NewTicker(s.opts.Talking.Window)
		defer t.Stop()
		for {
			select {
			case <-s.talk.stop:
				return
			case <-t.C:
				s.safely("talking", s.talkTick)
			}
		}
	}()
}

func (s *Server) stopTalking() {
	if s.talk != nil {
		close(s.talk.stop)
		<-s.talk.done
	}
}

// talkTick reads every publisher's level totals once and sends the
// changes. The lock is held only to list publishers and recipients.
func (s *Server) talkTick() {
	s.mu.Lock()
	var pubs []talkee
	for room, r := range s.state.rooms {
		for id, p := range r {
			if p.payloads.AudioFrom >= 0 {
				pubs = append(pubs, talkee{id: id, room: room, user: p.userID})
			}
		}
	}
	s.mu.Unlock()
	seen := make(map[SessionID]talkState, len(pubs))
	var changed []talkee
	var now []bool
	for _, p := range pubs {
		sum, packets, ok := s.gw.AudioLevel(p.id)
		if !ok {
			continue
		}
		prev, had := s.talk.last[p.id]
		st := talkState{sum: sum, packets: packets}
		if had && packets >= prev.packets && sum >= prev.sum {
			st.talking = talking(sum-prev.sum, packets-prev.packets, s.opts.Talking.Threshold)
		}
		seen[p.id] = st
		if st.talking != prev.talking {
			changed = append(changed, p)
			now = append(now, st.talking)
		}
	}
	s.talk.last = seen
	talkingNow := make(map[SessionID]struct{}, len(s.talk.now))
	for id, st := range seen {
		if st.talking {
			talkingNow[id] = struct{}{}
		}
	}
	if len(changed) == 0 && maps.Equal(talkingNow, s.talk.now) {
		return // the common case: no lock, no event
	}
	var out []outgoing
	s.talk.sendMu.Lock()
	defer s.talk.sendMu.Unlock()
	s.mu.Lock()
	s.talk.now = talkingNow
	for i, p := range changed {
		ev := eventJSON(map[string]any{"event": "talking", "user_id": p.user, "room_id": p.room, "talking": now[i]})
		for _, o := range s.state.publishersIn(p.room) {
			if o.subscription != nil && o.subscription.Notifications && !s.state.blocked(o.userID, p.user) {
				out = append(out, outgoing{to: o.id, body: ev})
			}
		}
	}
	s.mu.Unlock()
	s.send(out)
}

// talkingSnapshot is the talking state a handle joining room as user
// with notifications gets (talking events are sent on a change only):
// one "talking": true event per publisher of the room talking now, except
// across a block. Run after the join's reply is pushed.
func (s *Server) talkingSnapshot(id SessionID, room, user string) {
	if s.talk == nil {
		return
	}
	s.talk.sendMu.Lock()
	defer s.talk.sendMu.Unlock()
	var out []outgoing
	s.mu.Lock()
	if sess := s.state.sessions[id]; sess != nil && sess.joined {
		var talkers []*session
		for pub := range s.talk.now {
			p := s.state.sessions[pub]
			if p != nil && p.joined && p.roomID == room && !s.state.blocked(user, p.userID) {
				talkers = append(talkers, p)
			}
		}
		sort.Slice(talkers, func(i, j int) bool { return talkers[i].id < talkers[j].id })
		for _, p := range talkers {
			out = append(out, outgoing{to: id, body: eventJSON(map[string]any{"event": "talking", "user_id": p.userID, "room_id": room, "talking": true})})
		}
	}
	s.mu.Unlock()
	s.send(out)
}

// talking decides one window: some packets carried a level and their
// average is louder than (numerically below) the threshold, as in
// VideoRoom's audio_level_average.
func talking(sum, packets uint64, threshold int) bool {
	return packets > 0 && sum < uint64(threshold)*packets
}
