package sfu

// SessionID names one Janus handle attached to this plugin. Zero is never a
// valid id.
type SessionID uint64

// Routes is what the relay path of one session needs to know, published by
// the switchboard whenever rooms, subscriptions or blocks change.
type Routes struct {
	// RTP lists the subscribers that receive this session's RTP and plain
	// RTCP (it is a publisher).
	RTP []SessionID
	// Data lists the sessions that receive this session's data-channel
	// messages when DataGroup is 0: a publisher whose user takes part in
	// a block gets a list of its own (the room's other publishers, less
	// the blocked ones).
	Data []SessionID
	// DataGroup, when not 0, sends this session's data-channel messages
	// to every member of the group (its room's publishers) but itself:
	// one list per room, so that a join or leave publishes one list
	// instead of one per member.
	DataGroup GroupID
	// Keyframe lists the publishers that this session subscribes to: its
	// PLI and FIR are turned into keyframe requests to them.
	Keyframe []SessionID
	// Streams lists the multistream subscribers that receive this
	// session's RTP (it is a publisher), each with the m-lines it goes to.
	Streams []StreamRoute
	// KeyframeByMindex is, for a multistream subscriber, the publisher
	// behind each of its m-lines (index = the subscriber's mindex; 0 =
	// none): a PLI or FIR on that m-line is a keyframe request to it.
	KeyframeByMindex []SessionID
}

// StreamRoute sends a publisher's RTP to one multistream subscriber: the
// subscriber's m-line index for the publisher's audio and for its video,
// -1 for none (no such m-line, paused, or blocked).
type StreamRoute struct {
	Session     SessionID
	AudioMindex int
	VideoMindex int
}

// GroupID names a data group: the shared data-channel recipient list of
// one room. Zero is never a valid id.
type GroupID uint64

// GroupUpdate replaces the members of one data group. A group with no
// members that no session's DataGroup names any more is forgotten.
type GroupUpdate struct {
	Group   GroupID
	Members []SessionID
}

// RouteUpdate replaces the routes of one session.
type RouteUpdate struct {
	Session SessionID
	Routes  Routes
}

// Gateway is everything the SFU asks of Janus. cjanus implements it over the
// C callbacks; tests use a fake.
type Gateway interface {
	// PushEvent sends body (a JSON object) and an optional jsep (a JSON
	// object, or nil) to the handle. An empty transaction marks an
	// asynchronous event.
	PushEvent(id SessionID, transaction string, body, jsep []byte) error
	// EndSession asks Janus to tear the handle down (kick).
	EndSession(id SessionID)
	// RequestKeyframe asks a publisher for a keyframe, throttled per
	// publisher.
	RequestKeyframe(id SessionID)
	// SetPayloadMap sets how the relay rewrites a publisher's payload
	// types.
	SetPayloadMap(id SessionID, m PayloadMap)
	// Publish installs new routes for the given sessions and new members
	// for the given data groups and, after every relay in flight has
	// finished, releases the retired sessions. Callers serialise Publish
	// calls.
	Publish(updates []RouteUpdate, groups []GroupUpdate, retire []SessionID)
	// SetAudioLevelExtension tells the relay which RTP header extension id
	// carries a publisher's RFC 6464 audio level (0 = none negotiated).
	SetAudioLevelExtension(id SessionID, extID int)
	// AudioLevel reads a publisher's running audio-level totals: the sum
	// of the levels (dBov, 0 loudest .. 127 silence) and the number of
	// audio packets that carried one. Callers take deltas between reads.
	AudioLevel(id SessionID) (sum, packets uint64, ok bool)
	// EventsEnabled reports whether Janus has event handlers to feed;
	// NotifyEvent is only worth building an event for when it is true.
	EventsEnabled() bool
	// NotifyEvent hands an event (a JSON object) about the handle to
	// Janus's event handlers. It does not block.
	NotifyEvent(id SessionID, event []byte)
}

// Logger receives the plugin's log lines.
type Logger interface {
	Errorf(format string, args ...any)
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
	Verbosef(format string, args ...any)
}
