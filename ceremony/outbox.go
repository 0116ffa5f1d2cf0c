package ceremony

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const outboxPrefix = "ceremony/outbox/"

// OutboxMessage is an email or SMS captured by the development outbox.
type OutboxMessage struct {
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	Kind  string    `json:"kind"` // email or sms
	Email *Email    `json:"email,omitempty"`
	SMS   *SMS      `json:"sms,omitempty"`
}

// Outbox is a Notifier for development: it stores every message in Badger instead of sending
// it. Messages hold links and codes in clear, so it must never be used in production.
type Outbox struct {
	db  *badger.DB
	w   *groupWriter // concurrent messages share one synced write
	now func() time.Time
}

// NewOutbox returns an outbox over db.
func NewOutbox(db *badger.DB, now func() time.Time) *Outbox {
	if now == nil {
		now = time.Now
	}
	return &Outbox{db: db, w: newGroupWriter(db), now: now}
}

func (o *Outbox) put(m OutboxMessage) error {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	m.At = o.now().UTC()
	m.ID = fmt.Sprintf("%020d-%s", m.At.UnixNano(), hex.EncodeToString(r[:]))
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return o.w.write(func(txn *badger.Txn) error { return txn.Set([]byte(outboxPrefix+m.ID), b) })
}

// SendEmail implements Notifier.
func (o *Outbox) SendEmail(_ context.Context, m Email) error {
	return o.put(OutboxMessage{Kind: "email", Email: &m})
}

// SendSMS implements Notifier.
func (o *Outbox) SendSMS(_ context.Context, m SMS) error {
	return o.put(OutboxMessage{Kind: "sms", SMS: &m})
}

// Messages returns the captured messages, oldest first, at most limit of them (newest kept).
func (o *Outbox) Messages(limit int) ([]OutboxMessage, error) {
	var out []OutboxMessage
	err := o.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(outboxPrefix), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var m OutboxMessage
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}
