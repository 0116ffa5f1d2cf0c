package ledger

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

func benchLog(b *testing.B, badger bool) *Log {
	b.Helper()
	st := NewMemoryStorage()
	if badger {
		s := openBadger(b, b.TempDir())
		b.Cleanup(func() { s.Close() })
		st = NewBadgerStorage(s)
	}
	cs := &countingStorage{LogStorage: st.Log}
	st.Log = cs
	l, err := Open(context.Background(), testOptions(b, st, newKeys(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		l.Close()
		if cs.writes > 0 {
			b.ReportMetric(float64(cs.leaves)/float64(cs.writes), "leaves/write")
		}
	})
	return l
}

// appendN appends n events from the given number of goroutines and, if wait, waits for every
// receipt.
func appendN(b *testing.B, l *Log, n, writers int, wait bool) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				p, err := l.Append(ctx, pageRead(b, 1))
				if err == nil && wait {
					_, err = p.Wait(ctx)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkAppend measures durable appends (Append returns once the leaf is committed).
func BenchmarkAppend(b *testing.B) {
	for _, store := range []string{"badger", "memory"} {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", store, writers), func(b *testing.B) {
				l := benchLog(b, store == "badger")
				b.ResetTimer()
				appendN(b, l, b.N, writers, false)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkAppendToReceipt measures Append followed by Wait: durable queueing, sequencing,
// checkpoint publication and the inclusion proof of the receipt.
func BenchmarkAppendToReceipt(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("badger/writers=%d", writers), func(b *testing.B) {
			l := benchLog(b, true)
			b.ResetTimer()
			appendN(b, l, b.N, writers, true)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkProofs measures inclusion and consistency proofs through the HTTP handler on a
// Badger tree of 100k leaves.
func BenchmarkProofs(b *testing.B) {
	const size = 100_000
	l := benchLog(b, true)
	appendN(b, l, size-1, 64, false)
	appendN(b, l, 1, 1, true)
	h := l.Handler()
	cp, _ := l.Checkpoint(context.Background())
	if cp.Size != size {
		b.Fatalf("tree size %d, want %d", cp.Size, size)
	}
	run := func(b *testing.B, path func(i int) string) {
		for i := 0; i < b.N; i++ {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path(i), nil))
			if rec.Code != 200 {
				b.Fatalf("%s: %d %s", path(i), rec.Code, rec.Body)
			}
		}
	}
	b.Run("inclusion", func(b *testing.B) {
		run(b, func(i int) string {
			return fmt.Sprintf("/ledger/proof/inclusion?index=%d&size=%d", (i*7919)%size, size)
		})
	})
	b.Run("consistency", func(b *testing.B) {
		run(b, func(i int) string {
			return fmt.Sprintf("/ledger/proof/consistency?from=%d&to=%d", 1+(i*7919)%(size-1), size)
		})
	})
	b.Run("entries-1000", func(b *testing.B) {
		run(b, func(i int) string {
			s := (i * 1000) % (size - 1000)
			return fmt.Sprintf("/ledger/entries?start=%d&end=%d", s, s+1000)
		})
	})
}
