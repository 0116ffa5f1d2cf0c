package badgerstore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
)

// BadgerOptions returns the Badger options Open uses for dir: Badger's defaults with
// SyncWrites on and Badger's log routed to logger (warnings and errors only).
func BadgerOptions(dir string, logger *slog.Logger) badger.Options {
	if logger == nil {
		logger = slog.Default()
	}
	return badger.DefaultOptions(dir).
		WithSyncWrites(true).
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
