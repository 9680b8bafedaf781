package sfu

import (
	"fmt"
	"sync"
	"time"
)

// LogInterval is how often one reason for a refused join or message may be
// logged: a client cannot flood the log, and an operator still sees every
// kind of refusal with a count of the lines held back.
const LogInterval = 10 * time.Second

// rateLog keeps, per reason (one of our constants, never client input),
// when it was last logged and how many lines it held back since.
type rateLog struct {
	mu      sync.Mutex
	every   time.Duration
	now     func() time.Time
	reasons map[string]*rateEntry
}

type rateEntry struct {
	last       time.Time
	suppressed int
}

// allow reports whether a line for reason may go out now, and how many
// were held back before it.
func (r *rateLog) allow(reason string) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.now != nil {
		now = r.now()
	}
	every := r.every
	if every == 0 {
		every = LogInterval
	}
	if r.reasons == nil {
		r.reasons = map[string]*rateEntry{}
	}
	e := r.reasons[reason]
	if e == nil {
		e = &rateEntry{}
		r.reasons[reason] = e
	} else if now.Sub(e.last) < every {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}

// logLimited logs a warning about a refusal, at most once per LogInterval
// per reason. Callers never pass tokens in args.
func (s *Server) logLimited(reason, format string, args ...any) {
	ok, held := s.rlog.allow(reason)
	if !ok {
		return
	}
	line := fmt.Sprintf(format, args...)
	if held > 0 {
		line += fmt.Sprintf(" (%d more %q refusals not logged in the last %v)", held, reason, s.rlogEvery())
	}
	s.log.Warnf("%s", line)
}

func (s *Server) rlogEvery() time.Duration {
	if s.rlog.every == 0 {
		return LogInterval
	}
	return s.rlog.every
}
