// Command ledgerbench measures Trillian storage backends side by side with one harness: Paraphe's
// Badger backend (ledger/badgerstore) and Trillian's own PostgreSQL storage. Each run is one
// process that measures one figure on a fresh store and prints one JSON line; -mode report
// prints a side-by-side table of such lines. scripts/bench.d/ledger.sh drives it.
//
// Both backends get the same group commit in front (concurrent appends are coalesced into one
// QueueLeaves call by a single committer goroutine; an append is acknowledged only after that
// call returns), the same leaves (512-byte values, unique identity hashes) and Trillian's own
// sequencer (log.IntegrateBatch).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/trillian"
	"github.com/google/trillian/extension"
	tlog "github.com/google/trillian/log"
	"github.com/google/trillian/monitoring"
	"github.com/google/trillian/quota"
	"github.com/google/trillian/server"
	"github.com/google/trillian/storage"
	"github.com/google/trillian/storage/postgresql"
	"github.com/google/trillian/types"
	"github.com/google/trillian/util/clock"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/paraphe/paraphe/ledger/badgerstore"
)

type config struct {
	backend, mode, dir, pgURI, pgData, label, in, cpuProfile      string
	writers, rate, n                                              int
	dur, warm, maxDur, window                                     time.Duration
	proofs, memtableMB, committers, numMemtables, l0Stall, vlogMB int
}

func main() {
	var c config
	flag.StringVar(&c.backend, "backend", "badger", "badger or pg")
	flag.StringVar(&c.mode, "mode", "append", "append, seq, latency, proof or report")
	flag.StringVar(&c.dir, "dir", "", "Badger directory (fresh)")
	flag.StringVar(&c.pgURI, "pg", "", "PostgreSQL URI (database with Trillian's schema)")
	flag.StringVar(&c.pgData, "pgdata", "", "PostgreSQL data directory (to find its processes for I/O accounting)")
	flag.StringVar(&c.label, "label", "", "label of the result line")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile")
	flag.StringVar(&c.in, "in", "", "report: JSON lines file")
	flag.IntVar(&c.writers, "writers", 1, "append: concurrent writers")
	flag.IntVar(&c.rate, "rate", 200, "latency: events per second")
	flag.IntVar(&c.n, "n", 20000, "seq: backlog; proof: tree size")
	flag.IntVar(&c.committers, "committers", 1, "group commit: concurrent committers (each writes one QueueLeaves call at a time)")
	flag.IntVar(&c.vlogMB, "vlog", 0, "Badger: value log file size in MiB (0: the store's default)")
	flag.IntVar(&c.numMemtables, "memtables", 0, "Badger: number of memtables (0: the store's default)")
	flag.IntVar(&c.l0Stall, "l0stall", 0, "Badger: level-0 tables before writes stall (0: the store's default)")
	flag.IntVar(&c.memtableMB, "memtable", 0, "Badger: memtable size in MiB (0: the store's default)")
	flag.IntVar(&c.proofs, "proofs", 2000, "proof: timed proofs")
	flag.DurationVar(&c.dur, "dur", 10*time.Second, "measured window")
	flag.DurationVar(&c.warm, "warm", time.Second, "untimed warm-up")
	flag.DurationVar(&c.window, "window", time.Millisecond, "group commit: longest wait for more appends after the first")
	flag.DurationVar(&c.maxDur, "max", 10*time.Minute, "hard bound of a run")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if c.mode == "report" {
		if err := report(c.in, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "ledgerbench:", err)
			os.Exit(1)
		}
		return
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ledgerbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.maxDur)
	defer cancel()
	res, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ledgerbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	res["backend"], res["mode"], res["label"], res["when"] = c.backend, c.mode, c.label, time.Now().UTC().Format(time.RFC3339)
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

// backend is one storage under test.
type backend struct {
	ls    storage.LogStorage
	as    storage.AdminStorage
	close func()
	pids  func() []int // other processes doing this backend's I/O
}

func openBackend(ctx context.Context, c config) (*backend, error) {
	switch c.backend {
	case "badger":
		var o badgerstore.Options
		o.Badger = func(bo badger.Options) badger.Options {
			if c.memtableMB > 0 {
				bo = bo.WithMemTableSize(int64(c.memtableMB) << 20)
			}
			if c.vlogMB > 0 {
				bo = bo.WithValueLogFileSize(int64(c.vlogMB) << 20)
			}
			if c.numMemtables > 0 {
				bo = bo.WithNumMemtables(c.numMemtables)
			}
			if c.l0Stall > 0 {
				bo = bo.WithNumLevelZeroTables(c.l0Stall / 2).WithNumLevelZeroTablesStall(c.l0Stall)
			}
			return bo
		}
		s, err := badgerstore.Open(ctx, c.dir, o)
		if err != nil {
			return nil, err
		}
		return &backend{ls: s.LogStorage(), as: s.AdminStorage(), close: func() { s.Close() }, pids: func() []int { return nil }}, nil
	case "pg":
		pool, err := postgresql.OpenDB(c.pgURI)
		if err != nil {
			return nil, err
		}
		for _, q := range []string{
			"TRUNCATE Trees, TreeControl, Subtree, TreeHead, LeafData, SequencedLeafData, Unsequenced CASCADE",
			"CHECKPOINT",
		} {
			if _, err := pool.Exec(ctx, q); err != nil {
				return nil, fmt.Errorf("%s: %w", q, err)
			}
		}
		return &backend{
			ls:    postgresql.NewLogStorage(pool, monitoring.InertMetricFactory{}),
			as:    postgresql.NewAdminStorage(pool),
			close: pool.Close,
			pids:  func() []int { return pgPIDs(c.pgData) },
		}, nil
	}
	return nil, fmt.Errorf("unknown backend %q", c.backend)
}

func pgAnalyze(ctx context.Context, c config) error {
	if c.backend != "pg" {
		return nil
	}
	pool, err := pgxpool.New(ctx, c.pgURI)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, "VACUUM ANALYZE")
	return err
}

func newTree(ctx context.Context, b *backend) (*trillian.Tree, error) {
	tree, err := storage.CreateTree(ctx, b.as, &trillian.Tree{
		TreeState: trillian.TreeState_ACTIVE, TreeType: trillian.TreeType_LOG,
		DisplayName: "bench", MaxRootDuration: durationpb.New(time.Hour),
	})
	if err != nil {
		return nil, err
	}
	root, err := (&types.LogRootV1{RootHash: rfc6962.DefaultHasher.EmptyRoot(), TimestampNanos: uint64(time.Now().UnixNano())}).MarshalBinary()
	if err != nil {
		return nil, err
	}
	return tree, b.ls.ReadWriteTransaction(ctx, tree, func(ctx context.Context, tx storage.LogTreeTX) error {
		return tx.StoreSignedLogRoot(ctx, &trillian.SignedLogRoot{LogRoot: root})
	})
}

var pad = strings.Repeat("paraphe-ledger-event-", 30)

// newLeaf returns a unique 512-byte leaf.
func newLeaf(run string, w, i int) *trillian.LogLeaf {
	v := fmt.Sprintf("ev|%s|w%d|i%d|%s", run, w, i, pad)[:512]
	id := sha256.Sum256([]byte(v))
	return &trillian.LogLeaf{LeafValue: []byte(v), LeafIdentityHash: id[:], MerkleLeafHash: rfc6962.DefaultHasher.HashLeaf([]byte(v))}
}

// committer is the group commit: one goroutine takes every pending append, writes them with
// one QueueLeaves call and acknowledges each after it returns.
type committer struct {
	ls        storage.LogStorage
	tree      *trillian.Tree
	ch        chan *appendReq
	next      atomic.Int64 // queue position of the next leaf (exact with one committer, which the latency mode uses)
	batches   atomic.Int64
	leaves    atomic.Int64
	notify    func()
	window    time.Duration
	lastGroup atomic.Int64
}

type appendReq struct {
	leaf *trillian.LogLeaf
	pos  int64
	done chan error
}

const maxGroup = 4096

func (c *committer) run(ctx context.Context) {
	for {
		var first *appendReq
		select {
		case <-ctx.Done():
			return
		case first = <-c.ch:
		}
		batch := []*appendReq{first}
		// Take what is already waiting; then, if the previous group was larger, wait up to
		// window for as many callers as it had (they are re-appending after their ack). A lone
		// caller is never delayed.
		deadline := time.Now().Add(c.window)
		var timer <-chan time.Time
	gather:
		for len(batch) < maxGroup {
			select {
			case r := <-c.ch:
				batch = append(batch, r)
				continue
			default:
			}
			if int64(len(batch)) >= c.lastGroup.Load() || c.window <= 0 {
				break
			}
			if timer == nil {
				timer = time.After(time.Until(deadline))
			}
			select {
			case r := <-c.ch:
				batch = append(batch, r)
			case <-timer:
				break gather
			}
		}
		c.lastGroup.Store(int64(len(batch)))
		leaves := make([]*trillian.LogLeaf, len(batch))
		for i, r := range batch {
			leaves[i] = r.leaf
		}
		_, err := c.ls.QueueLeaves(ctx, c.tree, leaves, time.Now())
		c.batches.Add(1)
		c.leaves.Add(int64(len(batch)))
		next := c.next.Add(int64(len(batch))) - int64(len(batch))
		for i, r := range batch {
			r.pos = next + int64(i)
			r.done <- err
		}
		if c.notify != nil {
			c.notify()
		}
	}
}

func (c *committer) append(ctx context.Context, leaf *trillian.LogLeaf) (int64, error) {
	r := &appendReq{leaf: leaf, done: make(chan error, 1)}
	select {
	case c.ch <- r:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case err := <-r.done:
		return r.pos, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func run(ctx context.Context, c config) (map[string]any, error) {
	b, err := openBackend(ctx, c)
	if err != nil {
		return nil, err
	}
	defer b.close()
	tree, err := newTree(ctx, b)
	if err != nil {
		return nil, err
	}
	tlog.InitMetrics(nil)
	switch c.mode {
	case "append":
		return runAppend(ctx, c, b, tree)
	case "seq":
		return runSeq(ctx, c, b, tree)
	case "latency":
		return runLatency(ctx, c, b, tree)
	case "proof":
		return runProof(ctx, c, b, tree)
	}
	return nil, fmt.Errorf("unknown mode %q", c.mode)
}

// runAppend: W writers append in a closed loop through the group commit.
func runAppend(ctx context.Context, c config, b *backend, tree *trillian.Tree) (map[string]any, error) {
	cm := &committer{ls: b.ls, tree: tree, ch: make(chan *appendReq, maxGroup), window: c.window}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	for range c.committers {
		go cm.run(cctx)
	}
	var counting atomic.Bool
	var count atomic.Int64
	lat := make([][]time.Duration, c.writers)
	deadline := time.Now().Add(c.warm + c.dur)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := range c.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if _, err := cm.append(cctx, newLeaf(c.label, w, i)); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if counting.Load() {
					count.Add(1)
					lat[w] = append(lat[w], time.Since(t0))
				}
			}
		}()
	}
	time.Sleep(c.warm)
	io0 := readIO(b.pids())
	b0, l0 := cm.batches.Load(), cm.leaves.Load()
	counting.Store(true)
	t0 := time.Now()
	time.Sleep(c.dur)
	counting.Store(false)
	el := time.Since(t0)
	io1 := readIO(b.pids())
	b1, l1 := cm.batches.Load(), cm.leaves.Load()
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nil, err
	}
	n := count.Load()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return map[string]any{
		"writers":           c.writers,
		"events":            n,
		"events_per_s":      float64(n) / el.Seconds(),
		"mean_group":        float64(l1-l0) / float64(max(b1-b0, 1)),
		"ack_ms":            percentiles(all),
		"proc_write_bytes":  io1.proc - io0.proc,
		"disk_write_bytes":  io1.disk - io0.disk,
		"proc_bytes_per_ev": float64(io1.proc-io0.proc) / float64(max(l1-l0, 1)),
		"disk_bytes_per_ev": float64(io1.disk-io0.disk) / float64(max(l1-l0, 1)),
		"leaves_in_window":  l1 - l0,
		"elapsed_s":         el.Seconds(),
	}, nil
}

// prefill queues n leaves with QueueLeaves of 1000 (untimed).
func prefill(ctx context.Context, b *backend, tree *trillian.Tree, run string, from, n int) error {
	for i := from; i < from+n; i += 1000 {
		batch := make([]*trillian.LogLeaf, 0, 1000)
		for j := i; j < min(i+1000, from+n); j++ {
			batch = append(batch, newLeaf(run, 0, j))
		}
		if _, err := b.ls.QueueLeaves(ctx, tree, batch, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

func integrateAll(ctx context.Context, b *backend, tree *trillian.Tree) (int, []time.Duration, error) {
	total := 0
	var passes []time.Duration
	for {
		t0 := time.Now()
		n, err := tlog.IntegrateBatch(ctx, tree, 1000, 0, time.Hour, clock.System, b.ls, quota.Noop())
		if err != nil {
			return total, passes, err
		}
		if n == 0 {
			return total, passes, nil
		}
		passes = append(passes, time.Since(t0))
		total += n
	}
}

// runSeq: sequencing throughput over a backlog of n queued leaves.
func runSeq(ctx context.Context, c config, b *backend, tree *trillian.Tree) (map[string]any, error) {
	if err := prefill(ctx, b, tree, c.label, 0, c.n); err != nil {
		return nil, err
	}
	if err := pgAnalyze(ctx, c); err != nil {
		return nil, err
	}
	t0 := time.Now()
	total, passes, err := integrateAll(ctx, b, tree)
	if err != nil {
		return nil, err
	}
	el := time.Since(t0)
	if total != c.n {
		return nil, fmt.Errorf("integrated %d leaves, want %d", total, c.n)
	}
	first, last := passes[:min(10, len(passes))], passes[max(0, len(passes)-10):]
	return map[string]any{
		"backlog": c.n, "leaves_per_s": float64(total) / el.Seconds(), "elapsed_s": el.Seconds(),
		"pass_ms": percentiles(passes), "first10_pass_ms": percentiles(first), "last10_pass_ms": percentiles(last),
	}, nil
}

// runLatency: an open loop of rate events/s, each appended through the group commit; a tight
// sequencer loop integrates; latency is from the append call to the event being integrated.
func runLatency(ctx context.Context, c config, b *backend, tree *trillian.Tree) (map[string]any, error) {
	var integrated atomic.Int64
	var mu sync.Mutex
	tick := make(chan struct{})
	wake := make(chan struct{}, 1)
	cm := &committer{ls: b.ls, tree: tree, ch: make(chan *appendReq, maxGroup), window: c.window, notify: func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go cm.run(cctx)
	seqErr := make(chan error, 1)
	seqDone := make(chan struct{})
	defer func() { stop(); <-seqDone }() // the sequencer must stop before the store closes
	go func() {
		defer close(seqDone)
		for cctx.Err() == nil {
			n, err := tlog.IntegrateBatch(cctx, tree, 1000, 0, time.Hour, clock.System, b.ls, quota.Noop())
			if err != nil {
				if cctx.Err() == nil {
					seqErr <- err
				}
				return
			}
			if n > 0 {
				integrated.Add(int64(n))
				mu.Lock()
				close(tick)
				tick = make(chan struct{})
				mu.Unlock()
				continue
			}
			select {
			case <-wake:
			case <-time.After(5 * time.Millisecond):
			case <-cctx.Done():
			}
		}
	}()
	total := int((c.warm + c.dur).Seconds() * float64(c.rate))
	skip := int(c.warm.Seconds() * float64(c.rate))
	lats := make([]time.Duration, total)
	errs := make(chan error, total)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(c.rate))))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			pos, err := cm.append(cctx, newLeaf(c.label, 0, i))
			if err != nil {
				errs <- err
				return
			}
			for {
				mu.Lock()
				ch := tick
				mu.Unlock()
				if integrated.Load() > pos {
					break
				}
				select {
				case <-ch:
				case <-cctx.Done():
					errs <- cctx.Err()
					return
				}
			}
			lats[i] = time.Since(t0)
		}()
	}
	wg.Wait()
	select {
	case err := <-seqErr:
		return nil, err
	case err := <-errs:
		return nil, err
	default:
	}
	return map[string]any{"rate": c.rate, "events": total - skip, "append_to_integrated_ms": percentiles(lats[skip:])}, nil
}

// runProof: build a tree of n leaves, then time inclusion proofs through Trillian's log server.
func runProof(ctx context.Context, c config, b *backend, tree *trillian.Tree) (map[string]any, error) {
	t0 := time.Now()
	for done := 0; done < c.n; {
		k := min(10000, c.n-done)
		if err := prefill(ctx, b, tree, c.label, done, k); err != nil {
			return nil, err
		}
		got, _, err := integrateAll(ctx, b, tree)
		if err != nil {
			return nil, err
		}
		if got != k {
			return nil, fmt.Errorf("integrated %d leaves, want %d", got, k)
		}
		done += k
	}
	build := time.Since(t0)
	if err := pgAnalyze(ctx, c); err != nil {
		return nil, err
	}
	reg := extension.Registry{AdminStorage: b.as, LogStorage: b.ls, QuotaManager: quota.Noop(), MetricFactory: monitoring.InertMetricFactory{}}
	srv := server.NewTrillianLogRPCServer(reg, clock.System)
	rootResp, err := srv.GetLatestSignedLogRoot(ctx, &trillian.GetLatestSignedLogRootRequest{LogId: tree.TreeId})
	if err != nil {
		return nil, err
	}
	var root types.LogRootV1
	if err := root.UnmarshalBinary(rootResp.SignedLogRoot.LogRoot); err != nil {
		return nil, err
	}
	size := int64(root.TreeSize)
	if size != int64(c.n) {
		return nil, fmt.Errorf("tree size %d, want %d", size, c.n)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	verified := 0
	one := func(timed bool) (time.Duration, error) {
		idx := rng.Int64N(size)
		t := time.Now()
		resp, err := srv.GetInclusionProof(ctx, &trillian.GetInclusionProofRequest{LogId: tree.TreeId, LeafIndex: idx, TreeSize: size})
		d := time.Since(t)
		if err != nil {
			return 0, err
		}
		if !timed && verified < 200 {
			lr, err := srv.GetLeavesByRange(ctx, &trillian.GetLeavesByRangeRequest{LogId: tree.TreeId, StartIndex: idx, Count: 1})
			if err != nil || len(lr.Leaves) != 1 {
				return 0, fmt.Errorf("GetLeavesByRange(%d): %v", idx, err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(idx), uint64(size), lr.Leaves[0].MerkleLeafHash, resp.Proof.Hashes, root.RootHash); err != nil {
				return 0, fmt.Errorf("proof for %d does not verify: %w", idx, err)
			}
			verified++
		}
		return d, nil
	}
	for range 200 {
		if _, err := one(false); err != nil {
			return nil, err
		}
	}
	lats := make([]time.Duration, 0, c.proofs)
	for range c.proofs {
		d, err := one(true)
		if err != nil {
			return nil, err
		}
		lats = append(lats, d)
	}
	return map[string]any{"tree_size": size, "build_s": build.Seconds(), "build_leaves_per_s": float64(c.n) / build.Seconds(),
		"proofs": len(lats), "verified": verified, "proof_ms": percentiles(lats)}, nil
}

func percentiles(d []time.Duration) map[string]float64 {
	if len(d) == 0 {
		return nil
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	p := func(q float64) float64 { return float64(s[min(len(s)-1, int(q*float64(len(s))))]) / 1e6 }
	return map[string]float64{"p50": p(0.50), "p90": p(0.90), "p99": p(0.99), "max": float64(s[len(s)-1]) / 1e6}
}

type ioSample struct{ proc, disk int64 }

// readIO sums write_bytes of this process and of pids (from /proc/PID/io), and the bytes
// written to every block device (from /proc/diskstats; the whole machine).
func readIO(pids []int) ioSample {
	var s ioSample
	for _, pid := range append([]int{os.Getpid()}, pids...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				s.proc += n
			}
		}
	}
	devs, _ := os.ReadDir("/sys/block")
	whole := map[string]bool{}
	for _, d := range devs {
		if !strings.HasPrefix(d.Name(), "loop") && !strings.HasPrefix(d.Name(), "ram") {
			whole[d.Name()] = true
		}
	}
	b, _ := os.ReadFile("/proc/diskstats")
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 9 && whole[f[2]] {
			n, _ := strconv.ParseInt(f[9], 10, 64)
			s.disk += n * 512
		}
	}
	return s
}

// pgPIDs returns the postmaster of dataDir and its children.
func pgPIDs(dataDir string) []int {
	b, err := os.ReadFile(dataDir + "/postmaster.pid")
	if err != nil {
		return nil
	}
	pm, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return nil
	}
	pids := []int{pm}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pm) {
			pids = append(pids, pid)
		}
	}
	return pids
}
