package badgerstore

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/trillian/storage"
	"github.com/transparency-dev/merkle/compact"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRecordRoundTrip(t *testing.T) {
	lr := leafRecord{queueNanos: -5, merkleHash: []byte{1, 2}, value: []byte("v"), extra: nil}
	got, err := unmarshalLeafRecord(lr.marshal())
	if err != nil || got.queueNanos != -5 || !bytes.Equal(got.merkleHash, lr.merkleHash) || !bytes.Equal(got.value, lr.value) || len(got.extra) != 0 {
		t.Errorf("leaf record round trip = %+v, %v", got, err)
	}
	qr := queueRecord{queueNanos: 7, identityHash: []byte{9}, merkleHash: []byte{8}}
	gq, err := unmarshalQueueRecord(qr.marshal())
	if err != nil || gq.queueNanos != 7 || !bytes.Equal(gq.identityHash, qr.identityHash) || !bytes.Equal(gq.merkleHash, qr.merkleHash) {
		t.Errorf("queue record round trip = %+v, %v", gq, err)
	}
	sr := seqRecord{integrateNanos: 1 << 40, identityHash: []byte{3}, merkleHash: []byte{4}}
	gs, err := unmarshalSeqRecord(sr.marshal())
	if err != nil || gs.integrateNanos != 1<<40 || !bytes.Equal(gs.identityHash, sr.identityHash) {
		t.Errorf("seq record round trip = %+v, %v", gs, err)
	}
	for _, bad := range [][]byte{nil, {}, {2}, {1}, {1, 0, 0, 0, 0, 0, 0, 0, 0}, append(sr.marshal(), 0), {1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}} {
		if _, err := unmarshalSeqRecord(bad); err == nil {
			t.Errorf("unmarshalSeqRecord(%x) = nil error", bad)
		}
	}
}

// FuzzDecodeRecords: whatever bytes are stored, decoding returns a value or an error, never a
// panic, and whatever decodes re-encodes to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	f.Add((&leafRecord{queueNanos: 1, merkleHash: make([]byte, 32), value: []byte("value"), extra: []byte("x")}).marshal())
	f.Add((&seqRecord{integrateNanos: 2, identityHash: make([]byte, 32), merkleHash: make([]byte, 32)}).marshal())
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := unmarshalLeafRecord(b); err == nil && !bytes.Equal(r.marshal(), b) {
			t.Errorf("leaf record %x re-encodes as %x", b, r.marshal())
		}
		if r, err := unmarshalQueueRecord(b); err == nil && !bytes.Equal(r.marshal(), b) {
			t.Errorf("queue record %x re-encodes as %x", b, r.marshal())
		}
		if r, err := unmarshalSeqRecord(b); err == nil && !bytes.Equal(r.marshal(), b) {
			t.Errorf("seq record %x re-encodes as %x", b, r.marshal())
		}
		k := keys{prefix: []byte("p/")}
		_, _ = k.treeIDFromKey(b)
		_, _ = trailingUint64(b, 3)
	})
}

// TestTamperedStorage: values edited directly in Badger make reads fail with an error naming
// the damage; nothing panics.
func TestTamperedStorage(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, createTestLeaves(300, 0), time.Now()); err != nil {
		t.Fatal(err)
	}
	integrateAll(t, s, tree)
	for _, tc := range []struct {
		name string
		key  []byte
		val  []byte
	}{
		{"sequenced leaf", s.k.seq(tree.TreeId, 3), []byte{1, 2, 3}},
		{"leaf data", s.k.leaf(tree.TreeId, createTestLeaves(1, 3)[0].LeafIdentityHash), []byte{9}},
		{"tile", s.k.tile(tree.TreeId, make([]byte, 7)), []byte{0xff, 0xff, 0xff}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := setRaw(t, s, tc.key, tc.val)
			defer setRaw(t, s, tc.key, old)
			tx, err := s.LogStorage().SnapshotForTree(ctx, tree)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			_, err1 := tx.GetLeavesByRange(ctx, 0, 300)
			_, err2 := tx.GetMerkleNodes(ctx, nil)
			if tc.name == "tile" {
				if _, err2 = proofNodes(ctx, tx); err2 == nil {
					t.Error("reading a damaged tile: no error")
				}
				return
			}
			if err1 == nil {
				t.Errorf("GetLeavesByRange over a damaged %s: no error", tc.name)
			}
			_ = err2
		})
	}
	// A damaged root makes every transaction on the tree fail to begin.
	old := setRaw(t, s, s.k.head(tree.TreeId), []byte("not a root"))
	if _, err := s.LogStorage().SnapshotForTree(ctx, tree); err == nil || err == storage.ErrTreeNeedsInit {
		t.Errorf("SnapshotForTree with a damaged root = %v, want an error", err)
	}
	setRaw(t, s, s.k.head(tree.TreeId), old)
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, createTestLeaves(1, 5000), time.Now()); status.Code(err) == codes.Internal {
		t.Errorf("QueueLeaves after repair: %v", err)
	}
}

func setRaw(t *testing.T, s *Store, key, val []byte) []byte {
	t.Helper()
	var old []byte
	txn := s.DB().NewTransaction(true)
	defer txn.Discard()
	if item, err := txn.Get(key); err == nil {
		old, _ = item.ValueCopy(nil)
	}
	if err := txn.Set(key, val); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	return old
}

// proofNodes reads a leaf hash from the tile of leaves 0-255.
func proofNodes(ctx context.Context, tx storage.ReadOnlyLogTreeTX) ([]byte, error) {
	nodes, err := tx.GetMerkleNodes(ctx, []compact.NodeID{compact.NewNodeID(0, 3)})
	if err != nil {
		return nil, err
	}
	return nodes[0].Hash, nil
}
