package tsa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is the TSA's time source together with its judgement of whether that time may be
// written into a token. The TSA calls Now once per token and refuses with timeNotAvailable
// when it returns an error; State feeds Status (for /healthz) and the metrics.
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time, or an error saying why it cannot be trusted within the
	// bound the clock was built for.
	Now() (time.Time, error)
	// State describes the clock's current trust state.
	State() ClockState
}

// Causes of an untrusted clock, as reported in ClockState.Cause and the metrics.
const (
	CauseStarting       = "starting"        // no NTP measurement yet
	CauseNTPUnreachable = "ntp_unreachable" // no NTP server answered for too long
	CauseNTPOffset      = "ntp_offset"      // the measured offset exceeds the bound
	CauseClockStep      = "clock_step"      // the wall clock stepped relative to the monotonic clock
)

// ClockState is a clock's trust state.
type ClockState struct {
	Trusted bool
	// Cause is "" when trusted, otherwise one of the Cause constants.
	Cause string
	// Reason says in words why the clock is not trusted (or, when trusted, how it is checked).
	Reason string
	// Offset is the local clock minus the reference time at the last measurement, corrected
	// for any wall-clock step since; zero when no NTP server is configured.
	Offset time.Duration
	// Uncertainty bounds the error of Offset.
	Uncertainty time.Duration
	// Checked is when the offset was last measured (zero without NTP).
	Checked time.Time
}

// errClock is the error Now returns for an untrusted clock.
type errClock struct{ s ClockState }

func (e errClock) Error() string { return "clock not trusted (" + e.s.Cause + "): " + e.s.Reason }

// stepThreshold is how far the wall clock may move against the monotonic clock before the
// movement counts as a step. Both advance together under NTP slewing; only a step (settimeofday,
// a leap second inserted by stepping) separates them, so this only absorbs read jitter.
const stepThreshold = 20 * time.Millisecond

// guardedClock is the default Clock: the system clock, measured against NTP servers when any
// are configured, and watched for wall-clock steps by comparing it with the monotonic clock.
//
// With servers, the clock is trusted while the last measurement is fresh (younger than three
// intervals) and |offset + step since the measurement| + uncertainty ≤ maxOffset. Without
// servers (development), it is trusted except after a backwards step, until the wall clock has
// caught up with where it was before the step, so genTime never runs backwards.
//
// A leap second that the kernel inserts by stepping the wall clock back one second is such a
// step: without NTP issuance pauses for that second; with NTP it resumes after the
// measurement the step triggers. Leap-smearing NTP servers avoid the pause.
type guardedClock struct {
	servers   []string
	interval  time.Duration
	timeout   time.Duration
	maxOffset time.Duration
	logger    *slog.Logger
	read      func() (time.Time, time.Duration) // wall (no monotonic part) and monotonic since origin

	snap    atomic.Pointer[clockSnapshot]
	mu      sync.Mutex // serialises step handling and measurements
	kick    chan struct{}
	stop    context.CancelFunc
	stopped chan struct{}
}

// clockSnapshot is immutable; the hot path loads it with one atomic read.
type clockSnapshot struct {
	baseWall time.Time     // wall reading paired with baseMono
	baseMono time.Duration //
	measured bool          // an NTP measurement is the base
	offset   time.Duration // at the base
	uncert   time.Duration
	checked  time.Time
	failure  *ClockState // when set, the clock is untrusted for this reason
	holdTill time.Time   // without NTP: untrusted until the wall clock passes this
}

// systemReadings returns one reading of the wall and monotonic clocks.
func systemReadings(origin time.Time) func() (time.Time, time.Duration) {
	return func() (time.Time, time.Duration) {
		t := time.Now()
		return t.Round(0), t.Sub(origin)
	}
}

type clockConfig struct {
	servers   []string
	interval  time.Duration
	maxOffset time.Duration
	logger    *slog.Logger
	read      func() (time.Time, time.Duration)
}

// newGuardedClock builds the clock and, with servers, measures once before returning (bounded
// by the query timeout) and then every interval until Close.
func newGuardedClock(ctx context.Context, c clockConfig) *guardedClock {
	g := &guardedClock{
		servers:   slices.Clone(c.servers),
		interval:  c.interval,
		timeout:   min(c.interval/2, 2*time.Second),
		maxOffset: c.maxOffset,
		logger:    c.logger,
		read:      c.read,
		kick:      make(chan struct{}, 1),
		stopped:   make(chan struct{}),
	}
	if g.read == nil {
		g.read = systemReadings(time.Now())
	}
	wall, mono := g.read()
	s := &clockSnapshot{baseWall: wall, baseMono: mono}
	if len(g.servers) > 0 {
		s.failure = &ClockState{Cause: CauseStarting, Reason: "no NTP measurement yet"}
	}
	g.snap.Store(s)
	if len(g.servers) == 0 {
		g.logger.Warn("TSA clock is NOT checked against any NTP server: tokens carry the host clock unchecked; configure NTP servers outside development",
			"guard", "backwards-step detection only")
		close(g.stopped)
		g.stop = func() {}
		return g
	}
	g.measure(ctx)
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.stop = cancel
	go g.loop(loopCtx)
	return g
}

func (g *guardedClock) loop(ctx context.Context) {
	defer close(g.stopped)
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-g.kick:
		}
		g.measure(ctx)
	}
}

// close stops the measurement loop and waits for it.
func (g *guardedClock) close() {
	g.stop()
	<-g.stopped
}

// measure queries every server (two attempts each, concurrently) and installs the median
// sample as the new base; with no answer it leaves the previous measurement to go stale.
func (g *guardedClock) measure(ctx context.Context) {
	samples := make([]sntpSample, 0, len(g.servers))
	errs := make([]error, 0, len(g.servers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, srv := range g.servers {
		wg.Go(func() {
			var err error
			for range 2 {
				qctx, cancel := context.WithTimeout(ctx, g.timeout)
				var s sntpSample
				s, err = querySNTP(qctx, srv, g.read)
				cancel()
				if err == nil {
					mu.Lock()
					samples = append(samples, s)
					mu.Unlock()
					return
				}
				if ctx.Err() != nil {
					break
				}
			}
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()

	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.snap.Load()
	if len(samples) == 0 {
		g.logger.Error("TSA clock: no NTP server answered", "servers", len(g.servers), "err", errors.Join(errs...))
		if !old.measured {
			next := *old
			next.failure = &ClockState{Cause: CauseNTPUnreachable,
				Reason: fmt.Sprintf("no NTP server answered: %v", errors.Join(errs...))}
			g.snap.Store(&next)
		}
		return
	}
	slices.SortFunc(samples, func(a, b sntpSample) int { return int(a.offset - b.offset) })
	m := samples[len(samples)/2]
	next := &clockSnapshot{baseWall: m.wall, baseMono: m.mono, measured: true, offset: m.offset,
		uncert: m.uncertainty, checked: m.wall}
	if bound := abs(m.offset) + m.uncertainty; bound > g.maxOffset {
		next.failure = &ClockState{Cause: CauseNTPOffset, Offset: m.offset, Uncertainty: m.uncertainty, Checked: m.wall,
			Reason: fmt.Sprintf("offset %v ± %v from NTP (median of %d servers) exceeds %v", m.offset, m.uncertainty, len(samples), g.maxOffset)}
		g.logger.Error("TSA clock: offset from NTP beyond the bound; refusing tokens",
			"offset", m.offset, "uncertainty", m.uncertainty, "max", g.maxOffset, "answered", len(samples))
	} else if old.failure != nil || !old.measured {
		g.logger.Info("TSA clock trusted", "offset", m.offset, "uncertainty", m.uncertainty, "answered", len(samples))
	}
	if len(errs) > 0 {
		g.logger.Warn("TSA clock: some NTP servers did not answer", "answered", len(samples), "failed", len(errs), "err", errors.Join(errs...))
	}
	g.snap.Store(next)
}

// Now implements Clock.
func (g *guardedClock) Now() (time.Time, error) {
	wall, mono := g.read()
	st := g.evaluate(wall, mono)
	if !st.Trusted {
		return time.Time{}, errClock{st}
	}
	return wall, nil
}

// State implements Clock.
func (g *guardedClock) State() ClockState {
	return g.evaluate(g.read())
}

// evaluate judges the readings against the current snapshot, handling a step if one happened.
func (g *guardedClock) evaluate(wall time.Time, mono time.Duration) ClockState {
	s := g.snap.Load()
	drift := wall.Sub(s.baseWall) - (mono - s.baseMono)
	if len(g.servers) == 0 {
		if abs(drift) > stepThreshold {
			s = g.rebase(s, wall, mono, drift)
		}
		if !s.holdTill.IsZero() {
			if wall.Before(s.holdTill) {
				return ClockState{Cause: CauseClockStep, Reason: fmt.Sprintf(
					"wall clock stepped backwards; refusing until it passes %s again", s.holdTill.UTC().Format(time.RFC3339Nano))}
			}
			g.clearHold(s)
		}
		return ClockState{Trusted: true, Reason: "no NTP server configured: host clock unchecked (development)"}
	}
	if s.failure != nil {
		return *s.failure
	}
	st := ClockState{Offset: s.offset + drift, Uncertainty: s.uncert, Checked: s.checked}
	if age := mono - s.baseMono; age > 3*g.interval {
		st.Cause, st.Reason = CauseNTPUnreachable, fmt.Sprintf("last NTP measurement is %v old", age.Round(time.Second))
		return st
	}
	if abs(st.Offset)+st.Uncertainty > g.maxOffset {
		st.Cause = CauseNTPOffset
		if abs(drift) > stepThreshold {
			st.Cause = CauseClockStep
		}
		st.Reason = fmt.Sprintf("estimated offset %v ± %v exceeds %v (wall clock moved %v against the monotonic clock since the NTP measurement)",
			st.Offset, st.Uncertainty, g.maxOffset, drift)
		select {
		case g.kick <- struct{}{}:
		default:
		}
		return st
	}
	st.Trusted = true
	st.Reason = "checked against NTP"
	return st
}

// rebase handles a step without NTP: a backwards step holds issuance until the wall clock is
// back where it was; a forward step is logged and accepted.
func (g *guardedClock) rebase(seen *clockSnapshot, wall time.Time, mono time.Duration, drift time.Duration) *clockSnapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur := g.snap.Load(); cur != seen {
		return cur // another caller handled it
	}
	next := &clockSnapshot{baseWall: wall, baseMono: mono, holdTill: seen.holdTill}
	if drift < 0 {
		expected := seen.baseWall.Add(mono - seen.baseMono) // where the wall clock would be
		if expected.After(next.holdTill) {
			next.holdTill = expected
		}
		g.logger.Error("TSA clock: wall clock stepped backwards; refusing tokens until it catches up",
			"step", drift, "until", next.holdTill)
	} else {
		g.logger.Warn("TSA clock: wall clock stepped forwards (not checkable without NTP)", "step", drift)
	}
	g.snap.Store(next)
	return next
}

func (g *guardedClock) clearHold(seen *clockSnapshot) {
	next := *seen
	next.holdTill = time.Time{}
	if g.snap.CompareAndSwap(seen, &next) {
		g.logger.Info("TSA clock: wall clock caught up after a backwards step; issuing again")
	}
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
