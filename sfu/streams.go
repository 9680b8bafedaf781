package sfu

// Multistream subscriptions (Janus 1.x, docs/protocol.md section 11): one
// subscriber handle receives every other publisher of its room, an audio
// and a video m-line per publisher stream, on one PeerConnection.
//
// Per subscriber the server keeps the m-lines as last offered (offered)
// and as last answered (live). Routes follow live: the relay may only use
// an m-line the browser has accepted. One offer is outstanding at a time:
// changes while it is (publishers joining, leaving, renegotiating, blocks)
// only mark the subscription stale, and the answer triggers the next offer,
// planned from the state at that moment (so changes fold into one offer).
// What waits is therefore bounded: one offer in flight and a stale mark,
// never a backlog.
//
// An offer unanswered for Options.StreamOfferTimeout expires (offer
// timeouts, below): the handle gets a "streams_timeout" event and Janus
// ends it, so a hung or hostile client holds no routes, no relay work and
// no offer forever.

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/buger/jsonparser"
)

// StreamLine is one m-line of a multistream subscriber offer, as the sfu
// hands it to the StreamNegotiator.
type StreamLine struct {
	Mid  string // decimal; equal to the m-line's index
	Kind string // "audio" or "video"
	// Source is the classic subscriber offer of the publisher whose stream
	// the line carries (its codec and payload type come from there); ""
	// marks an inactive line.
	Source string
	User   string // that publisher's user id (the line's msid)
}

// StreamNegotiator writes and checks multistream subscriber SDP; the sdp
// package implements it.
type StreamNegotiator interface {
	StreamOffer(lines []StreamLine) (string, error)
	// ValidateStreamAnswer checks an answer against the offered mids.
	ValidateStreamAnswer(answer string, mids []string) error
	// AudioLevelExtension is the RFC 6464 extension id negotiated in our
	// answer to a publisher, 0 for none.
	AudioLevelExtension(publisherAnswer string) int
}

// The error texts of multistream subscriptions (docs/protocol.md 11.5).
const (
	ErrStreamsNeed1x       = "Multistream subscriptions need Janus 1.x."
	ErrStreamsExclusive    = `"subscribe.streams" cannot be combined with "subscribe.media" or "subscribe.data".`
	ErrNotStreams          = "Not a multistream subscription."
	ErrUnknownMid          = "Unknown mid %q."
	ErrNoOfferOutstanding  = "No offer to answer."
	ErrStreamAnswer        = "Invalid SDP answer: %v"
	ErrStreamsTakeAnswers  = "A multistream subscription only answers offers."
	ErrStreamsNoNegotiator = "multistream subscriptions are not configured"
)

// Stream kinds, in the order a publisher's lines are added.
const (
	kindAudio = "audio"
	kindVideo = "video"
)

// msLine is one m-line of a multistream subscription.
type msLine struct {
	kind   string
	pub    SessionID // 0: inactive
	user   string
	source string // pub's subscriber offer when planned
}

// streamKey names one stream of a publisher.
type streamKey struct {
	pub  SessionID
	kind string
}

// msSub is the state of one multistream subscriber session.
type msSub struct {
	offered []msLine // as in the last offer sent
	live    []msLine // as in the last offer answered: what routes use
	paused  []bool   // by mid; set by configure, cleared when a line is recycled
	// outstanding: an offer (or the join response that precedes any) is on
	// its way and not answered. gen numbers the offers.
	outstanding bool
	gen         uint64
	// deadline is when the outstanding offer, once pushed, expires
	// unanswered (zero: not pushed yet, or no timeout); expired: it did,
	// and the handle is being ended.
	deadline time.Time
	expired  bool
	// routed is the publishers this subscriber currently has a
	// StreamRoute at, with it.
	routed map[SessionID]StreamRoute
	// notOffered: the streams the last plan left out for the cap.
	notOffered []notOfferedInfo
}

// planLines assigns the wanted streams to m-lines, starting from the
// lines as last offered and answered: a line keeps its stream while that
// is wanted; a line whose stream is gone becomes inactive (and stays so in
// this offer: the browser must see it inactive before it carries another
// stream, or it would not signal a new track); a new stream takes the
// lowest inactive line of its kind that the browser has already seen
// inactive, else a new line at the end. want is in the order new lines
// are added. A stream that would need a new line beyond maxLines (0: no
// cap) is left out and returned in left, in want order; it gets a line
// when one frees up (lines are never removed, so the cap bounds the
// offer).
func planLines(prev []msLine, want []msLine, maxLines int) (next, left []msLine) {
	next = make([]msLine, len(prev), len(prev)+len(want))
	wanted := make(map[streamKey]int, len(want))
	for i, w := range want {
		wanted[streamKey{w.pub, w.kind}] = i
	}
	placed := make([]bool, len(want))
	reusable := make([]bool, len(prev))
	for i, l := range prev {
		if l.pub == 0 {
			next[i] = msLine{kind: l.kind}
			reusable[i] = true
			continue
		}
		if w, ok := wanted[streamKey{l.pub, l.kind}]; ok && !placed[w] {
			next[i] = want[w]
			placed[w] = true
			continue
		}
		next[i] = msLine{kind: l.kind}
	}
	for w, l := range want {
		if placed[w] {
			continue
		}
		i := 0
		for ; i < len(reusable); i++ {
			if reusable[i] && next[i].kind == l.kind {
				break
			}
		}
		switch {
		case i < len(reusable):
			reusable[i] = false
			next[i] = l
		case maxLines > 0 && len(next) >= maxLines:
			left = append(left, l)
		default:
			next = append(next, l)
		}
	}
	return next, left
}

// streamLines is what the negotiator gets for a plan.
func streamLines(lines []msLine) []StreamLine {
	out := make([]StreamLine, len(lines))
	for i, l := range lines {
		out[i] = StreamLine{Mid: strconv.Itoa(i), Kind: l.kind, Source: l.source, User: l.user}
	}
	return out
}

// mids lists the mids of a plan.
func mids(lines []msLine) []string {
	out := make([]string, len(lines))
	for i := range lines {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// midIndex parses a mid of ours ("0", "1", ...) into its m-line index;
// -1 when it is not one of n lines.
func midIndex(mid string, n int) int {
	i, err := strconv.Atoi(mid)
	if err != nil || i < 0 || i >= n || strconv.Itoa(i) != mid {
		return -1
	}
	return i
}

// streamInfo is one entry of the "streams" list clients get.
type streamInfo struct {
	Mid    string `json:"mid"`
	Kind   string `json:"kind"`
	UserID string `json:"user_id"`
	Active bool   `json:"active"`
	Paused bool   `json:"paused"`
}

// streamList describes the lines as last offered.
func (m *msSub) streamList() []streamInfo {
	out := make([]streamInfo, len(m.offered))
	for i, l := range m.offered {
		out[i] = streamInfo{Mid: strconv.Itoa(i), Kind: l.kind, UserID: l.user, Active: l.pub != 0, Paused: m.paused[i]}
	}
	return out
}

// wantedRoutes computes, in one pass over the live lines, the route each
// publisher should have to this subscriber: a line routes when it is
// live, not paused and its pair is not blocked (ok says whether a
// publisher may send to this subscriber at all).
func (m *msSub) wantedRoutes(sub SessionID, ok func(pub SessionID) bool) map[SessionID]StreamRoute {
	out := map[SessionID]StreamRoute{}
	for i, l := range m.live {
		if l.pub == 0 || m.paused[i] || !ok(l.pub) {
			continue
		}
		r, have := out[l.pub]
		if !have {
			r = StreamRoute{Session: sub, AudioMindex: -1, VideoMindex: -1}
		}
		if l.kind == kindAudio {
			r.AudioMindex = i
		} else {
			r.VideoMindex = i
		}
		out[l.pub] = r
	}
	return out
}

// keyframeByMindex is the subscriber's Routes.KeyframeByMindex for the
// routes it has: the publisher behind each routed line.
func keyframeByMindex(n int, routed map[SessionID]StreamRoute) []SessionID {
	if len(routed) == 0 {
		return nil
	}
	out := make([]SessionID, n)
	for pub, r := range routed {
		if r.AudioMindex >= 0 {
			out[r.AudioMindex] = pub
		}
		if r.VideoMindex >= 0 {
			out[r.VideoMindex] = pub
		}
	}
	return out
}

// msIndex is the switchboard's view of multistream subscriptions.
type msIndex struct {
	// byRoom holds each room's multistream subscribers.
	byRoom map[string]map[SessionID]*session
	// pending are offers planned under the lock, sent by publishLocked's
	// caller through the control goroutine (building SDP is not lock work).
	pending []*streamOffer
	// waiting holds the subscribers with a pushed, unanswered offer and a
	// deadline: the offer-timeout sweep's work list.
	waiting map[SessionID]*session
	// timeouts counts the offers that expired (stats).
	timeouts uint64
	// maxLines caps the m-lines of one subscriber
	// (Options.MaxStreamsPerSubscriber; 0: no cap).
	maxLines int
}

// streamOffer is a planned offer, to build and send.
type streamOffer struct {
	to         SessionID
	gen        uint64
	lines      []StreamLine
	list       []streamInfo
	notOffered []notOfferedInfo
}

// msJoin makes a joined session a multistream subscriber. The
// subscription starts "outstanding": the join response carries the first
// offer, or, with no stream yet, holds later offers back until it is sent.
func (b *switchboard) msJoin(sess *session) *streamOffer {
	if b.ms.byRoom == nil {
		b.ms.byRoom = map[string]map[SessionID]*session{}
	}
	if b.ms.byRoom[sess.roomID] == nil {
		b.ms.byRoom[sess.roomID] = map[SessionID]*session{}
	}
	b.ms.byRoom[sess.roomID][sess.id] = sess
	sess.ms = &msSub{routed: map[SessionID]StreamRoute{}}
	o := b.msPlan(sess)
	sess.ms.outstanding = true
	return o
}

// msWanted lists the streams sub should receive, in the order new lines
// are added: each other user's publisher in the room (the one publisherIn
// picks), audio then video, for the kinds it sends, unless the pair is
// blocked.
func (b *switchboard) msWanted(sub *session) []msLine {
	var out []msLine
	for _, p := range b.publishersIn(sub.roomID) {
		if p.userID == sub.userID || p.subscriberOffer == "" || b.blocked(sub.userID, p.userID) || b.publisherIn(p.userID, sub.roomID) != p {
			continue
		}
		if p.payloads.AudioFrom >= 0 {
			out = append(out, msLine{kind: kindAudio, pub: p.id, user: p.userID, source: p.subscriberOffer})
		}
		if p.payloads.VideoFrom >= 0 {
			out = append(out, msLine{kind: kindVideo, pub: p.id, user: p.userID, source: p.subscriberOffer})
		}
	}
	return out
}

// msPlan plans sub's next offer: nil when one is outstanding (the answer
// will plan it) or nothing changed.
func (b *switchboard) msPlan(sub *session) *streamOffer {
	m := sub.ms
	if m.outstanding {
		return nil // the answer plans again
	}
	next, left := planLines(m.offered, b.msWanted(sub), b.ms.maxLines)
	m.notOffered = notOffered(left)
	if slices.Equal(next, m.offered) {
		return nil
	}
	for i := range next {
		if i >= len(m.paused) {
			m.paused = append(m.paused, false)
		} else if next[i].pub != m.offered[i].pub {
			m.paused[i] = false // a pause is about a stream, not a slot
		}
	}
	m.offered = next
	m.outstanding = true
	m.gen++
	return &streamOffer{to: sub.id, gen: m.gen, lines: streamLines(next), list: m.streamList(), notOffered: m.notOffered}
}

// notOfferedInfo is one entry of "not_offered": a stream left out of a
// multistream subscriber's offer by max_streams_per_subscriber.
type notOfferedInfo struct {
	UserID string `json:"user_id"`
	Kind   string `json:"kind"`
}

func notOffered(left []msLine) []notOfferedInfo {
	if len(left) == 0 {
		return nil
	}
	out := make([]notOfferedInfo, len(left))
	for i, l := range left {
		out[i] = notOfferedInfo{UserID: l.user, Kind: l.kind}
	}
	return out
}

// streamsBody is the body of a "streams" event, and the stream fields of
// the join's response: "not_offered" only when some stream is.
func streamsBody(body map[string]any, list []streamInfo, left []notOfferedInfo) map[string]any {
	body["streams"] = list
	if len(left) > 0 {
		body["not_offered"] = left
	}
	return body
}

// msRestream plans new offers for a room's multistream subscribers (a
// publisher joined, left or renegotiated).
func (b *switchboard) msRestream(room string) {
	for _, sub := range byID(b.ms.byRoom[room]) {
		if o := b.msPlan(sub); o != nil {
			b.ms.pending = append(b.ms.pending, o)
		}
	}
}

// msAnswered applies the answer to sub's outstanding offer: its lines go
// live. It returns the publishers whose video now reaches sub.
func (b *switchboard) msAnswered(sub *session, c *changes) []SessionID {
	m := sub.ms
	m.live = slices.Clone(m.offered)
	m.outstanding = false
	m.deadline = time.Time{}
	delete(b.ms.waiting, sub.id)
	return b.msRoute(sub, c)
}

// msRoute brings the StreamRoutes to sub up to date with its live lines,
// pauses and blocks: only the publishers whose route changes are touched.
// It returns the publishers whose video starts reaching sub (they owe it a
// keyframe).
func (b *switchboard) msRoute(sub *session, c *changes) []SessionID {
	m := sub.ms
	want := m.wantedRoutes(sub.id, func(pub SessionID) bool {
		p := b.sessions[pub]
		return p != nil && p.joined && !b.blocked(sub.userID, p.userID)
	})
	var keyframes []SessionID
	for pub := range m.routed {
		if _, ok := want[pub]; !ok {
			b.setStreamRoute(pub, StreamRoute{Session: sub.id, AudioMindex: -1, VideoMindex: -1}, c)
		}
	}
	for pub, r := range want {
		old, had := m.routed[pub]
		if had && old == r {
			continue
		}
		b.setStreamRoute(pub, r, c)
		if r.VideoMindex >= 0 && (!had || old.VideoMindex != r.VideoMindex) {
			keyframes = append(keyframes, pub)
		}
	}
	m.routed = want
	if k := keyframeByMindex(len(m.live), want); !slices.Equal(k, sub.routes.KeyframeByMindex) {
		sub.routes.KeyframeByMindex = k
		c.add(sub)
	}
	slices.Sort(keyframes)
	return keyframes
}

// setStreamRoute sets (or, with both mindexes -1, removes) the publisher's
// StreamRoute to r.Session, copying the sorted list.
func (b *switchboard) setStreamRoute(pub SessionID, r StreamRoute, c *changes) {
	p := b.sessions[pub]
	if p == nil {
		return
	}
	list := p.routes.Streams
	i, found := slices.BinarySearchFunc(list, r.Session, func(e StreamRoute, id SessionID) int { return cmp.Compare(e.Session, id) })
	drop := r.AudioMindex < 0 && r.VideoMindex < 0
	var out []StreamRoute
	switch {
	case found && drop:
		if len(list) > 1 {
			out = slices.Delete(slices.Clone(list), i, i+1)
		}
	case found:
		if list[i] == r {
			return
		}
		out = slices.Clone(list)
		out[i] = r
	case drop:
		return
	default:
		out = slices.Insert(slices.Clone(list), i, r)
	}
	p.routes.Streams = out
	c.add(p)
}

// msRemove forgets a session's part in multistream subscriptions: as a
// subscriber, its routes at publishers; as a publisher, its lines'
// routes at the room's subscribers, whose next offers mark them inactive.
func (b *switchboard) msRemove(s *session, c *changes) {
	if s.ms != nil {
		for pub := range s.ms.routed {
			b.setStreamRoute(pub, StreamRoute{Session: s.id, AudioMindex: -1, VideoMindex: -1}, c)
		}
		s.ms.routed = nil
		delete(b.ms.waiting, s.id)
		delete(b.ms.byRoom[s.roomID], s.id)
		if len(b.ms.byRoom[s.roomID]) == 0 {
			delete(b.ms.byRoom, s.roomID)
		}
	}
	if s.publisher {
		for _, sub := range b.ms.byRoom[s.roomID] {
			if _, ok := sub.ms.routed[s.id]; ok {
				b.msRoute(sub, c)
			}
		}
		b.msRestream(s.roomID)
	}
}

// msRefreshed follows a change of blocks among ids: refresh has recomputed
// their routes; the multistream subscribers among them bring their own
// bookkeeping in line and get new offers.
func (b *switchboard) msRefreshed(ids map[SessionID]struct{}, c *changes) {
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if sub := b.sessions[id]; sub != nil && sub.ms != nil {
			b.msRoute(sub, c)
			if o := b.msPlan(sub); o != nil {
				b.ms.pending = append(b.ms.pending, o)
			}
		}
	}
}

// msReference computes from scratch the multistream part of a session's
// routes (switchboard.routes, the reference for the incremental ones).
func (b *switchboard) msReference(s *session, r *Routes) {
	alive := func(sub *session) func(SessionID) bool {
		return func(pub SessionID) bool {
			p := b.sessions[pub]
			return p != nil && p.joined && !b.blocked(sub.userID, p.userID)
		}
	}
	if s.publisher {
		for _, sub := range byID(b.ms.byRoom[s.roomID]) {
			if rt, ok := sub.ms.wantedRoutes(sub.id, alive(sub))[s.id]; ok {
				r.Streams = append(r.Streams, rt)
			}
		}
	}
	if s.ms != nil {
		r.KeyframeByMindex = keyframeByMindex(len(s.ms.live), s.ms.wantedRoutes(s.id, alive(s)))
	}
}

// takeStreamOffers hands the planned offers to the control goroutine.
// Called with s.mu held (publishLocked).
func (s *Server) takeStreamOffers() {
	b := s.state
	if len(b.ms.pending) == 0 {
		return
	}
	offers := b.ms.pending
	b.ms.pending = nil
	if s.closed.Load() {
		return // shutting down: later would run the send here, under s.mu
	}
	for _, o := range offers {
		s.later(func() { s.sendStreamOffer(o) })
	}
}

// renderStreamOffer builds a planned offer's SDP. A failure (a bug: the
// sources are our own offers) is logged and releases the subscription's
// queue so a later change can try again.
func (s *Server) renderStreamOffer(o *streamOffer) ([]byte, bool) {
	sdp, err := s.opts.Streams.StreamOffer(o.lines)
	if err == nil {
		return offerJSEP(sdp), true
	}
	s.log.Errorf("session %d: multistream offer: %v", o.to, err)
	s.mu.Lock()
	if sess := s.state.sessions[o.to]; sess != nil && sess.ms != nil && sess.ms.gen == o.gen {
		sess.ms.offered = slices.Clone(sess.ms.live)
		sess.ms.outstanding = false
	}
	s.mu.Unlock()
	return nil, false
}

// sendStreamOffer pushes a planned offer as a "streams" event.
func (s *Server) sendStreamOffer(o *streamOffer) {
	jsep, ok := s.renderStreamOffer(o)
	if !ok {
		return
	}
	s.push(o.to, "", eventJSON(streamsBody(map[string]any{"event": "streams"}, o.list, o.notOffered)), jsep)
	s.mu.Lock()
	s.offerPushed(o.to, o.gen)
	s.mu.Unlock()
}

// streamsReleased runs once a reply to a multistream subscriber (the
// join's, or an answer's) has been pushed: the subscription's queue is
// free again and what changed meanwhile gets its offer now.
func (s *Server) streamsReleased(id SessionID, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.state.sessions[id]
	if sess == nil || sess.ms == nil || sess.ms.gen != gen {
		return
	}
	m := sess.ms
	if m.outstanding && len(m.offered) == 0 {
		m.outstanding = false // the join's hold: no offer was sent
	}
	if m.outstanding {
		s.offerPushed(id, gen) // the join's reply carried the first offer
	}
	if !m.outstanding {
		if o := s.state.msPlan(sess); o != nil {
			s.state.ms.pending = append(s.state.ms.pending, o)
		}
	}
	s.takeStreamOffers()
}

// StreamSetting is one entry of a configure's "streams".
type StreamSetting struct {
	Mid  string
	Send bool
}

// MaxStreamSettings bounds a configure's "streams" list.
const MaxStreamSettings = 1024

func (p *fieldParser) streamSettings() []StreamSetting {
	raw, t, _, err := jsonparser.Get(p.body, "streams")
	if t == jsonparser.NotExist {
		p.fail(`missing "streams".`)
		return nil
	}
	if err != nil || t != jsonparser.Array {
		p.fail(`"streams" must be an array.`)
		return nil
	}
	var out []StreamSetting
	_, _ = jsonparser.ArrayEach(raw, func(v []byte, vt jsonparser.ValueType, _ int, _ error) {
		if p.err != nil {
			return
		}
		if len(out) == MaxStreamSettings {
			p.fail(`"streams" has more than %d entries.`, MaxStreamSettings)
			return
		}
		if vt != jsonparser.Object {
			p.fail(`"streams" entries must be objects.`)
			return
		}
		e := fieldParser{body: v, what: p.what, prefix: "streams[]."}
		mid, _ := e.str("mid", true, MaxIDBytes)
		send := false
		if st, vt, _, _ := jsonparser.Get(v, "send"); vt == jsonparser.NotExist {
			e.fail(`missing "streams[].send".`)
		} else if vt != jsonparser.Boolean {
			e.fail(`"streams[].send" must be a boolean.`)
		} else {
			send, _ = jsonparser.ParseBoolean(st)
		}
		if e.err != nil {
			p.err = e.err
			return
		}
		out = append(out, StreamSetting{Mid: mid, Send: send})
	})
	return out
}

// checkStreamsJoin refuses a streams join this server cannot serve, before
// any token work (the same checks as any join follow).
func (s *Server) checkStreamsJoin(m *Message) error {
	sub := m.Subscribe
	if sub == nil || !sub.Streams {
		return nil
	}
	if sub.HasMedia || sub.Data {
		return badInput("%s", ErrStreamsExclusive)
	}
	if !s.opts.Multistream || s.opts.Streams == nil {
		return badInput("%s", ErrStreamsNeed1x)
	}
	return nil
}

// checkStreamJSEP checks a jsep sent on a multistream subscriber handle:
// only an answer to the outstanding offer, with its m-lines and mids. The
// SDP is checked outside the lock.
func (s *Server) checkStreamJSEP(id SessionID, j *JSEP, neg *negotiation) error {
	s.mu.Lock()
	sess := s.state.sessions[id]
	if sess == nil || sess.ms == nil {
		s.mu.Unlock()
		return nil
	}
	m := sess.ms
	if j.Type != "answer" {
		s.mu.Unlock()
		return badInput("%s", ErrStreamsTakeAnswers)
	}
	if !m.outstanding || len(m.offered) == 0 || m.expired {
		s.mu.Unlock()
		return badInput("%s", ErrNoOfferOutstanding)
	}
	offered, gen := mids(m.offered), m.gen
	s.mu.Unlock()
	if err := s.opts.Streams.ValidateStreamAnswer(j.SDP, offered); err != nil {
		return badInput(ErrStreamAnswer, err)
	}
	neg.streamGen = gen
	return nil
}

// streamAnswer applies a checked answer of a multistream subscriber: its
// lines go live, routes follow, new videos get keyframes, and once the
// reply is out the next offer (folded changes) is planned.
func (s *Server) streamAnswer(id SessionID, n *negotiation) *reply {
	if n.streamGen == 0 {
		return &reply{}
	}
	s.mu.Lock()
	sess := s.state.sessions[id]
	if sess == nil || sess.ms == nil || sess.ms.gen != n.streamGen || !sess.ms.outstanding || sess.ms.expired {
		s.mu.Unlock()
		return &reply{}
	}
	c := s.state.newChanges()
	keyframes := s.state.msAnswered(sess, c)
	s.publishLocked(c, nil)
	s.mu.Unlock()
	for _, p := range keyframes {
		s.gw.RequestKeyframe(p)
	}
	gen := n.streamGen
	return &reply{after: func() { s.streamsReleased(id, gen) }}
}

// configure pauses and resumes streams of a multistream subscription by
// mid, without renegotiation: a paused line is absent from the relay's
// routes. All mids are checked before anything changes.
func (s *Server) configure(id SessionID, m *Message) (*reply, []outgoing, error) {
	s.mu.Lock()
	sess, err := s.joined(id, ErrNotStreams)
	if err == nil && sess.ms == nil {
		err = badInput("%s", ErrNotStreams)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	ms := sess.ms
	for _, st := range m.Streams {
		if midIndex(st.Mid, len(ms.offered)) < 0 {
			s.mu.Unlock()
			if len(st.Mid) > 64 {
				st.Mid = st.Mid[:64] + "…"
			}
			return nil, nil, badInput(ErrUnknownMid, st.Mid)
		}
	}
	for _, st := range m.Streams {
		ms.paused[midIndex(st.Mid, len(ms.offered))] = !st.Send
	}
	c := s.state.newChanges()
	keyframes := s.state.msRoute(sess, c)
	s.publishLocked(c, nil)
	list := ms.streamList()
	s.mu.Unlock()
	for _, p := range keyframes {
		s.gw.RequestKeyframe(p) // a resumed video starts on a keyframe
	}
	return &reply{response: map[string]any{"streams": list}}, nil, nil
}

// msKeyframes lists the publishers whose video reaches a multistream
// subscriber (its media just came up). Called with s.mu held.
func (b *switchboard) msKeyframes(sess *session) []SessionID {
	if sess == nil || sess.ms == nil {
		return nil
	}
	var out []SessionID
	for pub, r := range sess.ms.routed {
		if r.VideoMindex >= 0 {
			out = append(out, pub)
		}
	}
	slices.Sort(out)
	return out
}

// The states of a multistream subscriber's m-line in handle_info and the
// admin counts (docs/admin.md 3).
const (
	StreamActive   = "active"   // answered, carries its publisher's stream
	StreamPaused   = "paused"   // answered, paused by configure
	StreamPending  = "pending"  // carries a stream in an offer not answered yet
	StreamInactive = "inactive" // carries nothing (a gone stream's line, free for recycling)
)

// lineStates gives the state of each line of the last offer.
func (m *msSub) lineStates() []string {
	out := make([]string, len(m.offered))
	for i, l := range m.offered {
		switch {
		case l.pub == 0:
			out[i] = StreamInactive
		case i >= len(m.live) || m.live[i].pub != l.pub:
			out[i] = StreamPending
		case m.paused[i]:
			out[i] = StreamPaused
		default:
			out[i] = StreamActive
		}
	}
	return out
}

// streamLineAdmin is one m-line in handle_info.
type streamLineAdmin struct {
	Mid    string `json:"mid"`
	Mindex int    `json:"mindex"`
	Kind   string `json:"kind"`
	UserID string `json:"user_id"` // "" when inactive
	State  string `json:"state"`   // StreamActive...
	// Routed: the relay sends the publisher's stream on this line now
	// (active and not across a block).
	Routed bool `json:"routed"`
}

// streamsAdmin is a multistream subscriber in handle_info.
type streamsAdmin struct {
	Lines []streamLineAdmin `json:"lines"`
	// Offers is how many offers the handle has been sent; Outstanding
	// says the last is unanswered, ExpiresInMs (when it is and has a
	// deadline) how long it has left.
	Offers      uint64 `json:"offers"`
	Outstanding bool   `json:"offer_outstanding"`
	ExpiresInMs *int64 `json:"offer_expires_in_ms,omitempty"`
}

// adminInfo describes the subscription for handle_info at now.
func (m *msSub) adminInfo(now time.Time) streamsAdmin {
	out := streamsAdmin{Lines: make([]streamLineAdmin, len(m.offered)), Offers: m.gen,
		Outstanding: m.outstanding && len(m.offered) > 0}
	states := m.lineStates()
	for i, l := range m.offered {
		r, routed := m.routed[l.pub]
		routed = routed && l.pub != 0 && ((l.kind == kindAudio && r.AudioMindex == i) || (l.kind == kindVideo && r.VideoMindex == i))
		out.Lines[i] = streamLineAdmin{Mid: strconv.Itoa(i), Mindex: i, Kind: l.kind, UserID: l.user, State: states[i], Routed: routed}
	}
	if out.Outstanding && !m.deadline.IsZero() {
		left := max(m.deadline.Sub(now).Milliseconds(), 0)
		out.ExpiresInMs = &left
	}
	return out
}

// msReceives lists the users whose streams a multistream subscriber has
// answered and still may receive (paused or not), sorted. Called with
// s.mu held.
func (b *switchboard) msReceives(sub *session) []string {
	var out []string
	for _, l := range sub.ms.live {
		if p := b.sessions[l.pub]; l.pub != 0 && p != nil && p.joined && !b.blocked(sub.userID, p.userID) && !slices.Contains(out, p.userID) {
			out = append(out, p.userID)
		}
	}
	slices.Sort(out)
	return out
}
