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

import (
	"strconv"
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

// The error texts of multistream subscriptions (docs/protocol.md 11.6).
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
	// its way and not answered; stale: the state changed meanwhile.
	outstanding, stale bool
	// routed is the publishers this subscriber currently has a
	// StreamRoute at, with it.
	routed map[SessionID]StreamRoute
}

// planLines assigns the wanted streams to m-lines, starting from the
// lines as last offered and answered: a line keeps its stream while that
// is wanted; a line whose stream is gone becomes inactive (and stays so in
// this offer: the browser must see it inactive before it carries another
// stream, or it would not signal a new track); a new stream takes the
// lowest inactive line of its kind that the browser has already seen
// inactive, else a new line at the end. want is in the order new lines
// are added.
func planLines(prev []msLine, want []msLine) []msLine {
	next := make([]msLine, len(prev), len(prev)+len(want))
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
		if i < len(reusable) {
			reusable[i] = false
			next[i] = l
		} else {
			next = append(next, l)
		}
	}
	return next
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
