package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/trillian/storage"
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// KeyPrefix is prepended to every key, so that the store can share a database with other
	// data. Default "trillian/". Two Stores must never share a prefix of one database.
	KeyPrefix string

	// Logger receives the store's own messages and, with Open, Badger's warnings and errors.
	// Default slog.Default().
	Logger *slog.Logger

	// MaxRetries bounds the attempts of one transaction that fails with badger.ErrConflict.
	// Default 32.
	MaxRetries int

	// ClockStepTolerance is how far beyond the dequeue cutoff a queue timestamp may lie and
	// still count as "inside the guard window". A leaf stamped further in the future than
	// that was stamped by a clock that has since stepped backwards; it is dequeued at once
	// instead of waiting for the clock to catch up. It must exceed the sequencer's guard
	// window. Default 10s.
	ClockStepTolerance time.Duration

	// Badger adjusts the Badger options used by Open, after this package's defaults (see
	// BadgerOptions). It must keep SyncWrites on; Open refuses a configuration without it.
	Badger func(badger.Options) badger.Options
}

func (o Options) withDefaults() Options {
	if o.KeyPrefix == "" {
		o.KeyPrefix = "trillian/"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 32
	}
	if o.ClockStepTolerance <= 0 {
		o.ClockStepTolerance = 10 * time.Second
	}
	return o
}

// Store is a Trillian log and admin storage over one Badger database. It is safe for
// concurrent use. Exactly one Store may use a given KeyPrefix of a database at a time, since
// it keeps per-tree queue state in memory.
type Store struct {
	db     *badger.DB
	ownsDB bool
	opts   Options
	k      keys
	log    *slog.Logger

	queue queueState

	// leafMu is held by every writer of leaf keys from its checks until its commit; it
	// guards ids. See identities.
	leafMu sync.Mutex
	ids    identities

	// active counts method calls in progress; Close waits for them before closing the
	// database, so that a call racing with Close gets an error instead of a Badger panic.
	active    atomic.Int64
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the Badger database in dir with BadgerOptions(dir) and
// returns a Store over it that owns it: Close closes the database.
func Open(ctx context.Context, dir string, o Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	bo := BadgerOptions(dir, o.Logger)
	if o.Badger != nil {
		bo = o.Badger(bo)
	}
	if !bo.SyncWrites {
		return nil, fmt.Errorf("badgerstore: opening %s: SyncWrites must stay enabled (acknowledged writes must be durable)", dir)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: opening Badger database in %s: %w", dir, err)
	}
	s := New(db, o)
	s.ownsDB = true
	return s, nil
}

// New returns a Store over an already open database, which the caller keeps owning: Close
// does not close it. The database should have been opened with SyncWrites, or acknowledged
// writes are not durable. Only one Store at a time may use a database with a given
// Options.KeyPrefix: it keeps the queue counter and the known leaf identities in memory.
func New(db *badger.DB, o Options) *Store {
	o = o.withDefaults()
	s := &Store{db: db, opts: o, k: keys{prefix: []byte(o.KeyPrefix)}, log: o.Logger}
	s.queue.init()
	s.ids = newIdentities()
	return s
}

// LogStorage returns the store's storage.LogStorage.
func (s *Store) LogStorage() storage.LogStorage { return &logStorage{s: s} }

// AdminStorage returns the store's storage.AdminStorage.
func (s *Store) AdminStorage() storage.AdminStorage { return &adminStorage{s: s} }

// Provider returns the store as a storage.Provider, for an extension.Registry or
// storage.RegisterProvider. Its Close closes the store.
func (s *Store) Provider() storage.Provider { return s }

// DB returns the underlying database, for maintenance and for tests that tamper with it.
func (s *Store) DB() *badger.DB { return s.db }

// Close releases the store and, if it was made by Open, closes the database. Calls that
// start afterwards fail; Close waits (up to closeWait) for calls in progress, including the
// function running in a ReadWriteTransaction. Transactions left open by callers fail on
// their next method call. Later calls of Close return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		for deadline := time.Now().Add(closeWait); s.active.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if n := s.active.Load(); n > 0 {
			s.log.Warn("badgerstore: closing with calls still in progress", "calls", n)
		}
		if s.ownsDB {
			s.closeErr = s.db.Close()
		}
	})
	return s.closeErr
}

const closeWait = 10 * time.Second

// enter registers a call in progress; the returned function ends it. It fails once Close has
// started or the database is closed.
func (s *Store) enter() (func(), error) {
	s.active.Add(1)
	if s.closed.Load() || s.db.IsClosed() {
		s.active.Add(-1)
		return nil, errClosed
	}
	return func() { s.active.Add(-1) }, nil
}

// lockEnter locks mu, runs check, then registers a call in progress (see enter); end leaves
// the store, then unlocks. On an error nothing stays locked or registered.
func (s *Store) lockEnter(mu *sync.Mutex, check func() error) (end func(), err error) {
	mu.Lock()
	if err := check(); err != nil {
		mu.Unlock()
		return nil, err
	}
	leave, err := s.enter()
	if err != nil {
		mu.Unlock()
		return nil, err
	}
	return func() {
		leave()
		mu.Unlock()
	}, nil
}

// update runs fn in a read-write Badger transaction and commits it, rerunning everything on
// badger.ErrConflict up to MaxRetries times. fn must not keep state across calls.
func (s *Store) update(ctx context.Context, what string, fn func(txn *badger.Txn) error) error {
	var err error
	for attempt := 0; attempt < s.opts.MaxRetries; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		txn := s.db.NewTransaction(true)
		err = fn(txn)
		if err == nil {
			err = txn.Commit()
		}
		txn.Discard()
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		backoff(attempt)
	}
	return fmt.Errorf("badgerstore: %s: still conflicting after %d attempts: %w", what, s.opts.MaxRetries, err)
}

// backoff sleeps a little before retrying a conflicting transaction, growing with attempt and
// jittered so that two retrying writers drift apart.
func backoff(attempt int) {
	d := time.Duration(attempt+1) * 200 * time.Microsecond
	if d > 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	time.Sleep(d/2 + rand.N(d/2+1))
}

// errClosed is returned when the database has been closed.
var errClosed = errors.New("badgerstore: database is closed")

func (s *Store) checkOpen() error {
	if s.closed.Load() || s.db.IsClosed() {
		return errClosed
	}
	return nil
}
