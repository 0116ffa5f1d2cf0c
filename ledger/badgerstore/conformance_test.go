package badgerstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/trillian"
	"github.com/google/trillian/client"
	"github.com/google/trillian/extension"
	"github.com/google/trillian/integration"
	"github.com/google/trillian/integration/storagetest"
	"github.com/google/trillian/log"
	"github.com/google/trillian/quota"
	"github.com/google/trillian/storage"
	"github.com/google/trillian/storage/cache"
	"github.com/google/trillian/storage/storagepb"
	stestonly "github.com/google/trillian/storage/testonly"
	"github.com/google/trillian/types"
	"github.com/google/trillian/util/clock"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	logenv "github.com/google/trillian/testonly/integration"
)

// Trillian's own conformance suites, run against this backend.

func TestLogStorageSuite(t *testing.T) {
	storagetest.RunLogStorageTests(t, func(ctx context.Context, t *testing.T) (storage.LogStorage, storage.AdminStorage) {
		s := newTestStore(t)
		return s.LogStorage(), s.AdminStorage()
	})
}

func TestAdminStorageSuite(t *testing.T) {
	tester := &stestonly.AdminStorageTester{NewAdminStorage: func() storage.AdminStorage {
		return newTestStore(t).AdminStorage()
	}}
	tester.RunAllTests(t)
}

// TestLogIntegration runs Trillian's end-to-end log test (queue 1000 leaves over gRPC, let two
// sequencers integrate them, read them back, check the root against an in-memory tree and
// check inclusion and consistency proofs) over a registry backed by this store.
// Trillian's duplicate-leaves variant does not apply: it waits for 1000 leaves where a
// deduplicating backend (like MySQL's and this one) keeps the 10 unique ones.
func TestLogIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end log integration test skipped in -short mode")
	}
	ctx := context.Background()
	s := newTestStore(t)
	logenv.SequencerInterval = 20 * time.Millisecond
	reg := extension.Registry{
		AdminStorage: s.AdminStorage(),
		LogStorage:   s.LogStorage(),
		QuotaManager: quota.Noop(),
	}
	env, err := logenv.NewLogEnvWithRegistry(ctx, 2, reg)
	if err != nil {
		t.Fatalf("NewLogEnvWithRegistry: %v", err)
	}
	defer env.Close()
	tree, err := client.CreateAndInitTree(ctx, &trillian.CreateTreeRequest{Tree: stestonly.LogTree}, env.Admin, env.Log)
	if err != nil {
		t.Fatalf("CreateAndInitTree: %v", err)
	}
	params := integration.DefaultTestParameters(tree.TreeId)
	params.SequencingPollWait = 50 * time.Millisecond
	params.SequencingWaitTotal = 2 * time.Minute
	if err := integration.RunLogIntegration(env.Log, params); err != nil {
		t.Fatalf("RunLogIntegration: %v", err)
	}
}

// TestGoldenTiles reproduces Trillian's integration/format test against this store: build trees
// of 96, 871, 1000 and 1024 leaves by queueing batches of 50 and integrating each with the real
// sequencer, then compare every stored tile with Trillian's golden dumps. It pins both the
// tile format and FIFO order inside a queued batch.
func TestGoldenTiles(t *testing.T) {
	dir := trillianModuleDir(t)
	for _, size := range []int{96, 871, 1000, 1024} {
		name := fmt.Sprintf("dump_tree_output_%d", size)
		t.Run(name, func(t *testing.T) {
			s := newTestStore(t)
			got := buildAndDumpTiles(t, s, size, 50, "Leaf %d")
			saved, err := os.ReadFile(filepath.Join(dir, "integration", "format", "testdata", name))
			if err != nil {
				t.Fatalf("reading golden file: %v", err)
			}
			want := parseTiles(t, string(saved))
			if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
				t.Errorf("tiles differ from %s (-want +got):\n%s", name, d)
			}
		})
	}
}

func trillianModuleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/google/trillian").Output()
	if err != nil {
		t.Fatalf("locating the Trillian module (for its golden files): %v", err)
	}
	return strings.TrimSpace(string(out))
}

func buildAndDumpTiles(t *testing.T, s *Store, treeSize, batchSize int, leafFormat string) []*storagepb.SubtreeProto {
	t.Helper()
	ctx := context.Background()
	ls, as := s.LogStorage(), s.AdminStorage()
	tree := mustCreateTree(t, as, &trillian.Tree{
		TreeType:        trillian.TreeType_LOG,
		TreeState:       trillian.TreeState_ACTIVE,
		MaxRootDuration: durationpb.New(0),
	})
	mustStoreRoot(t, ls, tree, &types.LogRootV1{RootHash: rfc6962.DefaultHasher.EmptyRoot()})
	leaves := make([]*trillian.LogLeaf, 0, treeSize)
	for i := range treeSize {
		data := []byte(fmt.Sprintf(leafFormat, i))
		h := sha256.Sum256(data)
		leaves = append(leaves, &trillian.LogLeaf{LeafValue: data, LeafIdentityHash: h[:], MerkleLeafHash: h[:]})
	}
	for i := 0; i < treeSize; i += batchSize {
		batch := leaves[i:min(i+batchSize, treeSize)]
		if _, err := ls.QueueLeaves(ctx, tree, batch, time.Now()); err != nil {
			t.Fatalf("QueueLeaves: %v", err)
		}
		n, err := log.IntegrateBatch(ctx, tree, len(batch), 0, 24*time.Hour, clock.System, ls, quota.Noop())
		if err != nil {
			t.Fatalf("IntegrateBatch: %v", err)
		}
		if n != len(batch) {
			t.Fatalf("IntegrateBatch integrated %d leaves, want %d", n, len(batch))
		}
	}
	// Tile keys sort by tile ID bytes, the order of the golden dumps (hex strings).
	var tiles []*storagepb.SubtreeProto
	prefix := s.k.treePrefix(tagTile, tree.TreeId)
	if err := s.DB().View(func(txn *badgerTxn) error {
		it := txn.NewIterator(badgerIteratorOptions(prefix))
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			st := &storagepb.SubtreeProto{}
			if err := it.Item().Value(func(v []byte) error { return proto.Unmarshal(v, st) }); err != nil {
				return err
			}
			if err := cache.PopulateLogTile(st, rfc6962.DefaultHasher); err != nil {
				return err
			}
			tiles = append(tiles, st)
		}
		return nil
	}); err != nil {
		t.Fatalf("reading tiles: %v", err)
	}
	// Round-trip through the text format, as the golden files were made that way.
	var buf bytes.Buffer
	for _, st := range tiles {
		fmt.Fprintf(&buf, "%s\n", prototext.Format(st))
	}
	return parseTiles(t, buf.String())
}

func parseTiles(t *testing.T, text string) []*storagepb.SubtreeProto {
	t.Helper()
	parts := strings.Split(text, "\n\n")
	tiles := make([]*storagepb.SubtreeProto, len(parts))
	for i, part := range parts {
		var tile storagepb.SubtreeProto
		if err := prototext.Unmarshal([]byte(part), &tile); err != nil {
			t.Fatalf("parsing tile %d: %v", i, err)
		}
		tiles[i] = &tile
	}
	return tiles
}
