package sfu

import "time"

// Blocks are per user_id and survive a reconnect, as in the Rust plugin,
// but they are bounded (docs/security.md): a blocker holds at most
// Options.MaxBlocksPerUser, only a user that has a handle now or had one
// within Options.BlockExpiry can be blocked, and a block goes once neither
// side has had a handle for BlockExpiry.

// Default bounds, used when the Options fields are 0.
const (
	DefaultMaxBlocksPerUser = 64
	DefaultBlockExpiry      = time.Hour
)

// Errors of the block bounds.
const (
	ErrTooManyBlocks = "Too many blocks; unblock someone first."
	ErrUnknownUser   = "Cannot block a user who is not here."
)

// departure is when a user's last handle went.
type departure struct {
	user string
	at   time.Time
}

// blockIndex keeps what the bounds need next to switchboard.blocks: the
// blocks each user takes part in, and when absent users left (oldest
// first, so expiry is a walk from the front).
type blockIndex struct {
	byUser     map[string]map[string]struct{} // user -> the other side of each block it is in
	byBlocker  map[string]int                 // blocker -> blocks held
	departed   map[string]time.Time           // users without a handle, since
	departures []departure                    // departed in time order (may hold stale entries)
}

func (x *blockIndex) init() {
	x.byUser = map[string]map[string]struct{}{}
	x.byBlocker = map[string]int{}
	x.departed = map[string]time.Time{}
}

func (b *switchboard) present(user string) bool { return len(b.users[user]) > 0 }

// known reports whether user has a handle or had one within expiry.
func (b *switchboard) known(user string, now time.Time, expiry time.Duration) bool {
	if b.present(user) {
		return true
	}
	at, ok := b.idx.departed[user]
	return ok && now.Sub(at) < expiry
}

// addBlock records blocker → whom; false when it already existed.
func (b *switchboard) addBlock(blocker, whom string) bool {
	k := [2]string{blocker, whom}
	if _, ok := b.blocks[k]; ok {
		return false
	}
	b.blocks[k] = struct{}{}
	b.idx.byBlocker[blocker]++
	b.link(blocker, whom)
	b.link(whom, blocker)
	return true
}

func (b *switchboard) link(u, other string) {
	if b.idx.byUser[u] == nil {
		b.idx.byUser[u] = map[string]struct{}{}
	}
	b.idx.byUser[u][other] = struct{}{}
}

// removeBlock lifts blocker → whom.
func (b *switchboard) removeBlock(blocker, whom string) {
	k := [2]string{blocker, whom}
	if _, ok := b.blocks[k]; !ok {
		return
	}
	delete(b.blocks, k)
	if n := b.idx.byBlocker[blocker] - 1; n > 0 {
		b.idx.byBlocker[blocker] = n
	} else {
		delete(b.idx.byBlocker, blocker)
	}
	// The pair stays linked while the other direction exists.
	if _, back := b.blocks[[2]string{whom, blocker}]; !back {
		b.unlink(blocker, whom)
		b.unlink(whom, blocker)
	}
}

func (b *switchboard) unlink(u, other string) {
	delete(b.idx.byUser[u], other)
	if len(b.idx.byUser[u]) == 0 {
		delete(b.idx.byUser, u)
	}
}

// arrived: the user has a handle again.
func (b *switchboard) arrived(user string) { delete(b.idx.departed, user) }

// departedNow: the user's last handle went.
func (b *switchboard) departedNow(user string, now time.Time) {
	b.idx.departed[user] = now
	b.idx.departures = append(b.idx.departures, departure{user, now})
}

// expire forgets users absent for expiry or longer, and the blocks whose
// both sides are such users. Amortised O(1) per departure.
func (b *switchboard) expire(now time.Time, expiry time.Duration) {
	q := b.idx.departures
	i := 0
	for ; i < len(q) && now.Sub(q[i].at) >= expiry; i++ {
		d := q[i]
		if at, ok := b.idx.departed[d.user]; !ok || !at.Equal(d.at) {
			continue // came back (and maybe left again) since
		}
		delete(b.idx.departed, d.user)
		for other := range b.idx.byUser[d.user] {
			if b.known(other, now, expiry) {
				continue // the other side still counts: keep
			}
			b.removeBlock(d.user, other)
			b.removeBlock(other, d.user)
		}
	}
	if i > 0 {
		clear(q[:i])
		b.idx.departures = q[i:]
	}
}
