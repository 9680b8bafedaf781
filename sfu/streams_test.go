package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func line(kind string, pub SessionID) msLine {
	if pub == 0 {
		return msLine{kind: kind}
	}
	u := string(rune('a' + pub))
	return msLine{kind: kind, pub: pub, user: u, source: "offer-" + u}
}

func both(pub SessionID) []msLine { return []msLine{line(kindAudio, pub), line(kindVideo, pub)} }

func cat(parts ...[]msLine) []msLine {
	var out []msLine
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPlanLines(t *testing.T) {
	for _, c := range []struct {
		name       string
		prev, want []msLine
		next       []msLine
	}{
		{"first", nil, cat(both(1), both(2)), cat(both(1), both(2))},
		{"kept in place, new appended", cat(both(2)), cat(both(1), both(2)), cat(both(2), both(1))},
		{"gone marked inactive, not reused at once", cat(both(1), both(2)), cat(both(1), both(3)),
			cat(both(1), both(0), both(3))},
		{"inactive reused by kind, lowest first", cat(both(0), both(1), both(0)), cat(both(1), both(4), []msLine{line(kindVideo, 5)}),
			cat(both(4), both(1), []msLine{line(kindAudio, 0), line(kindVideo, 5)})},
		{"video only publisher takes a video line", cat([]msLine{line(kindAudio, 0), line(kindVideo, 0)}), []msLine{line(kindVideo, 7)},
			[]msLine{line(kindAudio, 0), line(kindVideo, 7)}},
		{"dropped track", cat(both(1)), []msLine{line(kindAudio, 1)}, []msLine{line(kindAudio, 1), line(kindVideo, 0)}},
		{"nothing wanted", cat(both(1)), nil, both(0)},
	} {
		got, _ := planLines(c.prev, c.want, 0)
		if !reflect.DeepEqual(got, c.next) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.next)
		}
	}
}

// A source change (the publisher renegotiated) stays on the same line.
func TestPlanLinesNewSource(t *testing.T) {
	w := line(kindVideo, 1)
	w.source = "new"
	got, _ := planLines(both(1), []msLine{line(kindAudio, 1), w}, 0)
	if got[1].source != "new" || got[1].pub != 1 {
		t.Fatalf("%v", got)
	}
}

func TestWantedRoutes(t *testing.T) {
	m := &msSub{live: cat(both(1), both(2), []msLine{line(kindVideo, 3)}), paused: make([]bool, 5)}
	m.paused[3] = true // 2's video
	got := m.wantedRoutes(9, func(p SessionID) bool { return p != 3 })
	want := map[SessionID]StreamRoute{
		1: {Session: 9, AudioMindex: 0, VideoMindex: 1},
		2: {Session: 9, AudioMindex: 2, VideoMindex: -1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if k := keyframeByMindex(5, got); !reflect.DeepEqual(k, []SessionID{1, 1, 2, 0, 0}) {
		t.Fatalf("keyframeByMindex %v", k)
	}
	if k := keyframeByMindex(5, nil); k != nil {
		t.Fatalf("keyframeByMindex of none: %v", k)
	}
}

func TestMidIndex(t *testing.T) {
	for mid, want := range map[string]int{"0": 0, "3": 3, "4": -1, "-1": -1, "01": -1, "x": -1, "": -1, " 1": -1} {
		if got := midIndex(mid, 4); got != want {
			t.Errorf("midIndex(%q) = %d, want %d", mid, got, want)
		}
	}
}

// fakeAudio serves audio-level totals to the Server (fakeGateway.audio).
type fakeAudio struct {
	mu     sync.Mutex
	ext    map[SessionID]int
	totals map[SessionID][2]uint64
}

func (a *fakeAudio) setExt(id SessionID, ext int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ext == nil {
		a.ext = map[SessionID]int{}
	}
	a.ext[id] = ext
}

func (a *fakeAudio) extOf(id SessionID) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ext[id]
}

// add adds packets of one level to a publisher's totals.
func (a *fakeAudio) add(id SessionID, level, packets uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.totals == nil {
		a.totals = map[SessionID][2]uint64{}
	}
	t := a.totals[id]
	a.totals[id] = [2]uint64{t[0] + level*packets, t[1] + packets}
}

func (a *fakeAudio) level(id SessionID) (uint64, uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.totals[id]
	return t[0], t[1], ok
}

func streamSessions(rs []StreamRoute) []SessionID {
	out := make([]SessionID, len(rs))
	for i, r := range rs {
		out[i] = r.Session
	}
	return out
}

// checkStreamRoutes is the fake's check of what the C relay relies on:
// StreamRoutes sorted by subscriber, never to itself, never both -1, and
// mindexes in range; KeyframeByMindex never names the session itself.
func (f *fakeGateway) checkStreamRoutes(id SessionID, r Routes) {
	for i, s := range r.Streams {
		if s.Session == id || s.Session == 0 {
			f.violate("session %d: StreamRoute to %d", id, s.Session)
		}
		if i > 0 && r.Streams[i-1].Session >= s.Session {
			f.violate("session %d: StreamRoutes not sorted: %+v", id, r.Streams)
		}
		if s.AudioMindex < 0 && s.VideoMindex < 0 || s.AudioMindex < -1 || s.VideoMindex < -1 || s.AudioMindex == s.VideoMindex {
			f.violate("session %d: bad StreamRoute %+v", id, s)
		}
	}
	if slices.Contains(r.KeyframeByMindex, id) {
		f.violate("session %d: keyframes by mindex from itself: %v", id, r.KeyframeByMindex)
	}
}

// msNegotiator is fakeNegotiator with streams: offers "audio-only..." and
// "video-only..." send one kind, others both; "level" in an offer gives
// audio-level extension 3. Multistream offers spell their lines out,
// "ms:0=audio:a;1=video:-" ("-" inactive), and an answer must be
// "answer:" and the mids joined by ",".
type msNegotiator struct{ fakeNegotiator }

func (msNegotiator) Negotiate(offer string) (Negotiation, error) {
	n, err := fakeNegotiator{}.Negotiate(offer)
	n.Payloads = PayloadMap{AudioFrom: 109, AudioTo: 111, VideoFrom: 126, VideoTo: 107}
	switch {
	case strings.HasPrefix(offer, "audio-only"):
		n.Payloads.VideoFrom, n.Payloads.VideoTo = -1, -1
	case strings.HasPrefix(offer, "video-only"):
		n.Payloads.AudioFrom, n.Payloads.AudioTo = -1, -1
	}
	return n, err
}

func (msNegotiator) StreamOffer(lines []StreamLine) (string, error) {
	parts := make([]string, len(lines))
	for i, l := range lines {
		u := l.User
		if l.Source == "" {
			u = "-"
		} else if l.Source != "suboffer-for:offer-"+l.User && !strings.Contains(l.Source, l.User) {
			return "", fmt.Errorf("line %d: source %q is not %q's", i, l.Source, l.User)
		}
		parts[i] = l.Mid + "=" + l.Kind + ":" + u
	}
	return "ms:" + strings.Join(parts, ";"), nil
}

func (msNegotiator) ValidateStreamAnswer(answer string, mids []string) error {
	if answer != "answer:"+strings.Join(mids, ",") {
		return fmt.Errorf("answer %q does not match %v", answer, mids)
	}
	return nil
}

func (msNegotiator) AudioLevelExtension(answer string) int {
	if strings.Contains(answer, "level") {
		return 3
	}
	return 0
}

func msOptions() Options {
	return Options{Multistream: true, Streams: msNegotiator{}, Negotiator: msNegotiator{}}
}

// offerLines decodes msNegotiator's offer: "0=audio:a", ...
func offerLines(t testing.TB, jsep map[string]any) []string {
	t.Helper()
	if jsep == nil || jsep["type"] != "offer" {
		t.Fatalf("no offer: %v", jsep)
	}
	sdp, _ := jsep["sdp"].(string)
	rest, ok := strings.CutPrefix(sdp, "ms:")
	if !ok {
		t.Fatalf("not a multistream offer: %q", sdp)
	}
	return strings.Split(rest, ";")
}

// answerFor is the answer msNegotiator accepts for an offer.
func answerFor(t testing.TB, jsep map[string]any) string {
	var mids []string
	for _, l := range offerLines(t, jsep) {
		mid, _, _ := strings.Cut(l, "=")
		mids = append(mids, mid)
	}
	return jsepJSON("answer", "answer:"+strings.Join(mids, ","))
}

// streamsSub joins a multistream subscription and returns its handle and
// the join's response.
func (h *harness) streamsSub(room, user string) (SessionID, pushed) {
	h.t.Helper()
	id := h.session()
	p := h.ok(id, joinJSON(room, user, `{"streams":true}`), "")
	return id, p
}

// streamEvents returns the "streams" events (offers) pushed to id.
func (h *harness) streamEvents(id SessionID) []pushed {
	var out []pushed
	for _, p := range h.gw.events(id) {
		if p.Body["event"] == "streams" {
			out = append(out, p)
		}
	}
	return out
}

// waitStreamEvents waits until id has had n "streams" events.
func (h *harness) waitStreamEvents(id SessionID, n int) []pushed {
	h.t.Helper()
	h.s.settle()
	deadline := time.Now().Add(waitFor)
	for {
		evs := h.streamEvents(id)
		if len(evs) >= n {
			if len(evs) > n {
				h.t.Fatalf("session %d: %d streams events, want %d: %v", id, len(evs), n, h.gw.eventBodies(id))
			}
			return evs
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("session %d: %d streams events, want %d: %v", id, len(evs), n, h.gw.eventBodies(id))
		}
		time.Sleep(time.Millisecond)
	}
}

func streamsJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkStreams(t testing.TB, h *harness, id SessionID, want ...StreamRoute) {
	t.Helper()
	h.s.settle()
	if got := h.gw.routesOf(id).Streams; !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Errorf("stream routes of %d = %+v, want %+v", id, got, want)
	}
}

func checkKeyframeByMindex(t testing.TB, h *harness, id SessionID, want ...SessionID) {
	t.Helper()
	if got := h.gw.routesOf(id).KeyframeByMindex; !sameIDs(got, want) {
		t.Errorf("keyframes by mindex of %d = %v, want %v", id, got, want)
	}
}

func TestStreamsRefusals(t *testing.T) {
	h := newHarness(t, Options{Negotiator: msNegotiator{}, Streams: msNegotiator{}}) // a 0.x ABI
	h.publisher("r", "a", true)
	s := h.session()
	h.fail(s, joinJSON("r", "b", `{"streams":true}`), "", ErrStreamsNeed1x)

	h = newHarness(t, msOptions())
	h.publisher("r", "a", true)
	s = h.session()
	h.fail(s, joinJSON("r", "b", `{"streams":true,"media":"a"}`), "", ErrStreamsExclusive)
	h.fail(s, joinJSON("r", "b", `{"streams":true,"data":true}`), "", ErrStreamsExclusive)
	h.fail(s, joinJSON("r", "b", `{"streams":1}`), "", `Malformed join: "subscribe.streams" must be a boolean.`)
	h.fail(s, `{"kind":"configure","streams":[{"mid":"0","send":false}]}`, "", ErrNotStreams)
	c := h.subscriber("r", "c", "a")
	h.fail(c, `{"kind":"configure","streams":[{"mid":"0","send":false}]}`, "", ErrNotStreams)
}

// The token rules of any join apply (the Rust plugin's subscribe skipped
// them).
func TestStreamsAuth(t *testing.T) {
	opts := msOptions()
	opts.Verify = func(token string) (Grant, error) {
		switch token {
		case "r":
			return Grant{JoinHub: true, RoomIDs: []string{"r"}}, nil
		case "bob":
			return Grant{JoinHub: true, UserID: "bob"}, nil
		}
		return Grant{}, errors.New("bad token")
	}
	h := newHarness(t, opts)
	s := h.session()
	h.fail(s, joinJSON("r", "b", `{"streams":true}`), "", ErrAnonymous)
	h.fail(s, `{"kind":"join","room_id":"r","user_id":"b","token":"x","subscribe":{"streams":true}}`, "", ErrInvalidToken)
	h.fail(s, `{"kind":"join","room_id":"r2","user_id":"b","token":"r","subscribe":{"streams":true}}`, "", ErrNoPermission)
	h.fail(s, `{"kind":"join","room_id":"r","user_id":"b","token":"bob","subscribe":{"streams":true}}`, "", ErrNoPermission)
	h.ok(s, `{"kind":"join","room_id":"r","user_id":"bob","token":"bob","subscribe":{"streams":true}}`, "")
	h.fail(s, `{"kind":"join","room_id":"r","user_id":"bob","token":"bob","subscribe":{"streams":true}}`, "", ErrJoinOnce)
}

func TestStreamsJoinAndAnswer(t *testing.T) {
	h := newHarness(t, msOptions())
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	other := h.publisher("r2", "x", true)
	s, p := h.streamsSub("r", "c")
	wantList := `"streams":[{"mid":"0","kind":"audio","user_id":"a","active":true,"paused":false},` +
		`{"mid":"1","kind":"video","user_id":"a","active":true,"paused":false},` +
		`{"mid":"2","kind":"audio","user_id":"b","active":true,"paused":false},` +
		`{"mid":"3","kind":"video","user_id":"b","active":true,"paused":false}]`
	if !strings.Contains(p.RawBody, wantList) {
		t.Errorf("join response %s\nwant %s", p.RawBody, wantList)
	}
	if got := streamsJSON(t, p.Body["response"].(map[string]any)["users"]); got != `{"r":["a","b"]}` {
		t.Errorf("join users %s", got)
	}
	if got := offerLines(t, p.JSEP); !slices.Equal(got, []string{"0=audio:a", "1=video:a", "2=audio:b", "3=video:b"}) {
		t.Errorf("offer %v", got)
	}
	// Nothing is routed before the answer.
	checkStreams(t, h, a)
	checkKeyframeByMindex(t, h, s)
	// A wrong answer changes nothing.
	h.fail(s, "", jsepJSON("answer", "answer:0,1,2"), "Invalid SDP answer: answer \"answer:0,1,2\" does not match [0 1 2 3]")
	h.fail(s, "", jsepJSON("offer", "offer-c"), ErrStreamsTakeAnswers)
	before := len(h.gw.keyframeRequests())
	if r := h.ok(s, "", answerFor(t, p.JSEP)); r.RawBody != `{"success":true}` || r.RawJSEP != "" {
		t.Errorf("answer response %s %s", r.RawBody, r.RawJSEP)
	}
	checkStreams(t, h, a, StreamRoute{Session: s, AudioMindex: 0, VideoMindex: 1})
	checkStreams(t, h, b, StreamRoute{Session: s, AudioMindex: 2, VideoMindex: 3})
	checkStreams(t, h, other)
	checkKeyframeByMindex(t, h, s, a, a, b, b)
	if kf := h.gw.keyframeRequests()[before:]; !sameIDs(kf, ids(a, b)) {
		t.Errorf("keyframes after the answer %v, want a and b", kf)
	}
	// The classic routes are untouched: data between publishers only.
	checkRoutes(t, h.gw, a, Routes{Data: ids(b)})
	h.fail(s, "", answerFor(t, p.JSEP), ErrNoOfferOutstanding)
	// Media up: keyframes from every routed video.
	before = len(h.gw.keyframeRequests())
	h.setupMedia(s)
	if kf := h.gw.keyframeRequests()[before:]; !sameIDs(kf, ids(a, b)) {
		t.Errorf("keyframes at setup_media %v", kf)
	}
	if len(h.streamEvents(s)) != 0 {
		t.Errorf("events %v", h.gw.eventBodies(s))
	}
}

// A room without other publishers: no offer at join; the first one comes
// as an event, after the join's response.
func TestStreamsEmptyRoom(t *testing.T) {
	h := newHarness(t, msOptions())
	h.publisher("r", "c", true) // the subscriber's own publisher: not offered
	s, p := h.streamsSub("r", "c")
	if p.RawJSEP != "" || streamsJSON(t, p.Body["response"].(map[string]any)["streams"]) != "[]" {
		t.Fatalf("join: %s %s", p.RawBody, p.RawJSEP)
	}
	a := h.session()
	h.ok(a, joinJSON("r", "a", `{"notifications":true,"data":true}`), "")
	h.s.settle()
	if n := len(h.streamEvents(s)); n != 0 {
		t.Fatalf("offer before the publisher negotiated: %v", h.gw.eventBodies(s))
	}
	h.offer(a, "audio-only-a")
	ev := h.waitStreamEvents(s, 1)[0]
	if got := offerLines(t, ev.JSEP); !slices.Equal(got, []string{"0=audio:a"}) {
		t.Errorf("offer %v", got)
	}
	if ev.RawBody != `{"event":"streams","streams":[{"mid":"0","kind":"audio","user_id":"a","active":true,"paused":false}]}` {
		t.Errorf("event %s", ev.RawBody)
	}
	// The event follows the join's response.
	pushes := h.gw.allPushes()
	iJoin := slices.IndexFunc(pushes, func(x pushed) bool { return x.ID == s && x.Txn != "" })
	iEv := slices.IndexFunc(pushes, func(x pushed) bool { return x.ID == s && x.Txn == "" })
	if iJoin > iEv {
		t.Errorf("event before the join's response")
	}
	h.ok(s, "", answerFor(t, ev.JSEP))
	checkStreams(t, h, a, StreamRoute{Session: s, AudioMindex: 0, VideoMindex: -1})
}

// Renegotiation: one offer outstanding; changes meanwhile fold into the
// next offer, sent when the answer arrives; lines of a gone publisher go
// inactive and are recycled, by kind, only after the browser saw them
// inactive; nothing is reordered.
func TestStreamsRenegotiation(t *testing.T) {
	h := newHarness(t, msOptions())
	a := h.publisher("r", "a", true)
	s, p := h.streamsSub("r", "c")
	// b and d arrive while the join's offer is unanswered: folded.
	b := h.publisher("r", "b", true)
	d := h.publisher("r", "d", true)
	h.s.settle()
	if n := len(h.streamEvents(s)); n != 0 {
		t.Fatalf("offer while one is outstanding: %v", h.gw.eventBodies(s))
	}
	h.ok(s, "", answerFor(t, p.JSEP))
	ev := h.waitStreamEvents(s, 1)[0]
	if got := offerLines(t, ev.JSEP); !slices.Equal(got, []string{"0=audio:a", "1=video:a", "2=audio:b", "3=video:b", "4=audio:d", "5=video:d"}) {
		t.Fatalf("folded offer %v", got)
	}
	checkStreams(t, h, a, StreamRoute{Session: s, AudioMindex: 0, VideoMindex: 1})
	checkStreams(t, h, b) // not before the answer
	h.ok(s, "", answerFor(t, ev.JSEP))
	checkStreams(t, h, b, StreamRoute{Session: s, AudioMindex: 2, VideoMindex: 3})
	checkStreams(t, h, d, StreamRoute{Session: s, AudioMindex: 4, VideoMindex: 5})

	// b leaves: its lines go inactive at once in the routes, and in the
	// next offer.
	h.destroy(b)
	checkKeyframeByMindex(t, h, s, a, a, 0, 0, d, d)
	ev = h.waitStreamEvents(s, 2)[1]
	if got := offerLines(t, ev.JSEP); !slices.Equal(got, []string{"0=audio:a", "1=video:a", "2=audio:-", "3=video:-", "4=audio:d", "5=video:d"}) {
		t.Fatalf("offer after a leave %v", got)
	}
	if got := streamsJSON(t, ev.Body["streams"].([]any)[2]); got != `{"active":false,"kind":"audio","mid":"2","paused":false,"user_id":""}` {
		t.Errorf("inactive entry %s", got)
	}
	// e arrives before the answer: it gets b's lines in the next offer.
	e := h.publisher("r", "e", true)
	h.ok(s, "", answerFor(t, ev.JSEP))
	ev = h.waitStreamEvents(s, 3)[2]
	if got := offerLines(t, ev.JSEP); !slices.Equal(got, []string{"0=audio:a", "1=video:a", "2=audio:e", "3=video:e", "4=audio:d", "5=video:d"}) {
		t.Fatalf("offer recycling b's lines %v", got)
	}
	h.ok(s, "", answerFor(t, ev.JSEP))
	checkStreams(t, h, e, StreamRoute{Session: s, AudioMindex: 2, VideoMindex: 3})
	checkKeyframeByMindex(t, h, s, a, a, e, e, d, d)

	// d renegotiates without video: its video line goes inactive; a
	// video-only newcomer takes it, an audio-only one gets a new line.
	h.offer(d, "audio-only-d")
	ev = h.waitStreamEvents(s, 4)[3]
	h.ok(s, "", answerFor(t, ev.JSEP))
	checkStreams(t, h, d, StreamRoute{Session: s, AudioMindex: 4, VideoMindex: -1})
	f := h.session()
	h.offer(f, "video-only-f")
	h.ok(f, joinJSON("r", "f", `{"data":true}`), "")
	g := h.session()
	h.offer(g, "audio-only-g")
	h.ok(g, joinJSON("r", "g", `{"data":true}`), "")
	evs := h.waitStreamEvents(s, 5)
	h.ok(s, "", answerFor(t, evs[4].JSEP))
	ev = h.waitStreamEvents(s, 6)[5]
	if got := offerLines(t, ev.JSEP); !slices.Equal(got, []string{"0=audio:a", "1=video:a", "2=audio:e", "3=video:e", "4=audio:d", "5=video:f", "6=audio:g"}) {
		t.Fatalf("offer %v", got)
	}
	h.ok(s, "", answerFor(t, ev.JSEP))
	checkStreams(t, h, f, StreamRoute{Session: s, AudioMindex: -1, VideoMindex: 5})
	checkStreams(t, h, g, StreamRoute{Session: s, AudioMindex: 6, VideoMindex: -1})

	// The subscriber goes: every publisher's route to it goes with it.
	h.destroy(s)
	for _, pub := range []SessionID{a, d, e, f, g} {
		checkStreams(t, h, pub)
	}
}

func TestStreamsPauseResume(t *testing.T) {
	h := newHarness(t, msOptions())
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	s, p := h.streamsSub("r", "c")
	h.ok(s, "", answerFor(t, p.JSEP))
	publishes := h.gw.publishCount()
	r := h.ok(s, `{"kind":"configure","streams":[{"mid":"1","send":false},{"mid":"2","send":false}]}`, "")
	list := r.Body["response"].(map[string]any)["streams"].([]any)
	for i, want := range []bool{false, true, true, false} {
		if list[i].(map[string]any)["paused"] != want {
			t.Errorf("mid %d paused %v", i, list[i])
		}
	}
	checkStreams(t, h, a, StreamRoute{Session: s, AudioMindex: 0, VideoMindex: -1})
	checkStreams(t, h, b, StreamRoute{Session: s, AudioMindex: -1, VideoMindex: 3})
	checkKeyframeByMindex(t, h, s, a, 0, 0, b)
	if h.gw.publishCount() != publishes+1 || len(h.streamEvents(s)) != 0 {
		t.Errorf("pause renegotiated or published %d times", h.gw.publishCount()-publishes)
	}
	// Pausing everything of a publisher removes its route entry (no relay call).
	h.ok(s, `{"kind":"configure","streams":[{"mid":"3","send":false}]}`, "")
	checkStreams(t, h, b)
	// Unknown mids: an error, nothing changed.
	for _, mid := range []string{"4", "-1", "01", "x", ""} {
		h.fail(s, fmt.Sprintf(`{"kind":"configure","streams":[{"mid":"0","send":false},{"mid":%q,"send":true}]}`, mid), "", fmt.Sprintf(ErrUnknownMid, mid))
	}
	h.fail(s, `{"kind":"configure","streams":[{"mid":"0"}]}`, "", `Malformed configure: missing "streams[].send".`)
	h.fail(s, `{"kind":"configure","streams":{}}`, "", `Malformed configure: "streams" must be an array.`)
	h.fail(s, `{"kind":"configure"}`, "", `Malformed configure: missing "streams".`)
	// Resuming a video asks its publisher for a keyframe.
	before := len(h.gw.keyframeRequests())
	h.ok(s, `{"kind":"configure","streams":[{"mid":"1","send":true},{"mid":"2","send":true}]}`, "")
	if kf := h.gw.keyframeRequests()[before:]; !sameIDs(kf, ids(a)) {
		t.Errorf("keyframes on resume %v, want a's", kf)
	}
	checkStreams(t, h, a, StreamRoute{Session: s, AudioMindex: 0, VideoMindex: 1})
	checkStreams(t, h, b, StreamRoute{Session: s, AudioMindex: 2, VideoMindex: -1})
	// A pause is about a stream: a recycled line starts unpaused.
	h.ok(s, `{"kind":"configure","streams":[{"mid":"2","send":false},{"mid":"3","send":false}]}`, "")
	h.destroy(b)
	ev := h.waitStreamEvents(s, 1)[0]
	h.ok(s, "", answerFor(t, ev.JSEP))
	h.publisher("r", "d", true)
	ev = h.waitStreamEvents(s, 2)[1]
	if got := streamsJSON(t, ev.Body["streams"].([]any)[3]); got != `{"active":true,"kind":"video","mid":"3","paused":false,"user_id":"d"}` {
		t.Errorf("recycled entry %s", got)
	}
}

// Blocks apply per stream, both ways, at once in the routes and in the
// next offer; unblocking offers the streams again.
func TestStreamsBlocks(t *testing.T) {
	h := newHarness(t, msOptions())
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	c := h.publisher("r", "c", true)
	sc, p := h.streamsSub("r", "c")
	h.ok(sc, "", answerFor(t, p.JSEP))
	sa, p := h.streamsSub("r", "a")
	h.ok(sa, "", answerFor(t, p.JSEP))
	checkStreams(t, h, a, StreamRoute{Session: sc, AudioMindex: 0, VideoMindex: 1})
	h.ok(c, `{"kind":"block","whom":"a"}`, "")
	checkStreams(t, h, a) // c no longer gets a
	checkStreams(t, h, c) // nor a gets c
	checkStreams(t, h, b, StreamRoute{Session: sc, AudioMindex: 2, VideoMindex: 3}, StreamRoute{Session: sa, AudioMindex: 0, VideoMindex: 1})
	ev := h.waitStreamEvents(sc, 1)[0]
	if got := offerLines(t, ev.JSEP); !slices.Equal(got, []string{"0=audio:-", "1=video:-", "2=audio:b", "3=video:b"}) {
		t.Errorf("blocker's offer %v", got)
	}
	evA := h.waitStreamEvents(sa, 1)[0]
	if got := offerLines(t, evA.JSEP); !slices.Equal(got, []string{"0=audio:b", "1=video:b", "2=audio:-", "3=video:-"}) {
		t.Errorf("blocked's offer %v", got)
	}
	h.ok(sc, "", answerFor(t, ev.JSEP))
	h.ok(sa, "", answerFor(t, evA.JSEP))
	h.ok(c, `{"kind":"unblock","whom":"a"}`, "")
	ev = h.waitStreamEvents(sc, 2)[1]
	if got := offerLines(t, ev.JSEP); !slices.Equal(got, []string{"0=audio:a", "1=video:a", "2=audio:b", "3=video:b"}) {
		t.Errorf("offer after unblock %v", got)
	}
	h.ok(sc, "", answerFor(t, ev.JSEP))
	checkStreams(t, h, a, StreamRoute{Session: sc, AudioMindex: 0, VideoMindex: 1})
}

// Classic and multistream subscribers share a room.
func TestStreamsWithClassic(t *testing.T) {
	h := newHarness(t, msOptions())
	a := h.publisher("r", "a", true)
	classic := h.subscriber("r", "b", "a")
	s, p := h.streamsSub("r", "c")
	h.ok(s, "", answerFor(t, p.JSEP))
	checkRoutes(t, h.gw, a, Routes{RTP: ids(classic)})
	checkStreams(t, h, a, StreamRoute{Session: s, AudioMindex: 0, VideoMindex: 1})
	// A publisher renegotiating: the classic subscriber gets the new
	// classic offer, the multistream one a streams offer.
	h.offer(a, "offer-a-2")
	ev := h.waitStreamEvents(s, 1)[0]
	if got := len(h.gw.events(classic)); got != 1 {
		t.Errorf("classic subscriber events %v", h.gw.eventBodies(classic))
	}
	h.ok(s, "", answerFor(t, ev.JSEP))
	// The same offer again changes no line: no renegotiation.
	h.offer(a, "offer-a-2")
	h.s.settle()
	if n := len(h.streamEvents(s)); n != 1 {
		t.Errorf("%d streams events after an unchanged offer", n)
	}
}

func TestStreamsAudioLevelExtension(t *testing.T) {
	h := newHarness(t, msOptions())
	a := h.session()
	h.offer(a, "offer-level")
	if got := h.gw.audio.extOf(a); got != 3 {
		t.Errorf("audio level extension %d, want 3", got)
	}
	h.offer(a, "offer-plain")
	if got := h.gw.audio.extOf(a); got != 0 {
		t.Errorf("audio level extension after a renegotiation without it: %d", got)
	}
}

func TestTalking(t *testing.T) {
	opts := msOptions()
	opts.Talking = TalkingOptions{Threshold: 25, Window: 20 * time.Millisecond}
	h := newHarness(t, opts)
	a := h.publisher("r", "a", true)
	b := h.publisher("r", "b", true)
	quiet := h.publisher("r", "q", false)
	x := h.publisher("r2", "x", true)
	talkEvents := func(id SessionID) []string {
		var out []string
		for _, p := range h.gw.events(id) {
			if p.Body["event"] == "talking" {
				out = append(out, p.RawBody)
			}
		}
		return out
	}
	waitTalk := func(id SessionID, n int) []string {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for len(talkEvents(id)) < n {
			if time.Now().After(deadline) {
				t.Fatalf("session %d: talking events %v, want %d", id, talkEvents(id), n)
			}
			h.gw.audio.add(a, 10, 0) // keep a known to the ticker
			time.Sleep(2 * time.Millisecond)
		}
		return talkEvents(id)
	}
	// a speaks loudly (10 dBov) for a while.
	stopFeeding := feedLevels(h, map[SessionID]uint64{a: 10, b: 90}) // b: room noise, not talking
	got := waitTalk(b, 1)
	if got[0] != `{"event":"talking","room_id":"r","talking":true,"user_id":"a"}` {
		t.Errorf("talking event %s", got[0])
	}
	stopFeeding()
	// Silence: a window without packets ends the talking.
	got = waitTalk(b, 2)
	if got[1] != `{"event":"talking","room_id":"r","talking":false,"user_id":"a"}` {
		t.Errorf("stopped event %s", got[1])
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(talkEvents(b)); n != 2 {
		t.Errorf("b got %d talking events: %v", n, talkEvents(b))
	}
	if len(talkEvents(a)) != 2 || len(talkEvents(quiet)) != 0 || len(talkEvents(x)) != 0 {
		t.Errorf("talking events: a %v, quiet %v, other room %v", talkEvents(a), talkEvents(quiet), talkEvents(x))
	}
}

func TestTalkingWindow(t *testing.T) {
	for _, c := range []struct {
		sum, packets uint64
		want         bool
	}{{0, 0, false}, {24 * 50, 50, true}, {25 * 50, 50, false}, {127, 1, false}, {0, 1, true}} {
		if got := talking(c.sum, c.packets, 25); got != c.want {
			t.Errorf("talking(%d, %d) = %v", c.sum, c.packets, got)
		}
	}
}

// feedLevels sends each publisher's RFC 6464 level (−dBov, one packet every
// 2 ms) to the fake gateway until the returned stop is called.
func feedLevels(h *harness, levels map[SessionID]uint64) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-time.After(2 * time.Millisecond):
				for id, level := range levels {
					h.gw.audio.add(id, level, 1)
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}

// A multistream subscriber whose PeerConnection hangs up is ended (it
// cannot be offered again on that handle); a classic subscriber stays.
func TestMultistreamHangupEndsHandle(t *testing.T) {
	h := newHarness(t, msOptions())
	a := h.publisher("r", "a", true)
	ms, _ := h.streamsSub("r", "b")
	classic := h.subscriber("r", "c", "a")
	h.hangupMedia(classic)
	h.hangupMedia(a)
	h.s.settle()
	if got := h.gw.endedSessions(); len(got) != 0 {
		t.Fatalf("hangup of a classic subscriber and a publisher ended %v", got)
	}
	h.hangupMedia(ms)
	h.s.settle()
	if got := h.gw.endedSessions(); !slices.Equal(got, []SessionID{ms}) {
		t.Fatalf("hangup of the multistream subscriber ended %v, want [%d]", got, ms)
	}
}
