package ceremony

import (
	"context"
	"fmt"
	"math"

	"github.com/paraphe/paraphe/ledger"
	"github.com/paraphe/paraphe/ledger/event"
)

// LogLedger adapts the appliance's ledger (*ledger.Log) to Ledger.
type LogLedger struct {
	Log *ledger.Log
}

// Append implements Ledger: the event becomes a ledger/event.Event, validated against its type's
// schema by the ledger.
func (l LogLedger) Append(ctx context.Context, ev Event) (Pending, error) {
	le, err := ToLedgerEvent(ev)
	if err != nil {
		return nil, err
	}
	p, err := l.Log.Append(ctx, le)
	if err != nil {
		return nil, err
	}
	return logPending{p}, nil
}

type logPending struct{ p ledger.Pending }

func (p logPending) Wait(ctx context.Context) (Receipt, error) {
	r, err := p.p.Wait(ctx)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{Index: r.Index, LeafHash: r.LeafHash, Proof: r.Proof, Checkpoint: r.Checkpoint, TreeSize: r.TreeSize, Timestamp: r.Timestamp}, nil
}

// ToLedgerEvent converts a ceremony event to the ledger's event type. Values that went through
// JSON (an event record read back to append it again after a crash) are normalised back: integral numbers to int64
// and objects of strings to map[string]string, so the leaf is byte-for-byte the same.
func ToLedgerEvent(ev Event) (event.Event, error) {
	var data map[string]any
	if len(ev.Data) > 0 {
		data = make(map[string]any, len(ev.Data))
		for k, v := range ev.Data {
			switch x := v.(type) {
			case float64:
				if x != math.Trunc(x) || x < 0 || x > 1<<53 {
					return event.Event{}, fmt.Errorf("ceremony: event %s field %s: %v is not an integer", ev.Type, k, x)
				}
				data[k] = int64(x)
			case map[string]any:
				m := make(map[string]string, len(x))
				for mk, mv := range x {
					s, ok := mv.(string)
					if !ok {
						return event.Event{}, fmt.Errorf("ceremony: event %s field %s.%s is not a string", ev.Type, k, mk)
					}
					m[mk] = s
				}
				data[k] = m
			default:
				data[k] = v
			}
		}
	}
	return event.Event{ID: ev.ID, Type: event.Type(ev.Type), At: ev.At, Envelope: ev.Envelope, Signer: ev.Signer, Data: data}, nil
}
