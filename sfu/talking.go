package sfu

// Talking events: the relay keeps, per publisher, running totals of the
// RFC 6464 audio levels its packets carry (Gateway.AudioLevel); a ticker
// reads them once per window, outside the relay path, and tells the room
// when a publisher starts or stops talking.

import (
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

// talker is the state of the talking ticker, owned by its goroutine.
type talker struct {
	stop chan struct{}
	done chan struct{}
	last map[SessionID]talkState
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
	if len(changed) == 0 {
		return
	}
	var out []outgoing
	s.mu.Lock()
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

// talking decides one window: some packets carried a level and their
// average is louder than (numerically below) the threshold, as in
// VideoRoom's audio_level_average.
func talking(sum, packets uint64, threshold int) bool {
	return packets > 0 && sum < uint64(threshold)*packets
}
