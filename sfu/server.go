// Package sfu is the plugin's brain, in plain Go: sessions, rooms,
// publishers and subscribers, blocks, auth decisions and the signalling
// protocol of janus.plugin.sfu. It talks to Janus only through Gateway, so
// everything here runs in tests without C.
package sfu

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Grant is what a verified token allows.
type Grant struct {
	JoinHub   bool
	KickUsers bool
	// RoomIDs limits JoinHub to these rooms; nil means any room.
	RoomIDs []string
}

// MayJoin reports whether the grant admits a join to room.
func (g Grant) MayJoin(room string) bool {
	if !g.JoinHub {
		return false
	}
	if g.RoomIDs == nil {
		return true
	}
	for _, r := range g.RoomIDs {
		if r == room {
			return true
		}
	}
	return false
}

// PayloadMap rewrites a publisher's RTP payload types into the fixed ones
// its subscribers negotiated; -1 means no such stream.
type PayloadMap struct {
	AudioFrom, AudioTo int
	VideoFrom, VideoTo int
}

// NoPayloadMap rewrites nothing.
var NoPayloadMap = PayloadMap{-1, -1, -1, -1}

// Negotiation is what a publisher's offer yields.
type Negotiation struct {
	Answer          string // for the publisher
	SubscriberOffer string // for its subscribers
	Payloads        PayloadMap
}

// Negotiator turns a publisher's SDP offer into our answer plus the offer
// its subscribers get, and checks subscribers' answers.
type Negotiator interface {
	Negotiate(offer string) (Negotiation, error)
	ValidateAnswer(answer string) error
}

// Options configure a Server.
type Options struct {
	MaxRoomSize int // publishers' users per room; 0 = no limit
	MaxCCU      int // publishers' users on the server; 0 = no limit
	Workers     int // message workers; 0 = number of CPUs
	QueueLength int // per-worker queue; 0 = 1024
	// Verify checks a JWT. nil turns authentication off, as when the Rust
	// plugin has no auth_key.
	Verify     func(token string) (Grant, error)
	Negotiator Negotiator
	Log        Logger
	// Rooms, when set, keeps each room on one host of many (sfu/placement.go).
	Rooms RoomDirectory
}

// Server implements the plugin's control path for one Janus instance.
type Server struct {
	gw   Gateway
	opts Options
	log  Logger

	// qmu orders queueing against closing the queues; it is never held
	// while a worker needs mu, so a full queue cannot deadlock.
	qmu    sync.RWMutex
	queues []chan task
	wg     sync.WaitGroup
	closed atomic.Bool

	mu    sync.Mutex
	state *switchboard

	metrics metrics
}

type task struct {
	id          SessionID
	transaction string
	body, jsep  []byte
}

// NewServer starts the message workers.
func NewServer(gw Gateway, opts Options) *Server {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.QueueLength <= 0 {
		opts.QueueLength = 1024
	}
	if opts.Log == nil {
		opts.Log = nopLogger{}
	}
	s := &Server{gw: gw, opts: opts, log: opts.Log, state: newSwitchboard()}
	for i := 0; i < opts.Workers; i++ {
		q := make(chan task, opts.QueueLength)
		s.queues = append(s.queues, q)
		s.wg.Add(1)
		go s.work(q)
	}
	return s
}

// Destroy stops the workers after the queued messages are handled.
func (s *Server) Destroy() {
	s.qmu.Lock()
	if s.closed.Swap(true) {
		s.qmu.Unlock()
		return
	}
	for _, q := range s.queues {
		close(q)
	}
	s.qmu.Unlock()
	s.wg.Wait()
}

func (s *Server) work(q chan task) {
	defer s.wg.Done()
	for t := range q {
		s.safely("message", func() { s.handle(t) })
	}
}

// safely keeps one bad message from taking the plugin (and Janus) down.
func (s *Server) safely(what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Errorf("panic handling %s: %v\n%s", what, r, debug.Stack())
		}
	}()
	f()
}

// CreateSession registers a new handle.
func (s *Server) CreateSession(id SessionID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return fmt.Errorf("plugin is shutting down")
	}
	if _, ok := s.state.sessions[id]; ok {
		return fmt.Errorf("session %d exists", id)
	}
	s.state.sessions[id] = &session{id: id}
	return nil
}

// HandleMessage queues a message; the answer goes out through PushEvent
// with the same transaction. Messages of one handle keep their order.
func (s *Server) HandleMessage(id SessionID, transaction string, body, jsep []byte) {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	if s.closed.Load() {
		return
	}
	q := s.queues[uint64(id)%uint64(len(s.queues))]
	q <- task{id: id, transaction: transaction, body: body, jsep: jsep}
}

// SetupMedia: the PeerConnection is up. A subscriber needs a keyframe now
// rather than at the publisher's next one.
func (s *Server) SetupMedia(id SessionID) {
	s.mu.Lock()
	sess := s.state.sessions[id]
	var pub SessionID
	if sess != nil {
		sess.mediaUp = true
		if p := s.state.sessions[sess.media]; p != nil && !s.state.blocked(sess.userID, p.userID) {
			pub = p.id
		}
	}
	s.mu.Unlock()
	s.log.Verbosef("session %d: WebRTC media is up", id)
	if pub != 0 {
		s.gw.RequestKeyframe(pub)
	}
}

// HangupMedia: the PeerConnection went away; the handle may stay.
func (s *Server) HangupMedia(id SessionID) {
	s.mu.Lock()
	if sess := s.state.sessions[id]; sess != nil {
		sess.mediaUp = false
	}
	s.mu.Unlock()
	s.log.Verbosef("session %d: WebRTC media hung up", id)
}

// SlowLink is only logged: we do not adapt bitrates.
func (s *Server) SlowLink(id SessionID, mindex int, video, uplink bool) {
	s.log.Verbosef("session %d: slow link (mindex %d, video %v, uplink %v)", id, mindex, video, uplink)
}

// DestroySession forgets a handle, tells the room if its user is gone, and
// republishes the routes that named it.
func (s *Server) DestroySession(id SessionID) {
	s.mu.Lock()
	room, inRoom := s.joinedRoomLocked(id)
	out, dirty := s.state.remove(id)
	s.publishLocked(dirty, []SessionID{id})
	s.mu.Unlock()
	s.send(out)
	if inRoom {
		s.releaseRoom(room)
	}
}

// outgoing is an event or response computed under the lock and sent after.
type outgoing struct {
	to          SessionID
	transaction string
	body, jsep  []byte
}

func (s *Server) send(out []outgoing) {
	for _, o := range out {
		if err := s.gw.PushEvent(o.to, o.transaction, o.body, o.jsep); err != nil {
			s.log.Verbosef("session %d: push_event: %v", o.to, err)
		}
	}
}

// publishLocked recomputes and publishes the routes of dirty sessions.
// Called with s.mu held so that publications happen in state order.
func (s *Server) publishLocked(dirty map[SessionID]struct{}, retire []SessionID) {
	if len(dirty) == 0 && len(retire) == 0 {
		return
	}
	var ups []RouteUpdate
	for id := range dirty {
		if _, ok := s.state.sessions[id]; !ok {
			continue
		}
		ups = append(ups, RouteUpdate{Session: id, Routes: s.state.routes(id)})
	}
	s.gw.Publish(ups, retire)
}

type nopLogger struct{}

func (nopLogger) Errorf(string, ...any)   {}
func (nopLogger) Warnf(string, ...any)    {}
func (nopLogger) Infof(string, ...any)    {}
func (nopLogger) Verbosef(string, ...any) {}
