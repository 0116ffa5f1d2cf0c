package signer_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
)

// memo stores every message in the outbox and remembers the last link and code per recipient,
// so that the benchmark's clients find them without scanning the outbox.
type memo struct {
	out   *ceremony.Outbox
	mu    sync.Mutex
	links map[string]string
	codes map[string]string
}

func (m *memo) SendEmail(ctx context.Context, e ceremony.Email) error {
	if err := m.out.SendEmail(ctx, e); err != nil {
		return err
	}
	if p := (&ceremonytest.Parsed{Text: e.Text}).Link(); p != "" {
		m.mu.Lock()
		m.links[e.To] = p
		m.mu.Unlock()
	}
	return nil
}

func (m *memo) SendSMS(ctx context.Context, s ceremony.SMS) error {
	if err := m.out.SendSMS(ctx, s); err != nil {
		return err
	}
	f := strings.Fields(s.Text)
	for _, w := range f {
		w = strings.TrimRight(w, ".")
		if len(w) == 6 && strings.Trim(w, "0123456789") == "" {
			m.mu.Lock()
			m.codes[s.To] = w
			m.mu.Unlock()
		}
	}
	return nil
}

// benchWorld is the real world with the ledger as the appliance runs it: on disk with
// synchronous writes, checkpoints timestamped by the TSA.
func benchWorld(b *testing.B) (*world, *memo) {
	w := newRealWorld(b)
	w.ledger = ceremonytest.NewDiskLedger(b, w.dir+"/ledger", w.tsa)
	w.base.Ledger = w.ledger.Ceremony()
	m := &memo{out: ceremony.NewOutbox(w.db, w.clock.Now), links: map[string]string{}, codes: map[string]string{}}
	w.base.Notifier = m
	// As the appliance answers: each step's answer waits (up to 1 s) for its receipts, which
	// need the next checkpoint (5 ms apart). PARAPHE_BENCH_NO_RECEIPTS=1 measures the answers
	// without them.
	w.receiptWait = time.Second
	if os.Getenv("PARAPHE_BENCH_NO_RECEIPTS") != "" {
		w.receiptWait = time.Nanosecond
	}
	w.restart()
	return w, m
}

func benchManifest(i int64, docs int) map[string]any {
	var ds []map[string]any
	for d := 0; d < docs; d++ {
		ds = append(ds, map[string]any{"id": fmt.Sprintf("d%d", d), "file": fmt.Sprintf("d%d.pdf", d), "fields": []map[string]any{
			{"id": fmt.Sprintf("f%d", d), "label": "Ville", "signer": "s", "page": 1, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 20}, "required": true}}})
	}
	return map[string]any{"title": "Bench", "signers": []map[string]any{{"id": "s", "name": "Signer Bench", "email": fmt.Sprintf("s%d@bench.test", i),
		"phone": fmt.Sprintf("+336%08d", i), "order": 1}}, "documents": ds}
}

// ceremony runs one complete ceremony through HTTP and returns how long the verify-and-sign
// step took.
func runCeremony(b *testing.B, w *world, m *memo, i int64, docs, pages int) time.Duration {
	files := map[string][]byte{}
	for d := 0; d < docs; d++ {
		files[fmt.Sprintf("d%d.pdf", d)] = ceremonytest.MinimalPDF(pages, fmt.Sprintf("Bench %d", d))
	}
	r := w.upload(benchManifest(i, docs), files)
	if r.Status != http.StatusCreated {
		b.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var v struct{ ID string }
	r.json(b, &v)
	if r := w.api("POST", "/api/v1/envelopes/"+v.ID+"/send", nil); r.Status != http.StatusOK {
		b.Fatalf("send: %d %s", r.Status, r.Body)
	}
	email, phone := fmt.Sprintf("s%d@bench.test", i), fmt.Sprintf("+336%08d", i)
	m.mu.Lock()
	link := m.links[email]
	m.mu.Unlock()
	p := w.party(phone)
	if r := p.open(link); r.Status != http.StatusOK {
		b.Fatalf("open: %d %s", r.Status, r.Body)
	}
	for d := 1; d <= docs; d++ {
		for pg := 1; pg <= pages; pg++ {
			if r := p.readPage(d, pg); r.Status != http.StatusOK {
				b.Fatalf("read: %d %s", r.Status, r.Body)
			}
		}
		if r := p.fill(map[string]string{fmt.Sprintf("f%d", d-1): "Lyon"}); r.Status != http.StatusOK {
			b.Fatalf("fill: %d %s", r.Status, r.Body)
		}
	}
	if r := p.consent(); r.Status != http.StatusOK {
		b.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	m.mu.Lock()
	code := m.codes[phone]
	m.mu.Unlock()
	start := time.Now()
	if r := p.post("/s/api/code/verify", map[string]string{"code": code}); r.Status != http.StatusOK {
		b.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	return time.Since(start)
}

// BenchmarkCeremony: complete ceremonies (one signer, one ten-page document) through the HTTP
// API, with the real CA, TSA, PAdES and ledger, emails and SMS to the outbox; 64 × GOMAXPROCS
// concurrent clients — each step's answer waits for its receipts (a few ms), so fewer clients
// leave the server idle between steps and measure the clients' patience, not its capacity.
// Reports ceremonies/s and CPU per ceremony.
func BenchmarkCeremony(b *testing.B) {
	w, m := benchWorld(b)
	var n atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			runCeremony(b, w, m, n.Add(1), 1, 10)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ceremonies/s")
	// CPU per ceremony (user + system, the whole process: server, clients and ledger) says what
	// the machine could do with its cores to itself; the wall-clock rate also counts waiting
	// for the disk and for the CPU other processes hold.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/ceremony")
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVerifyAndSign: the verify-code-and-sign-everything step for three documents
// (certificate, three B-T signatures, B-LT and B-LTA); reports p50 and p99.
func BenchmarkVerifyAndSign(b *testing.B) {
	w, m := benchWorld(b)
	var ds []time.Duration
	for i := 0; i < b.N; i++ {
		ds = append(ds, runCeremony(b, w, m, int64(i+1), 3, 2))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(f float64) float64 {
		return float64(ds[min(len(ds)-1, int(f*float64(len(ds))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
