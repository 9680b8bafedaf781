package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor is how long a test waits for an asynchronous reply.
const waitFor = 2 * time.Second

// pushed is one PushEvent call, decoded.
type pushed struct {
	ID      SessionID
	Txn     string
	Body    map[string]any // decoded body
	JSEP    map[string]any // decoded jsep; nil when none was passed
	RawBody string
	RawJSEP string
}

// fakeGateway records everything the Server asks of Janus and checks the
// invariants the C relay path depends on.
// notified is one NotifyEvent call.
type notified struct {
	ID  SessionID
	Raw string
}

type fakeGateway struct {
	mu        sync.Mutex
	notified  []notified // NotifyEvent calls
	pushes    []pushed
	ended     []SessionID
	keyframes []SessionID
	payloads  map[SessionID]PayloadMap
	publishes int
	// routes holds the current routes of every session that has ever been
	// published and not retired.
	routes  map[SessionID]Routes
	retired map[SessionID]bool
	// groups holds the members of every data group as last published.
	groups map[GroupID][]SessionID
	// violations collects broken invariants; checkInvariants reports them.
	violations []string

	inPublish atomic.Int32

	audio fakeAudio // audio levels (streams_test.go)

	// pushHook, when set, runs after a push is recorded, without the lock.
	pushHook func(p pushed)
	// pushSignal is closed (and cleared) by the next push, so a waiter
	// wakes at once instead of polling on a timer.
	pushSignal chan struct{}
}

func newFakeGateway() *fakeGateway {
	return &fakeGateway{routes: map[SessionID]Routes{}, retired: map[SessionID]bool{}, groups: map[GroupID][]SessionID{}}
}

func (f *fakeGateway) violate(format string, args ...any) {
	f.violations = append(f.violations, fmt.Sprintf(format, args...))
}

func (f *fakeGateway) PushEvent(id SessionID, txn string, body, jsep []byte) error {
	p := pushed{ID: id, Txn: txn, RawBody: string(body), RawJSEP: string(jsep)}
	bodyErr := json.Unmarshal(body, &p.Body)
	var jsepErr error
	if jsep != nil {
		jsepErr = json.Unmarshal(jsep, &p.JSEP)
	}
	f.mu.Lock()
	if bodyErr != nil || p.Body == nil {
		f.violate("push to %d (txn %q): body is not a JSON object: %q (%v)", id, txn, body, bodyErr)
	}
	if jsep != nil && (jsepErr != nil || p.JSEP == nil) {
		f.violate("push to %d (txn %q): jsep is not a JSON object: %q (%v)", id, txn, jsep, jsepErr)
	}
	if id == 0 {
		f.violate("push to session 0")
	}
	f.pushes = append(f.pushes, p)
	if f.pushSignal != nil {
		close(f.pushSignal)
		f.pushSignal = nil
	}
	hook := f.pushHook
	f.mu.Unlock()
	if hook != nil {
		hook(p)
	}
	return nil
}

func (f *fakeGateway) EventsEnabled() bool { return true }

func (f *fakeGateway) NotifyEvent(id SessionID, event []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notified = append(f.notified, notified{ID: id, Raw: string(event)})
}

// notifications returns the events handed to Janus's event handlers.
func (f *fakeGateway) notifications() []notified {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.notified)
}

func (f *fakeGateway) SetAudioLevelExtension(id SessionID, extID int) { f.audio.setExt(id, extID) }

func (f *fakeGateway) AudioLevel(id SessionID) (sum, packets uint64, ok bool) {
	return f.audio.level(id)
}

func (f *fakeGateway) EndSession(id SessionID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, id)
}

func (f *fakeGateway) RequestKeyframe(id SessionID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keyframes = append(f.keyframes, id)
}

func (f *fakeGateway) SetPayloadMap(id SessionID, m PayloadMap) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.payloads == nil {
		f.payloads = map[SessionID]PayloadMap{}
	}
	f.payloads[id] = m
}

func (f *fakeGateway) payloadMap(id SessionID) (PayloadMap, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.payloads[id]
	return m, ok
}

func (f *fakeGateway) Publish(updates []RouteUpdate, groups []GroupUpdate, retire []SessionID) {
	if n := f.inPublish.Add(1); n != 1 {
		f.mu.Lock()
		f.violate("Publish called concurrently (%d in flight)", n)
		f.mu.Unlock()
	}
	defer f.inPublish.Add(-1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.publishes++
	seen := map[SessionID]bool{}
	for _, u := range updates {
		if u.Session == 0 {
			f.violate("route update for session 0")
		}
		if seen[u.Session] {
			f.violate("two route updates for session %d in one Publish", u.Session)
		}
		seen[u.Session] = true
		if f.retired[u.Session] {
			f.violate("route update for retired session %d", u.Session)
		}
		r := Routes{
			RTP:      slices.Clone(u.Routes.RTP),
			Data:     slices.Clone(u.Routes.Data),
			Keyframe: slices.Clone(u.Routes.Keyframe),

			DataGroup: u.Routes.DataGroup,

			Streams:          slices.Clone(u.Routes.Streams),
			KeyframeByMindex: slices.Clone(u.Routes.KeyframeByMindex),
		}
		f.checkStreamRoutes(u.Session, r)
		for _, l := range [][]SessionID{r.RTP, r.Data} {
			if slices.Contains(l, u.Session) {
				f.violate("session %d routes RTP or data to itself: %+v", u.Session, r)
			}
		}
		if r.DataGroup != 0 && len(r.Data) > 0 {
			f.violate("session %d has both a data group and a data list: %+v", u.Session, r)
		}
		f.routes[u.Session] = r
	}
	seenGroup := map[GroupID]bool{}
	for _, g := range groups {
		if g.Group == 0 || seenGroup[g.Group] {
			f.violate("group update for group %d (zero or twice in one Publish)", g.Group)
		}
		seenGroup[g.Group] = true
		if !slices.IsSorted(g.Members) {
			f.violate("group %d members not sorted: %v", g.Group, g.Members)
		}
		for _, id := range g.Members {
			if f.retired[id] {
				f.violate("group %d update names retired session %d", g.Group, id)
			}
		}
		if len(g.Members) == 0 {
			delete(f.groups, g.Group)
		} else {
			f.groups[g.Group] = slices.Clone(g.Members)
		}
	}
	for _, id := range retire {
		f.retired[id] = true
		delete(f.routes, id)
	}
	for g, members := range f.groups {
		for _, id := range members {
			if f.retired[id] {
				f.violate("after Publish(retire %v), group %d still names retired session %d", retire, g, id)
			}
		}
	}
	// The invariant the C hot path relies on: once Publish returns, no
	// current route names a retired session.
	for owner, r := range f.routes {
		for _, l := range [][]SessionID{r.RTP, r.Data, r.Keyframe, r.KeyframeByMindex, streamSessions(r.Streams)} {
			for _, id := range l {
				if f.retired[id] {
					f.violate("after Publish(retire %v), session %d still routes to retired session %d: %+v", retire, owner, id, r)
				}
			}
		}
	}
}

// checkInvariants fails the test if any invariant broke.
func (f *fakeGateway) checkInvariants(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.violations {
		t.Error("gateway invariant: " + v)
	}
}

// publishedOf returns the current routes of a session as published (a
// data group unresolved).
func (f *fakeGateway) publishedOf(id SessionID) Routes {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.routes[id]
}

// routesOf returns the current routes of a session (zero if none), with
// Data resolved as the relay resolves it: a session with a data group
// sends to the group's members but itself.
func (f *fakeGateway) routesOf(id SessionID) Routes {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.routes[id]
	if r.DataGroup != 0 {
		r.Data = slices.DeleteFunc(slices.Clone(f.groups[r.DataGroup]), func(x SessionID) bool { return x == id })
	}
	return r
}

// clearPushes forgets the pushes recorded so far.
func (f *fakeGateway) clearPushes() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes = nil
}

func (f *fakeGateway) allPushes() []pushed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pushes)
}

func (f *fakeGateway) publishCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.publishes
}

func (f *fakeGateway) endedSessions() []SessionID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ended)
}

func (f *fakeGateway) keyframeRequests() []SessionID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keyframes)
}

// findResponse returns the pushes to id with the given transaction.
func (f *fakeGateway) findResponses(id SessionID, txn string) []pushed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.responsesLocked(id, txn)
}

func (f *fakeGateway) responsesLocked(id SessionID, txn string) []pushed {
	var out []pushed
	for _, p := range f.pushes {
		if p.ID == id && p.Txn == txn {
			out = append(out, p)
		}
	}
	return out
}

// waitResponse waits until the response to (id, txn) has been pushed.
func (f *fakeGateway) waitResponse(t testing.TB, id SessionID, txn string) pushed {
	t.Helper()
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	for {
		f.mu.Lock()
		rs := f.responsesLocked(id, txn)
		if len(rs) == 0 && f.pushSignal == nil {
			f.pushSignal = make(chan struct{})
		}
		signal := f.pushSignal
		f.mu.Unlock()
		if len(rs) > 0 {
			if len(rs) > 1 {
				t.Errorf("session %d txn %q: %d responses, want 1: %+v", id, txn, len(rs), rs)
			}
			return rs[0]
		}
		select {
		case <-signal:
		case <-timeout.C:
			t.Fatalf("session %d: no response to transaction %q within %v", id, txn, waitFor)
		}
	}
}

// events returns the asynchronous events (no transaction) pushed to id.
func (f *fakeGateway) events(id SessionID) []pushed {
	return f.findResponses(id, "")
}

// eventBodies returns the raw bodies of the events pushed to id.
func (f *fakeGateway) eventBodies(id SessionID) []string {
	var out []string
	for _, p := range f.events(id) {
		out = append(out, p.RawBody)
	}
	return out
}

// fakeNegotiator answers "X" with "answer-for:X" and "suboffer-for:X".
type fakeNegotiator struct{}

func (fakeNegotiator) Negotiate(offer string) (Negotiation, error) {
	if offer == "bad" {
		return Negotiation{}, errors.New("bad offer")
	}
	pm := NoPayloadMap
	if offer == "pt:126" {
		pm = PayloadMap{AudioFrom: 109, AudioTo: 111, VideoFrom: 126, VideoTo: 107}
	}
	return Negotiation{Answer: "answer-for:" + offer, SubscriberOffer: "suboffer-for:" + offer, Payloads: pm}, nil
}

func (fakeNegotiator) ValidateAnswer(answer string) error {
	if answer == "bad" {
		return errors.New("bad answer")
	}
	return nil
}

// testLogger sends log lines to t.Log and counts errors.
type testLogger struct {
	t      testing.TB
	errors atomic.Int32
	quiet  bool
}

func (l *testLogger) logf(level, format string, args ...any) {
	if !l.quiet {
		l.t.Logf(level+": "+format, args...)
	}
}
func (l *testLogger) Errorf(format string, args ...any) {
	l.errors.Add(1)
	l.logf("ERROR", format, args...)
}
func (l *testLogger) Warnf(format string, args ...any)    { l.logf("WARN", format, args...) }
func (l *testLogger) Infof(format string, args ...any)    { l.logf("INFO", format, args...) }
func (l *testLogger) Verbosef(format string, args ...any) {}

// harness is a Server wired to a fakeGateway.
type harness struct {
	t    testing.TB
	gw   *fakeGateway
	s    *Server
	log  *testLogger
	next SessionID
	txn  atomic.Int64
	mu   sync.Mutex
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	gw := newFakeGateway()
	if opts.Negotiator == nil {
		opts.Negotiator = fakeNegotiator{}
	}
	log := &testLogger{t: t, quiet: true}
	if opts.Log == nil {
		opts.Log = log
	}
	h := &harness{t: t, gw: gw, log: log, s: NewServer(gw, opts)}
	t.Cleanup(func() {
		h.s.Destroy()
		gw.checkInvariants(t)
		h.checkRoutes()
	})
	return h
}

// checkRoutes checks that the incrementally kept routes of every session
// equal both a computation from scratch and what the gateway last got.
func (h *harness) checkRoutes() {
	h.t.Helper()
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	norm := func(r Routes) string {
		return fmt.Sprint(slices.Clip(r.RTP), len(r.RTP), r.Data, len(r.Data), r.DataGroup, r.Keyframe, len(r.Keyframe),
			r.Streams, len(r.Streams), r.KeyframeByMindex, len(r.KeyframeByMindex))
	}
	// The per-room lists kept incrementally, against their definitions.
	st := h.s.state
	for room, users := range st.roomPublishers {
		if got, want := st.roomUsers(room), slices.Sorted(maps.Keys(users)); !slices.Equal(got, want) {
			h.t.Errorf("room %q: user list %v, want %v", room, got, want)
		}
	}
	if len(st.roomUserList) != len(st.roomPublishers) || len(st.groups) != len(st.rooms) {
		h.t.Errorf("%d user lists and %d groups for %d rooms", len(st.roomUserList), len(st.groups), len(st.rooms))
	}
	for room, pubs := range st.rooms {
		g := st.groups[room]
		if g == nil || !slices.Equal(g.members, slices.Sorted(maps.Keys(pubs))) {
			h.t.Errorf("room %q: data group %+v, publishers %v", room, g, slices.Sorted(maps.Keys(pubs)))
			continue
		}
		for id, p := range pubs {
			if _, exc := g.exceptions[id]; exc != st.ownDataRoute(p) {
				h.t.Errorf("room %q: session %d exception %v, own data route %v", room, id, exc, st.ownDataRoute(p))
			}
		}
	}
	for id, sess := range h.s.state.sessions {
		want := norm(h.s.state.routes(id))
		if got := norm(sess.routes); got != want {
			h.t.Errorf("session %d: kept routes %s, from scratch %s", id, got, want)
		}
		if got := norm(h.gw.publishedOf(id)); got != want {
			h.t.Errorf("session %d: published routes %s, from scratch %s", id, got, want)
		}
		// Where its data goes, group resolved, against the definition.
		if sess.joined && sess.publisher {
			if got, want := h.gw.routesOf(id).Data, h.s.state.dataRecipients(sess); !slices.Equal(got, want) {
				h.t.Errorf("session %d: data goes to %v, want %v", id, got, want)
			}
		}
	}
}

// session creates a new handle.
func (h *harness) session() SessionID {
	h.t.Helper()
	h.mu.Lock()
	h.next++
	id := h.next
	h.mu.Unlock()
	if err := h.s.CreateSession(id); err != nil {
		h.t.Fatalf("CreateSession(%d): %v", id, err)
	}
	return id
}

func (h *harness) newTxn() string { return fmt.Sprintf("t%d", h.txn.Add(1)) }

// send sends a message (body and jsep may be "") and waits for its response.
func (h *harness) send(id SessionID, body, jsep string) pushed {
	h.t.Helper()
	txn := h.newTxn()
	var b, j []byte
	if body != "" {
		b = []byte(body)
	}
	if jsep != "" {
		j = []byte(jsep)
	}
	h.s.HandleMessage(id, txn, b, j)
	return h.gw.waitResponse(h.t, id, txn)
}

// ok sends a message that must succeed and returns its response.
func (h *harness) ok(id SessionID, body, jsep string) pushed {
	h.t.Helper()
	p := h.send(id, body, jsep)
	if p.Body["success"] != true {
		h.t.Fatalf("session %d: %s (jsep %s): want success, got %s", id, body, jsep, p.RawBody)
	}
	return p
}

// fail sends a message that must fail with msg and change nothing.
func (h *harness) fail(id SessionID, body, jsep, msg string) {
	h.t.Helper()
	before := h.snapshot()
	p := h.send(id, body, jsep)
	want := errorJSON(msg)
	if p.RawBody != string(want) {
		h.t.Fatalf("session %d: %s (jsep %s):\n got %s\nwant %s", id, body, jsep, p.RawBody, want)
	}
	if p.RawJSEP != "" {
		h.t.Errorf("error response carries a jsep: %s", p.RawJSEP)
	}
	if after := h.snapshot(); after != before {
		h.t.Fatalf("failed message changed state:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot describes every session, the routes and the side effects that
// a failed message must not change (responses to the sender excepted).
func (h *harness) snapshot() string {
	h.mu.Lock()
	n := h.next
	h.mu.Unlock()
	var sb strings.Builder
	for id := SessionID(1); id <= n; id++ {
		fmt.Fprintf(&sb, "%d:%s routes=%+v events=%d\n", id, h.s.QuerySession(id), h.gw.routesOf(id), len(h.gw.events(id)))
	}
	fmt.Fprintf(&sb, "admin=%s publishes=%d ended=%v keyframes=%v", string(mustJSON(h.s.stateSummary())),
		h.gw.publishCount(), h.gw.endedSessions(), h.gw.keyframeRequests())
	h.s.mu.Lock()
	var blocks []string
	for k := range h.s.state.blocks {
		blocks = append(blocks, k[0]+">"+k[1])
	}
	h.s.mu.Unlock()
	slices.Sort(blocks)
	fmt.Fprintf(&sb, " blocks=%v", blocks)
	return sb.String()
}

// offer sends a publisher offer and checks the answer.
func (h *harness) offer(id SessionID, sdp string) {
	h.t.Helper()
	p := h.ok(id, "", jsepJSON("offer", sdp))
	if p.RawBody != `{"success":true}` {
		h.t.Errorf("offer response body %s", p.RawBody)
	}
	want := map[string]any{"type": "answer", "sdp": "answer-for:" + sdp}
	if !reflect.DeepEqual(p.JSEP, want) {
		h.t.Errorf("offer response jsep %s, want %v", p.RawJSEP, want)
	}
}

// publisher creates a handle, sends offer "offer-<user>" and joins as a
// publisher.
func (h *harness) publisher(room, user string, notifications bool) SessionID {
	h.t.Helper()
	id := h.session()
	h.offer(id, "offer-"+user)
	h.ok(id, joinJSON(room, user, fmt.Sprintf(`{"notifications":%v,"data":true}`, notifications)), "")
	return id
}

// subscriber creates a handle subscribed to media's publisher.
func (h *harness) subscriber(room, user, media string) SessionID {
	h.t.Helper()
	id := h.session()
	h.ok(id, joinJSON(room, user, fmt.Sprintf(`{"media":%q}`, media)), "")
	return id
}

func joinJSON(room, user, subscribe string) string {
	s := fmt.Sprintf(`{"kind":"join","room_id":%q,"user_id":%q`, room, user)
	if subscribe != "" {
		s += `,"subscribe":` + subscribe
	}
	return s + "}"
}

func jsepJSON(typ, sdp string) string {
	return string(mustJSON(map[string]string{"type": typ, "sdp": sdp}))
}

func ids(xs ...SessionID) []SessionID { return xs }

// sameIDs compares route lists, treating nil and empty alike.
func sameIDs(a, b []SessionID) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return slices.Equal(a, b)
}

func checkRoutes(t testing.TB, gw *fakeGateway, id SessionID, want Routes) {
	t.Helper()
	got := gw.routesOf(id)
	if !sameIDs(got.RTP, want.RTP) || !sameIDs(got.Data, want.Data) || !sameIDs(got.Keyframe, want.Keyframe) {
		t.Errorf("routes of %d = %+v, want %+v", id, got, want)
	}
}

// destroy, setupMedia and hangupMedia call the loop-thread entry points
// and wait for the control goroutine.
func (h *harness) destroy(id SessionID) {
	h.s.DestroySession(id)
	h.s.settle()
}

func (h *harness) setupMedia(id SessionID) {
	h.s.SetupMedia(id)
	h.s.settle()
}

func (h *harness) hangupMedia(id SessionID) {
	h.s.HangupMedia(id)
	h.s.settle()
}
