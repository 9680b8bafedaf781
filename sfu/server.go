// Package sfu is the plugin's brain, in plain Go: sessions, rooms,
// publishers and subscribers, blocks, auth decisions and the signalling
// protocol of janus.plugin.sfu. It talks to Janus only through Gateway, so
// everything here runs in tests without C.
package sfu

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Grant is what a verified token allows (docs/security.md).
type Grant struct {
	JoinHub   bool // may join rooms
	KickUsers bool // may kick users
	// RoomIDs limits the token to these rooms, for joins and kicks; nil
	// means any room.
	RoomIDs []string
	// UserID, when set, is the only user_id the token may join as.
	UserID string
}

// MayJoin reports whether the grant admits a join to room.
func (g Grant) MayJoin(room string) bool {
	return g.JoinHub && g.covers(room)
}

// covers reports whether the grant applies to room.
func (g Grant) covers(room string) bool {
	return g.RoomIDs == nil || slices.Contains(g.RoomIDs, room)
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
	// MaxPublishersPerUser caps one user_id's publisher handles in one
	// room (2 lets a reconnect overlap its stale handle); 0 = no limit.
	MaxPublishersPerUser int
	// MaxRoomsPerUser caps the rooms one user_id has handles in; 0 = no
	// limit.
	MaxRoomsPerUser int
	// LimitSubscribers caps one user_id's non-publisher handles in a room
	// at the room's publisher handles plus SubscriberSlack: there is
	// nothing more to subscribe to.
	LimitSubscribers bool
	SubscriberSlack  int
	// MaxBlocksPerUser caps the blocks one user holds; 0 =
	// DefaultMaxBlocksPerUser. BlockExpiry is how long a user counts as
	// known after its last handle, and how long a block outlives both
	// sides; 0 = DefaultBlockExpiry.
	MaxBlocksPerUser int
	BlockExpiry      time.Duration
	// ReconnectSecrets hands out a reconnect secret with each publisher
	// join when authentication is off (docs/protocol.md, Reconnecting).
	ReconnectSecrets bool
	// Now is the clock (tests); nil = time.Now.
	Now         func() time.Time
	Workers     int // message workers; 0 = number of CPUs
	QueueLength int // per-worker queue; 0 = 1024
	// MaxInFlight caps one handle's messages waiting in the queue; more
	// are refused as busy. 0 = DefaultMaxInFlight.
	MaxInFlight int
	// Verify checks a JWT. nil turns authentication off, as when the Rust
	// plugin has no auth_key.
	Verify     func(token string) (Grant, error)
	Negotiator Negotiator
	// Rooms, when set, keeps each room on one host of many (sfu/placement.go).
	Rooms RoomDirectory
	// Multistream says Janus has the 1.x ABI: subscribe.streams works.
	Multistream bool
	// Streams writes multistream SDP; nil turns multistream
	// subscriptions off.
	Streams StreamNegotiator
	// StreamOfferTimeout ends a multistream subscriber whose offer stays
	// unanswered this long (streamtimeout.go); 0 = never.
	StreamOfferTimeout time.Duration
	// MaxStreamsPerSubscriber caps a multistream subscriber's m-lines
	// (streams.go); 0 = no cap.
	MaxStreamsPerSubscriber int
	// Talking configures talking events (talking.go); zero is off.
	Talking TalkingOptions
	Log     Logger
}

// Server implements the plugin's control path for one Janus instance.
type Server struct {
	gw   Gateway
	opts Options
	log  Logger

	// qmu guards the queues' bookkeeping: what each handle has in flight
	// and which handles were destroyed with messages still queued. It is
	// held for a few map operations and a non-blocking send, never while
	// handling a message.
	qmu      sync.Mutex
	queues   []chan task
	inflight map[SessionID]int
	dropped  map[SessionID]struct{}
	wg       sync.WaitGroup
	closed   atomic.Bool

	mu    sync.Mutex
	state *switchboard

	// ctl runs the work that Janus's loop threads hand over.
	ctl control

	metrics metrics
	talk    *talker       // talking events (talking.go); nil when off
	sweep   *offerSweeper // offer timeouts (streamtimeout.go); nil when off
	rlog    rateLog
}

// control runs, on one goroutine and in order, what destroy_session,
// setup_media and hangup_media ask for: those run on Janus's loop threads,
// where every other handle's media waits, so they only append here.
type control struct {
	mu      sync.Mutex
	items   []func()
	running bool // a batch is being run
	stopped bool
	idle    sync.Cond
	wake    chan struct{}
	done    chan struct{}
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
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.MaxBlocksPerUser <= 0 {
		opts.MaxBlocksPerUser = DefaultMaxBlocksPerUser
	}
	if opts.BlockExpiry <= 0 {
		opts.BlockExpiry = DefaultBlockExpiry
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = nopLogger{}
	}
	s := &Server{gw: gw, opts: opts, log: opts.Log, state: newSwitchboard(),
		inflight: map[SessionID]int{}, dropped: map[SessionID]struct{}{}}
	s.state.ms.maxLines = opts.MaxStreamsPerSubscriber
	s.ctl.idle.L = &s.ctl.mu
	s.ctl.wake = make(chan struct{}, 1)
	s.ctl.done = make(chan struct{})
	go s.runControl()
	s.startTalking()
	s.startOfferTimeouts()
	for i := 0; i < opts.Workers; i++ {
		q := make(chan task, opts.QueueLength)
		s.queues = append(s.queues, q)
		s.wg.Add(1)
		go s.work(q)
	}
	return s
}

// DefaultMaxInFlight is Options.MaxInFlight's default: room for a burst
// of kind:"data" messages, far below one worker queue.
const DefaultMaxInFlight = 32

// Destroy stops the workers; messages still queued are dropped unanswered.
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
	s.stopTalking()
	s.stopOfferTimeouts()
	s.wg.Wait()
	s.ctl.mu.Lock()
	s.ctl.stopped = true
	close(s.ctl.wake)
	s.ctl.mu.Unlock()
	<-s.ctl.done
}

// later queues f for the control goroutine without waiting on anything
// but the queue's own lock, which is only ever held for an append or a
// swap. Once the server is destroyed f runs at once.
func (s *Server) later(f func()) {
	s.ctl.mu.Lock()
	if s.ctl.stopped {
		s.ctl.mu.Unlock()
		s.safely("control", f)
		return
	}
	s.ctl.items = append(s.ctl.items, f)
	select {
	case s.ctl.wake <- struct{}{}:
	default: // a wake-up is pending
	}
	s.ctl.mu.Unlock()
}

func (s *Server) runControl() {
	defer close(s.ctl.done)
	for range s.ctl.wake {
		s.runBatch()
	}
	s.runBatch() // what came in while stopping
}

func (s *Server) runBatch() {
	for {
		s.ctl.mu.Lock()
		items := s.ctl.items
		s.ctl.items = nil
		s.ctl.running = len(items) > 0
		if !s.ctl.running {
			s.ctl.idle.Broadcast()
			s.ctl.mu.Unlock()
			return
		}
		s.ctl.mu.Unlock()
		for _, f := range items {
			s.safely("control", f)
		}
	}
}

// settle waits until the control goroutine has run everything queued so
// far (tests).
func (s *Server) settle() {
	s.ctl.mu.Lock()
	for len(s.ctl.items) > 0 || s.ctl.running {
		s.ctl.idle.Wait()
	}
	s.ctl.mu.Unlock()
}

func (s *Server) work(q chan task) {
	defer s.wg.Done()
	for t := range q {
		if s.dequeue(t.id) && !s.closed.Load() {
			s.safely("message", func() { s.handle(t) })
		}
	}
}

// dequeue takes a message off the handle's count (before it is handled, so
// that a client sending its next message on the answer is never refused)
// and reports whether it should still be handled: not when its handle was
// destroyed meanwhile.
func (s *Server) dequeue(id SessionID) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	_, gone := s.dropped[id]
	if n := s.inflight[id] - 1; n > 0 {
		s.inflight[id] = n
	} else {
		delete(s.inflight, id)
		delete(s.dropped, id)
	}
	return !gone
}

// dropQueued makes the workers skip a destroyed handle's queued messages.
func (s *Server) dropQueued(id SessionID) {
	s.qmu.Lock()
	if s.inflight[id] > 0 {
		s.dropped[id] = struct{}{}
	}
	s.qmu.Unlock()
}

// queueDepth is the number of messages waiting in the worker queues.
func (s *Server) queueDepth() int {
	n := 0
	for _, q := range s.queues {
		n += len(q)
	}
	return n
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
// with the same transaction. Messages of one handle keep their order. It
// runs on a Janus request thread and never blocks: when the handle has
// MaxInFlight messages pending or its worker's queue is full, the message
// is answered at once with a busy error.
func (s *Server) HandleMessage(id SessionID, transaction string, body, jsep []byte) {
	s.qmu.Lock()
	if s.closed.Load() {
		s.qmu.Unlock()
		return
	}
	if s.inflight[id] >= s.opts.MaxInFlight {
		s.qmu.Unlock()
		s.refuse(id, transaction, ErrorBusy, ErrTooManyInFlight, "handle has %d messages in flight", s.opts.MaxInFlight)
		return
	}
	q := s.queues[uint64(id)%uint64(len(s.queues))]
	select {
	case q <- task{id: id, transaction: transaction, body: body, jsep: jsep}:
		s.inflight[id]++
		s.qmu.Unlock()
	default:
		s.qmu.Unlock()
		s.refuse(id, transaction, ErrorBusy, ErrBusy, "worker queue full (%d)", cap(q))
	}
}

// RefuseMessage answers a message that is not even queued (cjanus refuses
// bodies over MaxMessageBytes before copying them).
func (s *Server) RefuseMessage(id SessionID, transaction, msg string) {
	s.refuse(id, transaction, ErrorBadMessage, msg, "%s", msg)
}

// refuse answers a message with an error at once and counts it.
func (s *Server) refuse(id SessionID, transaction, kind, msg, why string, args ...any) {
	s.metrics.countError(kind)
	s.logLimited(kind, "session %d: message refused: "+why, append([]any{id}, args...)...)
	s.push(id, transaction, errorJSON(msg), nil)
}

// SetupMedia: the PeerConnection is up. A subscriber needs a keyframe now
// rather than at the publisher's next one. Runs on a Janus loop thread:
// the work is handed to the control goroutine.
func (s *Server) SetupMedia(id SessionID) {
	s.later(func() { s.setupMedia(id) })
}

func (s *Server) setupMedia(id SessionID) {
	s.mu.Lock()
	sess := s.state.sessions[id]
	var pub SessionID
	if sess != nil {
		sess.mediaUp = true
		if p := s.state.sessions[sess.media]; p != nil && !s.state.blocked(sess.userID, p.userID) {
			pub = p.id
		}
	}
	keyframes := s.state.msKeyframes(sess)
	s.mu.Unlock()
	s.log.Verbosef("session %d: WebRTC media is up", id)
	if pub != 0 {
		s.gw.RequestKeyframe(pub)
	}
	for _, p := range keyframes {
		s.gw.RequestKeyframe(p)
	}
}

// HangupMedia: the PeerConnection went away; the handle may stay. Runs on
// a Janus loop thread, like SetupMedia.
func (s *Server) HangupMedia(id SessionID) {
	s.later(func() { s.hangupMedia(id) })
}

func (s *Server) hangupMedia(id SessionID) {
	s.mu.Lock()
	multistream := false
	if sess := s.state.sessions[id]; sess != nil {
		sess.mediaUp = false
		multistream = sess.ms != nil
	}
	s.mu.Unlock()
	s.log.Verbosef("session %d: WebRTC media hung up", id)
	if multistream {
		// The plugin is this PeerConnection's offerer and no later offer
		// can revive it on this handle (its m-lines would disagree), so
		// the handle ends as on an offer timeout (docs/protocol.md 11.2)
		// instead of staying routed; the client subscribes again.
		s.log.Infof("session %d: multistream subscriber's PeerConnection hung up; ending the handle", id)
		s.gw.EndSession(id)
	}
}

// SlowLink is only logged: we do not adapt bitrates.
func (s *Server) SlowLink(id SessionID, mindex int, video, uplink bool) {
	s.log.Verbosef("session %d: slow link (mindex %d, video %v, uplink %v)", id, mindex, video, uplink)
}

// DestroySession forgets a handle, tells the room if its user is gone, and
// republishes the routes that named it. It runs on a Janus loop thread, so
// it only queues that work; the caller has already stopped the relay and
// Janus calls for the handle (cjanus detaches it first).
func (s *Server) DestroySession(id SessionID) {
	s.dropQueued(id)
	s.later(func() { s.destroySession(id) })
}

func (s *Server) destroySession(id SessionID) {
	s.mu.Lock()
	b := s.state
	var gone session
	var mediaUser string
	var orphans []*session // subscribers of a leaving publisher
	if sess := b.sessions[id]; sess != nil {
		gone = *sess
		if p := b.sessions[sess.media]; p != nil {
			mediaUser = p.userID
		}
		if sess.publisher {
			orphans = byID(b.subscribers[id])
		}
	}
	room, inRoom := s.joinedRoomLocked(id)
	out, c := b.remove(id)
	s.publishLocked(c, []SessionID{id})
	userLeft := gone.joined && len(b.users[gone.userID]) == 0
	if userLeft {
		now := s.opts.Now()
		b.departedNow(gone.userID, now)
		b.expire(now, s.opts.BlockExpiry)
	}
	s.mu.Unlock()
	s.send(out)
	if inRoom {
		s.releaseRoom(room)
	}
	if !gone.joined {
		return
	}
	if mediaUser != "" {
		s.notify(id, EventUnsubscribed, map[string]any{"room_id": gone.roomID, "user_id": gone.userID, "media": mediaUser})
	}
	for _, o := range orphans {
		s.notify(o.id, EventUnsubscribed, map[string]any{"room_id": o.roomID, "user_id": o.userID, "media": gone.userID})
	}
	if userLeft {
		s.notify(id, EventLeft, map[string]any{"room_id": gone.roomID, "user_id": gone.userID})
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

// publishLocked publishes the routes of the changed sessions. Called with
// s.mu held so that publications happen in state order; Publish does not
// wait for readers, so this is cheap.
func (s *Server) publishLocked(c *changes, retire []SessionID) {
	s.takeStreamOffers()
	if (c == nil || len(c.list)+len(c.groups) == 0) && len(retire) == 0 {
		return
	}
	var ups []RouteUpdate
	var groups []GroupUpdate
	if c != nil {
		ups = make([]RouteUpdate, 0, len(c.list))
		for _, sess := range c.list {
			if _, ok := s.state.sessions[sess.id]; ok {
				ups = append(ups, RouteUpdate{Session: sess.id, Routes: sess.routes})
			}
		}
		groups = make([]GroupUpdate, 0, len(c.groups))
		for _, g := range c.groups {
			groups = append(groups, GroupUpdate{Group: g.id, Members: g.members})
		}
	}
	s.gw.Publish(ups, groups, retire)
}

type nopLogger struct{}

func (nopLogger) Errorf(string, ...any)   {}
func (nopLogger) Warnf(string, ...any)    {}
func (nopLogger) Infof(string, ...any)    {}
func (nopLogger) Verbosef(string, ...any) {}
