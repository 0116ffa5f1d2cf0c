package badgerstore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
)

// DefaultMemTableSize is the memtable size Open uses. See BadgerOptions for why it is small.
const DefaultMemTableSize = 16 << 20

// BadgerOptions returns the Badger options Open uses for dir: Badger's defaults with
// SyncWrites on, 16 MiB memtables (8 of them), level-0 limits scaled to match, 2 MiB value-log
// files, 0.1% bloom-filter false positives, and Badger's log routed to logger (warnings and
// errors).
//
// Durability and write amplification. With SyncWrites every committed write request is made
// durable before Commit returns: Badger appends it to the memtable's write-ahead log, a file
// it memory-maps, and msyncs the whole mapping (one msync per transaction; Badger does not
// coalesce syncs across concurrent transactions). The kernel writes back whole dirty page-cache
// folios, and mmap faults populate the file through readahead with folios whose order grows as
// the write position moves through the file (up to 2 MiB on x86-64; this VM's disk has
// read_ahead_kb=8192). So the bytes written per sync grow with the offset reached in the
// WAL file: with Badger's default 64 MiB memtable (128 MiB WAL) we measured 0.5–1.2 MB written
// per synced transaction late in each file. Capping the memtable caps the offset, and the
// WAL is a fresh file after each rotation. Measured with 64 writers group-committed into one
// QueueLeaves per group (about 62 events per transaction), bytes written per event by the
// process (/proc/self/io write_bytes): memtable 8 MiB 1.3–1.5 KB, 16 MiB 1.4 KB, 32 MiB 2.3 KB,
// 64 MiB 14.6 KB, 256 MiB 24.7 KB. 16 MiB keeps the cost near the ideal (the bytes of the
// events themselves) while leaving room for large transactions: Badger's transaction limit is
// 15% of the memtable, 2.4 MiB here (about 3,000 queued 512-byte leaves in one call).
//
// The other levers do not help. DB.Sync and WithSyncWrites(false) + an explicit Sync use the
// same msync, and a memtable rotation between the commit and the Sync would leave the
// commit in an unsynced WAL. The value threshold only moves large values to the value log,
// which is written and msynced the same way. Managed mode changes timestamps, not syncing.
// Batching does: the cost is per transaction, so callers should coalesce concurrent appends
// into one QueueLeaves call (group commit).
func BadgerOptions(dir string, logger *slog.Logger) badger.Options {
	if logger == nil {
		logger = slog.Default()
	}
	return badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithMemTableSize(DefaultMemTableSize).
		// Smaller memtables make smaller level-0 tables; allow as many bytes in level 0
		// before stalling writes as Badger's defaults do (15 × 64 MiB ≈ 30 × 16 MiB), and
		// buffer more memtables while one is flushed, so that a CPU-starved compactor does
		// not stall committers.
		WithNumMemtables(8).
		WithNumLevelZeroTables(10).
		WithNumLevelZeroTablesStall(30).
		// Every synced write request also msyncs the current value-log file's mapping
		// (2 GiB by default) even when no value went there; a 2 MiB file makes that msync
		// cheaper: +12–15% single-writer appends/s in an A/B run (no change at 64 writers).
		// Values below ValueThreshold (1 MiB) never reach the value log, and one larger than
		// the file simply makes it longer before Badger rotates it.
		WithValueLogFileSize(2 << 20).
		// Appending looks up every new leaf's identity hash, a miss that is checked against
		// each level-0 table and one table per level: with Badger's 1% false positives about
		// one lookup in ten read and decoded a block. 0.1% costs half as many bits again per
		// key and gave +3% appends with 64 writers.
		WithBloomFalsePositive(0.001).
		WithLogger(badgerLogger{logger.With("component", "badger")})
}

// badgerLogger adapts slog to badger.Logger. Badger's Info and Debug chatter is dropped.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, args ...any) {
	b.l.Log(context.Background(), slog.LevelError, fmt.Sprintf(f, args...))
}
func (b badgerLogger) Warningf(f string, args ...any) {
	b.l.Log(context.Background(), slog.LevelWarn, fmt.Sprintf(f, args...))
}
func (b badgerLogger) Infof(string, ...any)  {}
func (b badgerLogger) Debugf(string, ...any) {}
