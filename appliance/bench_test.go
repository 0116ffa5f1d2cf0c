package appliance

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paraphe/paraphe/config"
	"github.com/paraphe/paraphe/ledger/event"
)

// BenchmarkLedgerReceipt measures, in the assembled appliance (its configuration's defaults:
// Badger with synced writes, the in-process TSA timestamping every checkpoint, the configured
// group-commit window and checkpoint interval), the time from Append to a receipt — the leaf
// sequenced, a checkpoint signed and timestamped, the inclusion proof — for events arriving at
// 200 per second in an open loop, as issue 4 asks. Run it with a fixed count, e.g.
//
//	go test -run '^$' -bench LedgerReceipt -benchtime 4000x ./appliance/
//
// (20 s of events per sub-benchmark: the configuration's default checkpoint interval, then 5 ms
// and 100 ms). It reports p50-ms and p99-ms; ns/op is meaningless here.
func BenchmarkLedgerReceipt(b *testing.B) {
	for _, interval := range []string{"default", "5ms", "100ms"} {
		b.Run("checkpoint="+interval, func(b *testing.B) {
			var env []string
			if interval != "default" {
				env = append(env, "PARAPHE_LEDGER_CHECKPOINT_INTERVAL="+interval)
			}
			benchReceipts(b, testConfig(b, b.TempDir(), env...))
		})
	}
}

func benchReceipts(b *testing.B, cfg config.Config) {
	const rate = 200
	a, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler), "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	errs := make(chan error, b.N)
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		wg.Go(func() {
			ev, err := event.New(event.PageRead, time.Now(), "env-bench", "signer-1", map[string]any{"document": "doc-1", "page": i + 1})
			if err != nil {
				errs <- err
				return
			}
			start := time.Now()
			p, err := a.ledger.Append(ctx, ev)
			if err == nil {
				_, err = p.Wait(ctx)
			}
			if err != nil {
				errs <- err
				return
			}
			lat[i] = time.Since(start)
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cfg.Ledger.CheckpointInterval.Microseconds())/1000, "checkpoint-interval-ms")
}
