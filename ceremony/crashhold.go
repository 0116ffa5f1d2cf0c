package ceremony

import (
	"fmt"
	"os"
)

// CrashHoldEnv names the environment variable of a fault-injection hook used only by
// internal/crashtest: when it is set, the process stops for good (until it is killed) the first
// time it reaches the named point, after writing "crashtest: holding at POINT" to standard
// error, so that the test can SIGKILL it at a known step. The points are:
//   - written:TYPE: a step recording an event of type TYPE wrote its state, before the append;
//   - appended:TYPE: the same, after the events were appended to the ledger;
//   - finalize: B-LT and B-LTA were added to the envelope's first document, not yet recorded.
//
// Unset (always, outside that test), it does nothing. New reads it once.
const CrashHoldEnv = "CRASHTEST_HOLD"

func (s *Service) crashHold(point string) {
	if s.holdAt == "" || point != s.holdAt {
		return
	}
	fmt.Fprintf(os.Stderr, "crashtest: holding at %s\n", point)
	select {}
}

func (s *Service) crashHoldEvents(when string, evs []Event) {
	if s.holdAt == "" {
		return
	}
	for _, ev := range evs {
		s.crashHold(when + ":" + ev.Type)
	}
}
