package ledger

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/trillian"
	"github.com/google/trillian/extension"
	tlog "github.com/google/trillian/log"
	"github.com/google/trillian/monitoring"
	"github.com/google/trillian/quota"
	"github.com/google/trillian/server"
	"github.com/google/trillian/server/admin"
	"github.com/google/trillian/storage"
	"github.com/google/trillian/types"
	"github.com/google/trillian/util/clock"
	"github.com/google/trillian/util/election2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

// Event is one ledger event; see package ledger/event.
type Event = event.Event

// Timestamper obtains an RFC 3161 timestamp token over a digest: the appliance's TSA.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error)
}

// Defaults applied by [Open] to zero Options fields.
const (
	DefaultCheckpointInterval = 5 * time.Millisecond
	DefaultBatchSize          = 1000
)

// treeDisplayName names the Trillian tree of the ledger, so that a tree created just before a
// crash, whose ID was not yet stored, is found again rather than created twice.
const treeDisplayName = "paraphe-ledger"

// Options configure [Open].
type Options struct {
	// Storage holds the tree and the ledger's state. Required.
	Storage Storage
	// Origin is the first line of every checkpoint, e.g. "paraphe.example.org/ledger". Required.
	Origin string
	// Signer signs checkpoints (an Ed25519 note signer). Required.
	Signer note.Signer
	// VerifierKey is Signer's verifier key as note.NewVerifier reads it (name+hash+base64),
	// served at GET /ledger/key. Required; Open checks that it verifies Signer's signatures.
	VerifierKey string
	// Timestamper timestamps each checkpoint: its token covers the SHA-256 of the checkpoint
	// text (the note body, without signatures). When nil, checkpoints carry no token.
	Timestamper Timestamper
	// GroupCommitWindow is the longest an Append waits for others to share its durable write,
	// and it waits only while fewer calls have gathered than the previous write held: under a
	// steady load the callers re-appending after their acknowledgement are awaited, while a
	// lone caller after a lone caller is not delayed at all. Zero adds no wait: calls that
	// arrive while a write is in progress still share the next one.
	GroupCommitWindow time.Duration
	// CheckpointInterval is the least average time between two checkpoint publications
	// under sustained load; after a quiet spell up to checkpointBurst may follow each other
	// at once, so that a lone event's receipt does not wait for it. Zero means
	// DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// BatchSize is the most leaves one sequencer pass integrates. Zero means DefaultBatchSize.
	BatchSize int
	// Logger receives operational messages (never event contents). Nil discards them.
	Logger *slog.Logger
	// Registerer, when set, receives the ledger's metrics.
	Registerer prometheus.Registerer
	// Now is the clock for queue and root timestamps. Nil means time.Now.
	Now func() time.Time
}

// Log is a running ledger. Its methods are safe for concurrent use.
type Log struct {
	opts    Options
	logger  *slog.Logger
	metrics *metrics
	clock   *monoClock

	tree      *trillian.Tree
	logServer *server.TrillianLogRPCServer

	commitCh chan *appendReq
	wake     chan struct{}
	history  chan SignedCheckpoint // published checkpoints on their way to storage

	// Sequencer state, owned by the sequencer goroutine after Open returns.
	head treeHead
	// publishTAT is the publication budget's theoretical arrival time (GCRA): a checkpoint
	// may be published once now ≥ publishTAT − (checkpointBurst−1)·CheckpointInterval.
	publishTAT time.Time

	mu         sync.Mutex
	latest     SignedCheckpoint     // latest published checkpoint
	unresolved map[string][]*waiter // by leaf hash: queued, index not yet known
	resolved   []*waiter            // index known, waiting for a checkpoint that covers it

	// failing is the sequencer's last failure while it lasts (nil once a pass and a
	// publication succeed again); see Status.
	failing atomic.Pointer[stepFailure]

	cancel    context.CancelFunc
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // committer and sequencer
	historyWG sync.WaitGroup // history writer
}

type treeHead struct {
	size uint64
	hash []byte
}

// ErrClosed is returned by calls on a closed Log.
var ErrClosed = errors.New("ledger: log is closed")

// Open starts the ledger: it creates and initialises the tree on first start (and stores its
// ID), checks the stored checkpoint history against the tree, publishes a checkpoint if the
// tree has grown since the last one, and starts the group committer and the sequencer. Leaves
// queued before a crash are integrated. Close the Log to stop it.
func Open(ctx context.Context, o Options) (*Log, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	v, err := verify.NewVerifier(o.VerifierKey)
	if err != nil {
		return nil, fmt.Errorf("ledger: Options.VerifierKey: %w", err)
	}
	if err := checkKeyPair(o.Signer, v); err != nil {
		return nil, err
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	tlog.InitMetrics(nil) // IntegrateBatch needs its package metrics; only the first call counts.

	l := &Log{
		opts:       o,
		logger:     logger.With("component", "ledger"),
		metrics:    m,
		clock:      &monoClock{now: o.Now},
		commitCh:   make(chan *appendReq, 4096),
		wake:       make(chan struct{}, 1),
		history:    make(chan SignedCheckpoint, 1024),
		unresolved: make(map[string][]*waiter),
		closed:     make(chan struct{}),
	}
	reg := extension.Registry{
		AdminStorage:    o.Storage.Admin,
		LogStorage:      o.Storage.Log,
		ElectionFactory: election2.NoopFactory{},
		QuotaManager:    quota.Noop(),
		MetricFactory:   monitoring.InertMetricFactory{},
	}
	l.logServer = server.NewTrillianLogRPCServer(reg, l.clock)
	if l.tree, err = l.openTree(ctx, admin.New(reg, []trillian.TreeType{trillian.TreeType_LOG})); err != nil {
		return nil, err
	}
	if err := l.loadHead(ctx); err != nil {
		return nil, err
	}
	if err := l.loadCheckpoint(ctx); err != nil {
		return nil, err
	}

	// The sequencer owns head and latest once it runs: log them before it starts.
	l.logger.Info("ledger open", "tree", l.tree.TreeId, "size", l.head.size, "checkpoint", l.latest.Size)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	l.wg.Add(committers + 1)
	for range committers {
		go func() { defer l.wg.Done(); l.commitLoop(runCtx) }()
	}
	go func() { defer l.wg.Done(); l.sequenceLoop(runCtx) }()
	l.historyWG.Add(1)
	go func() { defer l.historyWG.Done(); l.historyLoop() }()
	l.wakeSequencer() // integrate whatever was queued before a restart
	return l, nil
}

func (o *Options) validate() error {
	switch {
	case o.Storage.Log == nil || o.Storage.Admin == nil || o.Storage.state == nil:
		return errors.New("ledger: Options.Storage is not set (use NewMemoryStorage or NewBadgerStorage)")
	case o.Origin == "" || strings.ContainsAny(o.Origin, "\n\r"):
		return fmt.Errorf("ledger: Options.Origin %q must be one non-empty line", o.Origin)
	case o.Signer == nil:
		return errors.New("ledger: Options.Signer is not set")
	case o.GroupCommitWindow < 0:
		return fmt.Errorf("ledger: Options.GroupCommitWindow %v is negative", o.GroupCommitWindow)
	case o.GroupCommitWindow > time.Second:
		return fmt.Errorf("ledger: Options.GroupCommitWindow %v is more than a second", o.GroupCommitWindow)
	case o.CheckpointInterval < 0:
		return fmt.Errorf("ledger: Options.CheckpointInterval %v is negative", o.CheckpointInterval)
	case o.BatchSize < 0:
		return fmt.Errorf("ledger: Options.BatchSize %d is negative", o.BatchSize)
	}
	return nil
}

// checkKeyPair checks that v verifies what s signs.
func checkKeyPair(s note.Signer, v note.Verifier) error {
	if s.Name() != v.Name() || s.KeyHash() != v.KeyHash() {
		return fmt.Errorf("ledger: Options.VerifierKey is for %s/%08x, but the signer is %s/%08x", v.Name(), v.KeyHash(), s.Name(), s.KeyHash())
	}
	msg, err := note.Sign(&note.Note{Text: "paraphe ledger key check\n"}, s)
	if err != nil {
		return fmt.Errorf("ledger: Options.Signer cannot sign: %w", err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		return fmt.Errorf("ledger: Options.VerifierKey does not verify Options.Signer's signature: %w", err)
	}
	return nil
}

// openTree finds the ledger's tree, or creates and initialises it on first start.
func (l *Log) openTree(ctx context.Context, adm *admin.Server) (*trillian.Tree, error) {
	st := l.opts.Storage
	id, ok, err := st.state.treeID()
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if ok {
		tree, err := storage.GetTree(ctx, st.Admin, id)
		if err != nil {
			return nil, fmt.Errorf("ledger: reading tree %d: %w", id, err)
		}
		return tree, nil
	}
	trees, err := storage.ListTrees(ctx, st.Admin, false)
	if err != nil {
		return nil, fmt.Errorf("ledger: listing trees: %w", err)
	}
	var tree *trillian.Tree
	for _, t := range trees {
		if t.DisplayName == treeDisplayName && t.TreeType == trillian.TreeType_LOG {
			tree = t // created by a start that crashed before storing its ID
		}
	}
	if tree == nil {
		tree, err = adm.CreateTree(ctx, &trillian.CreateTreeRequest{Tree: &trillian.Tree{
			TreeState:   trillian.TreeState_ACTIVE,
			TreeType:    trillian.TreeType_LOG,
			DisplayName: treeDisplayName,
			Description: "Paraphe audit ledger",
			// Zero: a root only when leaves are integrated (checkpoints are ours to publish).
			MaxRootDuration: durationpb.New(0),
		}})
		if err != nil {
			return nil, fmt.Errorf("ledger: creating the tree: %w", err)
		}
	}
	if _, err := l.logServer.InitLog(ctx, &trillian.InitLogRequest{LogId: tree.TreeId}); err != nil && status.Code(err) != codes.AlreadyExists {
		return nil, fmt.Errorf("ledger: initialising tree %d: %w", tree.TreeId, err)
	}
	if err := st.state.setTreeID(tree.TreeId); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l.logger.Info("ledger tree created", "tree", tree.TreeId)
	return tree, nil
}

// loadHead reads the tree's latest root.
func (l *Log) loadHead(ctx context.Context) error {
	resp, err := l.logServer.GetLatestSignedLogRoot(ctx, &trillian.GetLatestSignedLogRootRequest{LogId: l.tree.TreeId})
	if err != nil {
		return fmt.Errorf("ledger: reading the latest root of tree %d: %w", l.tree.TreeId, err)
	}
	var root types.LogRootV1
	if err := root.UnmarshalBinary(resp.GetSignedLogRoot().GetLogRoot()); err != nil {
		return fmt.Errorf("ledger: decoding the latest root of tree %d: %w", l.tree.TreeId, err)
	}
	l.head = treeHead{size: root.TreeSize, hash: root.RootHash}
	l.clock.raise(int64(root.TimestampNanos))
	l.metrics.treeSize.Set(float64(root.TreeSize))
	return nil
}

// loadCheckpoint reads the latest stored checkpoint, checks that the tree extends it, and
// publishes a new one if the tree has grown (or none was ever published).
func (l *Log) loadCheckpoint(ctx context.Context) error {
	cp, ok, err := l.opts.Storage.state.latestCheckpoint()
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if ok {
		switch {
		case cp.Size > l.head.size:
			return fmt.Errorf("ledger: the tree has %d leaves but checkpoint %d was published: storage lost leaves, refusing to start", l.head.size, cp.Size)
		case cp.Size == l.head.size && !bytes.Equal(cp.Hash, l.head.hash):
			return fmt.Errorf("ledger: the tree's root at size %d differs from the published checkpoint's: storage was altered, refusing to start", cp.Size)
		case cp.Size < l.head.size && cp.Size > 0:
			hashes, err := l.consistencyProof(ctx, cp.Size, l.head.size)
			if err != nil {
				return fmt.Errorf("ledger: %w", err)
			}
			older := verify.Checkpoint{Origin: l.opts.Origin, Size: cp.Size, Hash: cp.Hash}
			newer := verify.Checkpoint{Origin: l.opts.Origin, Size: l.head.size, Hash: l.head.hash}
			if err := verify.Consistency(older, newer, hashes); err != nil {
				return fmt.Errorf("ledger: the tree does not extend the published checkpoint %d, refusing to start: %w", cp.Size, err)
			}
		}
		l.latest = cp
		l.metrics.checkpointSize.Set(float64(cp.Size))
	}
	if !ok || cp.Size < l.head.size {
		// A TSA that refuses now (its clock not yet trusted at boot, say) must not keep the
		// appliance from starting: appends are still durable, and the sequencer publishes
		// once the TSA answers (Status reports the wait). Any other failure is fatal.
		if err := l.publish(ctx, true); errors.Is(err, errTimestamp) {
			l.logger.Warn("ledger: the first checkpoint waits for the timestamp authority", "size", l.head.size, "err", err)
			l.fail(stepPublish, err)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Close stops the sequencer and the group committer, and writes the checkpoints published
// but not yet stored (one attempt each: a checkpoint whose record fails is published again,
// at the same or a larger size, by the next Open). Appends in progress fail with [ErrClosed]; leaves already acknowledged
// stay queued and are integrated at the next Open. It does not close the storage.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.cancel()
		l.wg.Wait()
		close(l.history)
		l.historyWG.Wait()
	})
	return nil
}

// monoClock is the time source of the log server and the sequencer. It never goes backwards
// and always moves past the latest root's timestamp, so that a wall clock stepped back (NTP)
// cannot stall sequencing (Trillian refuses a root not newer than the previous one).
type monoClock struct {
	now   func() time.Time
	mu    sync.Mutex
	floor int64 // nanoseconds since the epoch of the last time returned or root seen
}

func (c *monoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now().UnixNano()
	if t <= c.floor {
		t = c.floor + 1
	}
	c.floor = t
	return time.Unix(0, t)
}

func (c *monoClock) raise(ns int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ns > c.floor {
		c.floor = ns
	}
}

// NewTimer implements clock.TimeSource with a real timer.
func (c *monoClock) NewTimer(d time.Duration) clock.Timer { return clock.System.NewTimer(d) }
