// Package placement keeps, in Redis, the record of which host serves each
// live room, so that a room served by several Janus hosts behind a load
// balancer never splits: the first join of a room on a host claims a lease
// on the room, a background goroutine renews the host's leases while their
// rooms are live, the lease is deleted when the room empties and expires by
// itself when the host dies.
//
// The rules (docs/deploy.md, "Many hosts"):
//
//   - A join is admitted when this host holds the room's lease or takes it
//     now; it is refused with the owner's URL when another host holds it.
//   - Redis unreachable: rooms already live here keep working; a new room is
//     served locally without a lease. The outage is logged once, and while
//     it lasts no join waits for Redis. When Redis answers again the host
//     renews what it holds and claims what it served locally. A room whose
//     lease another host took after ours ran out is handed back at once
//     through the OnLost callback (the SFU ends its sessions here, and its
//     clients reconnect to the owner); a room served locally whose lease
//     another host still holds a full lease later (so that host is alive
//     and renewing, not a dead host's lease running out) is handed back
//     then. Either way the room is whole again.
package placement

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// KeyPrefix starts every room key: KeyPrefix + room id holds the owner's
// public URL, with the lease as its TTL. Clusters that share one Redis use
// different databases (redis://host:6379/N).
const KeyPrefix = "janus-sfu:room:"

// DefaultLease is the room lease when none is configured: a dead host's
// rooms are free again after at most this long.
const DefaultLease = 10 * time.Second

// DefaultTimeout bounds each Redis call a join waits for. Redis answers on a
// LAN in well under a millisecond; a call that takes longer than this is
// treated as Redis being unreachable.
const DefaultTimeout = 500 * time.Millisecond

// Logger receives the directory's log lines (sfu.Logger satisfies it).
type Logger interface {
	Errorf(format string, args ...any)
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
	Verbosef(format string, args ...any)
}

// Options configure a Directory.
type Options struct {
	// URL is the Redis server: redis://[user:password@]host:port[/db],
	// rediss:// (TLS) or unix:///path.
	URL string
	// Self is this host's URL as clients reach it; it is what another host's
	// refusal names.
	Self string
	// Lease is how long a room stays owned by a host that stops renewing it
	// (a dead host's rooms move after at most this long); DefaultLease when
	// zero. Renewals run every Lease/3.
	Lease time.Duration
	// Timeout bounds each Redis call; DefaultTimeout when zero.
	Timeout time.Duration
	Log     Logger

	renewEvery time.Duration // tests only; 0 = Lease/3
}

// The state of a room in this host's view.
type roomState int

const (
	unclaimed roomState = iota // no lease asked for yet, or released
	held                       // the lease in Redis is ours
	local                      // served here without a lease: Redis was unreachable
	releasing                  // its lease is being deleted
	lost                       // another host owns it; our sessions are being ended
)

type room struct {
	refs  int       // admitted joins not yet released; guarded by Directory.mu
	state roomState // guarded by Directory.mu
	owner string    // when lost: the owner's URL
	// contested is when a renewal first found another host's lease on a
	// room served here without one; guarded by Directory.mu.
	contested time.Time
	// op serialises the Redis calls about this room (claim, release), so
	// that a release cannot delete a lease that a later claim relies on.
	op sync.Mutex
}

// Directory is this host's view of room ownership, backed by Redis. Claim
// and Release are safe for concurrent use.
type Directory struct {
	opts   Options
	client *redis.Client
	log    Logger

	mu     sync.Mutex
	rooms  map[string]*room
	down   bool // Redis unreachable since the last failed call
	closed bool
	onLost func(room, owner string)

	stop chan struct{}
	done chan struct{}
}

// claimScript takes the lease when nobody holds it and extends it when we
// do; it returns the owner either way.
var claimScript = redis.NewScript(`
local owner = redis.call('GET', KEYS[1])
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return owner
`)

// releaseScript deletes the lease only if it is still ours.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// New connects to Redis and starts renewing leases. Redis being unreachable
// is not an error (the host then serves rooms locally until it returns);
// a malformed URL or missing Self is.
func New(opts Options) (*Directory, error) {
	if opts.Self == "" {
		return nil, errors.New("placement: no public URL for this host")
	}
	if opts.Lease == 0 {
		opts.Lease = DefaultLease
	}
	if opts.Lease < time.Second {
		return nil, fmt.Errorf("placement: lease %v is shorter than 1s", opts.Lease)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.renewEvery <= 0 {
		opts.renewEvery = opts.Lease / 3
	}
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("placement: redis URL: %w", err)
	}
	// Fail fast, never retry: the caller has a rule for Redis being away.
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	ro.ContextTimeoutEnabled = true
	ro.MaxRetries = -1
	ro.DialerRetries = 1
	ro.PoolSize = 4
	ro.Protocol = 2
	ro.DisableIdentity = true
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	d := &Directory{
		opts:   opts,
		client: redis.NewClient(ro),
		log:    opts.Log,
		rooms:  map[string]*room{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if d.log == nil {
		d.log = nopLogger{}
	}
	// go-redis logs each failed dial itself; our outage rule logs once.
	redis.SetLogger(verboseLogger{d.log})
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
	err = d.client.Ping(ctx).Err()
	cancel()
	if err != nil {
		d.failed(err)
	} else {
		d.log.Infof("placement: Redis %s reachable; this host is %s, room lease %v", ro.Addr, opts.Self, opts.Lease)
	}
	go d.renewLoop()
	return d, nil
}

// OnLost sets what runs when a room served here turns out to be owned by
// another host (after a Redis outage): the SFU ends the room's sessions.
func (d *Directory) OnLost(f func(room, owner string)) {
	d.mu.Lock()
	d.onLost = f
	d.mu.Unlock()
}

// ErrClosed refuses claims after Close.
var ErrClosed = errors.New("placement: directory closed")

// Claim is called before a session joins room. An empty owner admits the
// join: this host serves the room (it holds the lease, took it now, or
// serves the room locally because Redis is unreachable), and the caller
// owes one Release. A non-empty owner is the URL of the host that serves
// the room; nothing is owed. It waits for Redis at most Options.Timeout,
// and only for the first join of a room on this host.
func (d *Directory) Claim(name string) (owner string, err error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return "", ErrClosed
	}
	r := d.rooms[name]
	if r == nil {
		r = &room{}
		d.rooms[name] = r
	}
	switch r.state {
	case held, local:
		r.refs++
		d.mu.Unlock()
		return "", nil
	case lost:
		owner := r.owner
		d.mu.Unlock()
		return owner, nil
	}
	// Unclaimed or being released: take the reference now so the entry
	// stays, then ask Redis once the room's previous call is over.
	r.refs++
	d.mu.Unlock()

	r.op.Lock()
	defer r.op.Unlock()
	d.mu.Lock()
	switch {
	case r.state == held || r.state == local:
		d.mu.Unlock()
		return "", nil
	case r.state == lost:
		owner := r.owner
		d.unrefLocked(name, r)
		d.mu.Unlock()
		return owner, nil
	case d.down:
		r.state = local
		d.mu.Unlock()
		d.log.Verbosef("placement: room %q served locally (Redis unreachable)", name)
		return "", nil
	}
	d.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
	owner, err = d.claim(ctx, name)
	cancel()
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err != nil:
		r.state = local
		d.failedLocked(err)
		return "", nil
	case owner == d.opts.Self:
		d.recoveredLocked()
		r.state = held
		return "", nil
	default:
		d.recoveredLocked()
		d.unrefLocked(name, r)
		return owner, nil
	}
}

// Release gives back the reference of one admitted join. When the room's
// last one goes, its lease is deleted in the background. It never blocks
// on Redis: it may run on Janus's threads.
func (d *Directory) Release(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.rooms[name]
	if r == nil || r.refs == 0 {
		d.log.Errorf("placement: release of room %q that holds no reference", name)
		return
	}
	r.refs--
	if r.refs > 0 {
		return
	}
	if r.state != held || d.closed {
		delete(d.rooms, name)
		return
	}
	go d.release(name, r)
}

// unrefLocked drops a reference taken by a claim that did not admit.
func (d *Directory) unrefLocked(name string, r *room) {
	r.refs--
	if r.refs == 0 && r.state != held && r.state != releasing && d.rooms[name] == r {
		delete(d.rooms, name)
	}
}

func (d *Directory) release(name string, r *room) {
	r.op.Lock()
	defer r.op.Unlock()
	d.mu.Lock()
	if r.refs > 0 || r.state != held {
		d.mu.Unlock()
		return // joined again meanwhile: keep the lease
	}
	r.state = releasing
	skip := d.down || d.closed
	d.mu.Unlock()
	if !skip {
		// When Redis does not answer, the lease expires by itself.
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
		err := releaseScript.Run(ctx, d.client, []string{KeyPrefix + name}, d.opts.Self).Err()
		cancel()
		d.mu.Lock()
		if err != nil {
			d.failedLocked(err)
		} else {
			d.recoveredLocked()
		}
		d.mu.Unlock()
	}
	d.mu.Lock()
	r.state = unclaimed
	if r.refs == 0 && d.rooms[name] == r {
		delete(d.rooms, name)
	}
	d.mu.Unlock()
}

func (d *Directory) claim(ctx context.Context, name string) (string, error) {
	return claimScript.Run(ctx, d.client, []string{KeyPrefix + name}, d.opts.Self, d.opts.Lease.Milliseconds()).Text()
}

// Owner returns the URL of the host that holds room's lease, "" if none.
func (d *Directory) Owner(ctx context.Context, name string) (string, error) {
	owner, err := d.client.Get(ctx, KeyPrefix+name).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return owner, err
}

func (d *Directory) renewLoop() {
	defer close(d.done)
	t := time.NewTicker(d.opts.renewEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.renew()
		}
	}
}

// renew extends every lease we hold and, after an outage, claims the rooms
// served locally meanwhile; rooms that another host owns are handed to
// OnLost.
func (d *Directory) renew() {
	d.mu.Lock()
	var names []string
	for name, r := range d.rooms {
		if r.state == held || r.state == local {
			names = append(names, name)
		}
	}
	wasDown := d.down
	d.mu.Unlock()

	// One round trip for all rooms; a renewal must finish well within a
	// third of the lease, however many rooms the host has.
	ctx, cancel := context.WithTimeout(context.Background(), max(d.opts.Timeout, d.opts.Lease/6))
	defer cancel()
	if len(names) == 0 {
		if err := d.client.Ping(ctx).Err(); err != nil {
			d.failed(err)
		} else {
			d.recovered()
		}
		return
	}
	pipe := d.client.Pipeline()
	cmds := make([]*redis.Cmd, len(names))
	for i, name := range names {
		cmds[i] = claimScript.Eval(ctx, pipe, []string{KeyPrefix + name}, d.opts.Self, d.opts.Lease.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		d.failed(err)
		return
	}
	type loss struct{ name, owner string }
	var losses []loss
	claimed := 0
	now := time.Now()
	d.mu.Lock()
	d.recoveredLocked()
	for i, name := range names {
		owner, err := cmds[i].Text()
		r := d.rooms[name]
		if err != nil || r == nil {
			continue
		}
		switch {
		case owner == d.opts.Self && r.state == local:
			r.state, r.contested = held, time.Time{}
			claimed++
		case owner == d.opts.Self && r.state == releasing:
			// Renewed while being released: the release deletes it after.
		case owner != d.opts.Self && r.state == local && (r.contested.IsZero() || now.Sub(r.contested) < d.opts.Lease):
			// Perhaps a dead host's lease running out: wait a lease.
			if r.contested.IsZero() {
				r.contested = now
			}
		case owner != d.opts.Self && (r.state == held || r.state == local):
			r.state, r.owner = lost, owner
			losses = append(losses, loss{name, owner})
		}
	}
	onLost := d.onLost
	d.mu.Unlock()
	if wasDown || claimed > 0 {
		d.log.Infof("placement: %d rooms confirmed in Redis, %d owned by other hosts", claimed, len(losses))
	}
	for _, l := range losses {
		d.log.Warnf("placement: room %q is owned by %s: ending its sessions here so its clients move there", l.name, l.owner)
		if onLost != nil {
			onLost(l.name, l.owner)
		}
	}
}

// failed notes a Redis error; the first of an outage is logged.
func (d *Directory) failed(err error) {
	d.mu.Lock()
	d.failedLocked(err)
	d.mu.Unlock()
}

func (d *Directory) failedLocked(err error) {
	if d.down || d.closed {
		return
	}
	d.down = true
	d.log.Warnf("placement: Redis unreachable (%v): serving new rooms locally until it returns", err)
}

func (d *Directory) recovered() {
	d.mu.Lock()
	d.recoveredLocked()
	d.mu.Unlock()
}

func (d *Directory) recoveredLocked() {
	if !d.down {
		return
	}
	d.down = false
	d.log.Infof("placement: Redis reachable again")
}

// Close stops renewing, deletes the leases this host holds (so its rooms
// can move at once, not after a lease) and disconnects. It waits at most
// Options.Timeout for Redis.
func (d *Directory) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	var names []string
	for name, r := range d.rooms {
		if r.state == held {
			names = append(names, name)
		}
	}
	down := d.down
	d.mu.Unlock()
	close(d.stop)
	<-d.done
	if len(names) > 0 && !down {
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
		pipe := d.client.Pipeline()
		for _, name := range names {
			releaseScript.Eval(ctx, pipe, []string{KeyPrefix + name}, d.opts.Self)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			d.log.Warnf("placement: releasing %d leases at shutdown: %v (they expire by themselves)", len(names), err)
		}
		cancel()
	}
	_ = d.client.Close()
}

// verboseLogger gives go-redis's own log lines the verbose level.
type verboseLogger struct{ log Logger }

func (l verboseLogger) Printf(_ context.Context, format string, args ...any) {
	l.log.Verbosef("placement: "+format, args...)
}

type nopLogger struct{}

func (nopLogger) Errorf(string, ...any)   {}
func (nopLogger) Warnf(string, ...any)    {}
func (nopLogger) Infof(string, ...any)    {}
func (nopLogger) Verbosef(string, ...any) {}
