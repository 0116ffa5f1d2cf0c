package tsa

import (
	"context"
	"crypto"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/paraphe/paraphe/tsa/tsatest"
)

func TestSNTPQueryMeasuresOffset(t *testing.T) {
	srv := tsatest.StartSNTPServer(t, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := querySNTP(ctx, srv.Addr, systemReadings(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// The local clock is 3 s behind the server: offset ≈ −3 s.
	if d := s.offset + 3*time.Second; abs(d) > 20*time.Millisecond {
		t.Fatalf("offset %v, want −3s", s.offset)
	}
	if s.uncertainty > 20*time.Millisecond || s.stratum != 1 {
		t.Fatalf("uncertainty %v stratum %d", s.uncertainty, s.stratum)
	}
	srv.Leap.Store(ntpLeapAlarm)
	if _, err := querySNTP(ctx, srv.Addr, systemReadings(time.Now())); err == nil || !strings.Contains(err.Error(), "not synchronised") {
		t.Fatalf("unsynchronised server accepted: %v", err)
	}
}

// TestNTPGuard runs the TSA with the default clock against a real SNTP server on loopback and
// moves the server's clock: issuance stops when the offset exceeds the bound and resumes when
// it is back, and Status and the metrics say why.
func TestNTPGuard(t *testing.T) {
	srv := tsatest.StartSNTPServer(t, 100*time.Millisecond)
	reg := prometheus.NewPedanticRegistry()
	ts := newTestTSA(t, func(o *Options) {
		o.NTPServers = []string{srv.Addr}
		o.NTPInterval = time.Second
		o.Registerer = reg
	})
	req := makeRequest(t, crypto.SHA256, make([]byte, 32), nil, false, nil)
	st := ts.Status()
	if !st.Ready || !st.Clock.Trusted || abs(st.Clock.Offset+100*time.Millisecond) > 20*time.Millisecond {
		t.Fatalf("status %+v, want trusted with offset ≈ −100ms", st)
	}
	if got := failInfoOf(t, ts.Respond(context.Background(), req)); got != -1 {
		t.Fatalf("trusted clock: failInfo %v", got)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP paraphe_tsa_clock_trusted 1 when the TSA clock is trusted and tokens are issued, 0 when requests are refused with timeNotAvailable.
# TYPE paraphe_tsa_clock_trusted gauge
paraphe_tsa_clock_trusted 1
`), "paraphe_tsa_clock_trusted"); err != nil {
		t.Fatal(err)
	}

	srv.Ahead.Store(int64(2 * time.Second)) // the local clock is now 2 s slow
	waitFor(t, 5*time.Second, func() bool { return !ts.Status().Clock.Trusted })
	st = ts.Status()
	if st.Ready || st.Clock.Cause != CauseNTPOffset || !strings.Contains(st.Reason, "exceeds") {
		t.Fatalf("status %+v, want refusing for ntp_offset", st)
	}
	if got := failInfoOf(t, ts.Respond(context.Background(), req)); got != TimeNotAvailable {
		t.Fatalf("untrusted clock: failInfo %v, want timeNotAvailable", got)
	}
	if _, err := ts.Timestamp(context.Background(), make([]byte, 32), crypto.SHA256); err == nil {
		t.Fatal("Timestamp issued with an untrusted clock")
	}
	metrics, err := testutil.GatherAndCount(reg, "paraphe_tsa_requests_refused_total")
	if err != nil || metrics == 0 {
		t.Fatalf("refused metric: %d %v", metrics, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP paraphe_tsa_clock_trusted 1 when the TSA clock is trusted and tokens are issued, 0 when requests are refused with timeNotAvailable.
# TYPE paraphe_tsa_clock_trusted gauge
paraphe_tsa_clock_trusted 0
# HELP paraphe_tsa_clock_untrusted 1 for the cause that currently keeps the TSA clock untrusted.
# TYPE paraphe_tsa_clock_untrusted gauge
paraphe_tsa_clock_untrusted{cause="clock_step"} 0
paraphe_tsa_clock_untrusted{cause="ntp_offset"} 1
paraphe_tsa_clock_untrusted{cause="ntp_unreachable"} 0
paraphe_tsa_clock_untrusted{cause="starting"} 0
# HELP paraphe_tsa_requests_refused_total Requests answered with a rejection, by PKIFailureInfo.
# TYPE paraphe_tsa_requests_refused_total counter
paraphe_tsa_requests_refused_total{reason="addInfoNotAvailable"} 0
paraphe_tsa_requests_refused_total{reason="badAlg"} 0
paraphe_tsa_requests_refused_total{reason="badDataFormat"} 0
paraphe_tsa_requests_refused_total{reason="badRequest"} 0
paraphe_tsa_requests_refused_total{reason="systemFailure"} 0
paraphe_tsa_requests_refused_total{reason="timeNotAvailable"} 2
paraphe_tsa_requests_refused_total{reason="unacceptedExtension"} 0
paraphe_tsa_requests_refused_total{reason="unacceptedPolicy"} 0
# HELP paraphe_tsa_tokens_issued_total Time-stamp tokens issued.
# TYPE paraphe_tsa_tokens_issued_total counter
paraphe_tsa_tokens_issued_total 1
`), "paraphe_tsa_clock_trusted", "paraphe_tsa_clock_untrusted", "paraphe_tsa_requests_refused_total", "paraphe_tsa_tokens_issued_total"); err != nil {
		t.Fatal(err)
	}

	srv.Ahead.Store(0)
	waitFor(t, 5*time.Second, func() bool { return ts.Status().Ready })
	if got := failInfoOf(t, ts.Respond(context.Background(), req)); got != -1 {
		t.Fatalf("clock back in bounds: failInfo %v", got)
	}
}

func TestNTPUnreachable(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // nothing answers there
	ts := newTestTSA(t, func(o *Options) { o.NTPServers = []string{addr}; o.NTPInterval = time.Second })
	st := ts.Status()
	if st.Ready || st.Clock.Cause != CauseNTPUnreachable {
		t.Fatalf("status %+v, want ntp_unreachable", st)
	}
	if got := failInfoOf(t, ts.Respond(context.Background(), makeRequest(t, crypto.SHA256, make([]byte, 32), nil, false, nil))); got != TimeNotAvailable {
		t.Fatalf("failInfo %v, want timeNotAvailable", got)
	}
}

// stepReadings is a reading source whose wall clock can be stepped against the monotonic clock.
type stepReadings struct {
	mu     sync.Mutex
	origin time.Time
	shift  time.Duration
}

func (r *stepReadings) read() (time.Time, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	return now.Round(0).Add(r.shift), now.Sub(r.origin)
}

func (r *stepReadings) step(d time.Duration) {
	r.mu.Lock()
	r.shift += d
	r.mu.Unlock()
}

func TestClockStepWithoutNTP(t *testing.T) {
	r := &stepReadings{origin: time.Now()}
	g := newGuardedClock(context.Background(), clockConfig{interval: time.Minute, maxOffset: 500 * time.Millisecond, logger: quietLogger(), read: r.read})
	defer g.close()
	if _, err := g.Now(); err != nil {
		t.Fatal(err)
	}
	r.step(time.Hour) // forward: accepted (nothing to check it against), and rebased
	if _, err := g.Now(); err != nil {
		t.Fatalf("forward step refused: %v", err)
	}
	r.step(-300 * time.Millisecond) // backwards: refused until the wall clock catches up
	_, err := g.Now()
	if err == nil || g.State().Cause != CauseClockStep {
		t.Fatalf("backwards step not detected: %v %+v", err, g.State())
	}
	waitFor(t, 2*time.Second, func() bool { _, err := g.Now(); return err == nil })
	if st := g.State(); !st.Trusted {
		t.Fatalf("still untrusted after catching up: %+v", st)
	}
}

func TestClockStepWithNTP(t *testing.T) {
	srv := tsatest.StartSNTPServer(t, 0)
	r := &stepReadings{origin: time.Now()}
	g := newGuardedClock(context.Background(), clockConfig{servers: []string{srv.Addr}, interval: time.Hour,
		maxOffset: 500 * time.Millisecond, logger: quietLogger(), read: r.read})
	defer g.close()
	if _, err := g.Now(); err != nil {
		t.Fatalf("fresh NTP measurement: %v", err)
	}
	before := srv.Queries.Load()
	r.step(-2 * time.Second)
	_, err := g.Now()
	if err == nil || g.State().Cause != CauseClockStep {
		t.Fatalf("step against NTP base not detected: %v", err)
	}
	// The step triggers a measurement at once (the interval is an hour), which now sees the
	// offset itself.
	waitFor(t, 3*time.Second, func() bool { return srv.Queries.Load() > before && g.State().Cause == CauseNTPOffset })
	r.step(2 * time.Second)
	g.kick <- struct{}{}
	waitFor(t, 3*time.Second, func() bool { return g.State().Trusted })
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFakeClockRefusal(t *testing.T) {
	f := testFixture(t)
	clock := &fakeClock{}
	ts := newTestTSA(t, func(o *Options) { o.Clock = clock })
	req := makeRequest(t, crypto.SHA256, make([]byte, 32), nil, false, nil)
	clock.set(time.Now(), errClock{ClockState{Cause: CauseNTPOffset, Reason: "test"}})
	if got := failInfoOf(t, ts.Respond(context.Background(), req)); got != TimeNotAvailable {
		t.Fatalf("failInfo %v, want timeNotAvailable", got)
	}
	// Outside the TSU certificate's validity the TSA refuses with systemFailure.
	clock.set(f.tsu.NotAfter.Add(time.Minute), nil)
	if got := failInfoOf(t, ts.Respond(context.Background(), req)); got != SystemFailure {
		t.Fatalf("failInfo %v, want systemFailure", got)
	}
}
