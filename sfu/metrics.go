package sfu

import (
	"maps"
	"sync"
)

// Reasons a join is refused, as counted in the admin API's stats
// ("rejected_joins") and named in the logs.
const (
	RejectRoomFull     = "room_full"
	RejectServerFull   = "server_full"
	RejectAnonymous    = "anonymous"
	RejectInvalidToken = "invalid_token"
	RejectNoPermission = "no_permission"
	RejectJoinOnce     = "join_once"
	RejectNoPublisher  = "no_publisher"
	RejectNoOffer      = "no_offer"      // the publisher has not negotiated yet
	RejectUserMismatch = "user_mismatch" // user_id differs from the token's user_id claim
	// Caps per identity (docs/security.md).
	RejectUserPublishers  = "user_publishers"  // max_publishers_per_user
	RejectUserRooms       = "user_rooms"       // max_rooms_per_user
	RejectUserSubscribers = "user_subscribers" // subscriber_slack
	RejectBadSecret       = "bad_secret"       // reconnect_secret matches no handle
)

// Kinds of failed messages, counted in stats ("errors").
const (
	ErrorBadMessage = "bad_message" // malformed body
	ErrorBadJSEP    = "bad_jsep"    // malformed jsep or refused SDP
	ErrorRefused    = "refused"     // a well-formed request the rules refuse
	ErrorBusy       = "busy"        // queue full or too many in flight
	ErrorInternal   = "internal"    // our fault
)

// metrics are the server's event counters. The relay counters live in C
// and are read per session.
type metrics struct {
	mu       sync.Mutex
	rejected map[string]uint64
	errors   map[string]uint64
}

func (m *metrics) rejectJoin(reason string) {
	m.mu.Lock()
	if m.rejected == nil {
		m.rejected = map[string]uint64{}
	}
	m.rejected[reason]++
	m.mu.Unlock()
}

func (m *metrics) countError(kind string) {
	m.mu.Lock()
	if m.errors == nil {
		m.errors = map[string]uint64{}
	}
	m.errors[kind]++
	m.mu.Unlock()
}

// snapshot copies the counters.
func (m *metrics) snapshot() (rejected, errors map[string]uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.rejected), maps.Clone(m.errors)
}
