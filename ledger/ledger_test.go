package ledger

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/trillian"
	"github.com/google/trillian/storage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

const testOrigin = "paraphe.test/ledger"

// fakeTSA stands in for the appliance's TSA: its "token" binds the digest it was given, so
// tests can check that each checkpoint was timestamped over its own text.
type fakeTSA struct {
	mu    sync.Mutex
	calls int
}

func (f *fakeTSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	if h != crypto.SHA256 || len(digest) != sha256.Size {
		return nil, fmt.Errorf("fake TSA: unexpected hash %v of %d bytes", h, len(digest))
	}
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return fakeToken(digest), nil
}

func fakeToken(digest []byte) []byte {
	// A DER OCTET STRING holding "tst:" and the digest: well-formed ASN.1 for the reply wrapper.
	body := append([]byte("tst:"), digest...)
	return append([]byte{0x04, byte(len(body))}, body...)
}

type testKeys struct {
	signer note.Signer
	vkey   string
}

func newKeys(t testing.TB) testKeys {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return testKeys{signer: s, vkey: vkey}
}

func testOptions(t testing.TB, st Storage, k testKeys) Options {
	return Options{
		Storage:     st,
		Origin:      testOrigin,
		Signer:      k.signer,
		VerifierKey: k.vkey,
		Timestamper: &fakeTSA{},
	}
}

func openLog(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func pageRead(t testing.TB, page int) Event {
	t.Helper()
	e, err := event.New(event.PageRead, time.Now(), "env-1", "signer-1", map[string]any{"document": "doc-1", "page": page})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// openNote verifies a checkpoint note with note.Open directly and returns size and root.
func openNote(t testing.TB, vkey string, msg []byte) (uint64, []byte) {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open: %v\n%s", err, msg)
	}
	var origin string
	var size uint64
	var root string
	if _, err := fmt.Sscanf(n.Text, "%s\n%d\n%s\n", &origin, &size, &root); err != nil {
		t.Fatalf("checkpoint text %q: %v", n.Text, err)
	}
	if origin != testOrigin {
		t.Fatalf("origin %q, want %q", origin, testOrigin)
	}
	h, err := base64.StdEncoding.DecodeString(root)
	if err != nil || len(h) != 32 {
		t.Fatalf("root %q: %v", root, err)
	}
	return size, h
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		err := crashChild(dir, os.Getenv(crashSKeyEnv), os.Getenv(crashVKeyEnv))
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	quietTrillian()
	os.Exit(m.Run())
}

func TestAppendReceiptVerifiesIndependently(t *testing.T) {
	k := newKeys(t)
	l := openLog(t, testOptions(t, NewMemoryStorage(), k))
	ctx := context.Background()
	var leaves [][]byte
	for i := 1; i <= 20; i++ {
		e := pageRead(t, i)
		leaf, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leaf)
		p, err := l.Append(ctx, e)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if p.ID != e.ID {
			t.Fatalf("Pending.ID %q, want %q", p.ID, e.ID)
		}
		r, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		size, root := openNote(t, k.vkey, r.Checkpoint)
		if size != r.TreeSize || r.Index >= size {
			t.Fatalf("receipt index %d, size %d, checkpoint size %d", r.Index, r.TreeSize, size)
		}
		if want := rfc6962.DefaultHasher.HashLeaf(leaf); !bytes.Equal(r.LeafHash, want) {
			t.Fatalf("leaf hash %x, want %x", r.LeafHash, want)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, r.Index, size, r.LeafHash, r.Proof, root); err != nil {
			t.Fatalf("receipt %d does not verify: %v", i, err)
		}
		if r.Index != uint64(i-1) {
			t.Fatalf("sequential appends: index %d, want %d", r.Index, i-1)
		}
		txt := checkpointText(t, k.vkey, r.Checkpoint)
		d := sha256.Sum256([]byte(txt))
		if !bytes.Equal(r.Timestamp, fakeToken(d[:])) {
			t.Fatalf("timestamp token is not over the checkpoint text")
		}
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	size, root := openNote(t, k.vkey, cp.Note)
	if size != 20 {
		t.Fatalf("checkpoint size %d, want 20", size)
	}
	var all [][]byte
	for _, lf := range leaves {
		all = append(all, rfc6962.DefaultHasher.HashLeaf(lf))
	}
	if got := rootOf(all); !bytes.Equal(got, root) {
		t.Fatalf("root %x, recomputed %x", root, got)
	}
}

// rootOf computes the RFC 6962 root of leaf hashes by the definition (recursive split).
func rootOf(hashes [][]byte) []byte {
	switch len(hashes) {
	case 0:
		return rfc6962.DefaultHasher.EmptyRoot()
	case 1:
		return hashes[0]
	}
	k := 1
	for k*2 < len(hashes) {
		k *= 2
	}
	return rfc6962.DefaultHasher.HashChildren(rootOf(hashes[:k]), rootOf(hashes[k:]))
}

func checkpointText(t testing.TB, vkey string, msg []byte) string {
	t.Helper()
	v, _ := note.NewVerifier(vkey)
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	return n.Text
}

func TestAppendRejectsInvalidEvents(t *testing.T) {
	k := newKeys(t)
	l := openLog(t, testOptions(t, NewMemoryStorage(), k))
	ctx := context.Background()
	bad := []Event{
		{Type: "envelope.teleported", Envelope: "e"},
		{Type: event.PageRead, Envelope: "e", Signer: "s", Data: map[string]any{"document": "d"}},
		{Type: event.InvitationSent, Envelope: "e", Signer: "s", Data: map[string]any{"email": "alice@example.org"}},
		{Type: event.EnvelopeSent, Envelope: "e", Signer: "s"},
	}
	for _, e := range bad {
		if _, err := l.Append(ctx, e); err == nil {
			t.Errorf("Append(%+v) succeeded, want an error", e)
		}
	}
	cp, _ := l.Checkpoint(ctx)
	if cp.Size != 0 {
		t.Fatalf("checkpoint size %d after rejected appends, want 0", cp.Size)
	}
}

// countingStorage counts the durable queue writes that reach the storage.
type countingStorage struct {
	storage.LogStorage
	mu     sync.Mutex
	writes int
	leaves int
	// committed holds the leaf hashes whose write has returned.
	committed map[string]bool
	// hold, when set, is received from before the first write: a write in progress, as a
	// synced commit is, while other calls arrive.
	hold chan struct{}
}

func (c *countingStorage) QueueLeaves(ctx context.Context, tree *trillian.Tree, leaves []*trillian.LogLeaf, ts time.Time) ([]*trillian.QueuedLogLeaf, error) {
	c.mu.Lock()
	c.writes++
	c.leaves += len(leaves)
	hold := c.hold
	c.hold = nil
	c.mu.Unlock()
	if hold != nil {
		<-hold
	}
	r, err := c.LogStorage.QueueLeaves(ctx, tree, leaves, ts)
	c.mu.Lock()
	if c.committed == nil {
		c.committed = make(map[string]bool)
	}
	for _, l := range leaves {
		c.committed[string(l.MerkleLeafHash)] = err == nil
	}
	c.mu.Unlock()
	return r, err
}

func TestGroupCommit(t *testing.T) {
	k := newKeys(t)
	st := NewMemoryStorage()
	hold := make(chan struct{})
	cs := &countingStorage{LogStorage: st.Log, hold: hold}
	st.Log = cs
	o := testOptions(t, st, k)
	o.GroupCommitWindow = 20 * time.Millisecond
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	l := openLog(t, o)
	ctx := context.Background()
	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	pend := make(chan Pending, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			p, err := l.Append(ctx, pageRead(t, i+1))
			if err != nil {
				errs <- err
				return
			}
			// Acknowledged only after the write holding this leaf returned.
			cs.mu.Lock()
			committed := cs.committed[string(p.LeafHash)]
			cs.mu.Unlock()
			if !committed {
				errs <- fmt.Errorf("append of %s acknowledged before its write returned", p.ID)
			}
			pend <- p
		}(i)
	}
	close(start)
	// The first write stays in progress while the other calls arrive (they wait for the
	// committer); then they share the next write(s).
	for {
		cs.mu.Lock()
		w := cs.writes
		cs.mu.Unlock()
		if w > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(hold)
	wg.Wait()
	close(errs)
	close(pend)
	for err := range errs {
		t.Fatal(err)
	}
	cs.mu.Lock()
	writes, leaves := cs.writes, cs.leaves
	cs.mu.Unlock()
	if leaves != n {
		t.Fatalf("%d leaves written, want %d", leaves, n)
	}
	if writes > n/8 {
		t.Fatalf("%d Append calls made %d storage writes: no group commit", n, writes)
	}
	t.Logf("%d concurrent appends, %d storage writes", n, writes)
	if got := testutil.ToFloat64(l.metrics.queueWrites); got != float64(writes) {
		t.Fatalf("metric paraphe_ledger_queue_writes_total = %v, storage saw %d writes", got, writes)
	}
	if got := testutil.ToFloat64(l.metrics.appends.WithLabelValues("ok")); got != n {
		t.Fatalf("metric paraphe_ledger_appends_total{result=ok} = %v, want %d", got, n)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint64]bool)
	for p := range pend {
		r, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if seen[r.Index] {
			t.Fatalf("index %d given twice", r.Index)
		}
		seen[r.Index] = true
	}
}

func TestHTTPEndpointsVerifyIndependently(t *testing.T) {
	k := newKeys(t)
	l := openLog(t, testOptions(t, NewMemoryStorage(), k))
	ctx := context.Background()
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()

	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
		}
		return b
	}
	key := string(bytes.TrimSpace(get("/ledger/key")))
	if key != k.vkey {
		t.Fatalf("/ledger/key = %q, want %q", key, k.vkey)
	}
	var old []byte
	var leaves [][]byte
	for i := 1; i <= 37; i++ {
		e := pageRead(t, i)
		p, err := l.Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		leaf, _ := e.Marshal()
		leaves = append(leaves, leaf)
		if i == 13 {
			old = get("/ledger/checkpoint")
		}
	}
	cur := get("/ledger/checkpoint")
	size, root := openNote(t, key, cur)
	oldSize, oldRoot := openNote(t, key, old)
	if size != 37 || oldSize != 13 {
		t.Fatalf("sizes %d and %d, want 37 and 13", size, oldSize)
	}
	tsr := get("/ledger/checkpoint.tsr")
	d := sha256.Sum256([]byte(checkpointText(t, key, cur)))
	if !bytes.Contains(tsr, fakeToken(d[:])) {
		t.Fatalf("checkpoint.tsr does not carry the token over the current checkpoint text")
	}

	var ent struct {
		Entries []struct {
			Index uint64 `json:"index"`
			Leaf  []byte `json:"leaf"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(get("/ledger/entries?start=0&end=37"), &ent); err != nil {
		t.Fatal(err)
	}
	if len(ent.Entries) != 37 {
		t.Fatalf("%d entries, want 37", len(ent.Entries))
	}
	var hashes [][]byte
	for i, e := range ent.Entries {
		if e.Index != uint64(i) || !bytes.Equal(e.Leaf, leaves[i]) {
			t.Fatalf("entry %d: index %d, leaf %q; want %q", i, e.Index, e.Leaf, leaves[i])
		}
		hashes = append(hashes, rfc6962.DefaultHasher.HashLeaf(e.Leaf))
	}
	if !bytes.Equal(rootOf(hashes), root) {
		t.Fatal("root of the entries differs from the checkpoint's")
	}

	type incl struct {
		Index  uint64   `json:"index"`
		Size   uint64   `json:"size"`
		Hashes [][]byte `json:"hashes"`
	}
	for _, idx := range []uint64{0, 1, 12, 20, 36} {
		var ip incl
		json.Unmarshal(get(fmt.Sprintf("/ledger/proof/inclusion?index=%d&size=37", idx)), &ip)
		if ip.Index != idx || ip.Size != 37 {
			t.Fatalf("inclusion answer %+v", ip)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, 37, hashes[idx], ip.Hashes, root); err != nil {
			t.Fatalf("inclusion of %d: %v", idx, err)
		}
		if idx < 13 {
			var bh incl
			h := base64.URLEncoding.EncodeToString(hashes[idx])
			json.Unmarshal(get("/ledger/proof/inclusion?size=13&hash="+h), &bh)
			if bh.Index != idx {
				t.Fatalf("by hash: index %d, want %d", bh.Index, idx)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, 13, hashes[idx], bh.Hashes, oldRoot); err != nil {
				t.Fatalf("inclusion by hash of %d in 13: %v", idx, err)
			}
		}
	}
	var cp struct {
		From   uint64   `json:"from"`
		To     uint64   `json:"to"`
		Hashes [][]byte `json:"hashes"`
	}
	json.Unmarshal(get("/ledger/proof/consistency?from=13&to=37"), &cp)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 13, 37, cp.Hashes, oldRoot, root); err != nil {
		t.Fatalf("consistency 13→37: %v", err)
	}
	if cp.From != 13 || cp.To != 37 {
		t.Fatalf("consistency answer %+v", cp)
	}
}

func TestHTTPBadInput(t *testing.T) {
	k := newKeys(t)
	l := openLog(t, testOptions(t, NewMemoryStorage(), k))
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		p, err := l.Append(ctx, pageRead(t, i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h := l.Handler()
	unknown := base64.StdEncoding.EncodeToString(make([]byte, 32))
	cases := map[string]int{
		"/ledger/entries?start=-1&end=2":                                              400,
		"/ledger/entries?start=0":                                                     400,
		"/ledger/entries?start=3&end=2":                                               400,
		"/ledger/entries?start=2&end=2":                                               400,
		"/ledger/entries?start=0&end=6":                                               400,
		"/ledger/entries?start=0&end=99999999999999999999999":                         400,
		"/ledger/entries?start=0&end=1e3":                                             400,
		"/ledger/entries?start=00&end=1":                                              400,
		"/ledger/entries?start=0&end=1&end=2":                                         400,
		"/ledger/entries?start=0&end=1&x=1":                                           400,
		"/ledger/entries?start=%2B1&end=2":                                            400,
		"/ledger/entries?start=0&end=5":                                               200,
		"/ledger/proof/inclusion?index=5&size=5":                                      400,
		"/ledger/proof/inclusion?index=0&size=6":                                      400,
		"/ledger/proof/inclusion?index=0&size=0":                                      400,
		"/ledger/proof/inclusion?index=-1&size=5":                                     400,
		"/ledger/proof/inclusion?size=5":                                              400,
		"/ledger/proof/inclusion?index=0&hash=AAAA&size=5":                            400,
		"/ledger/proof/inclusion?hash=AAAA&size=5":                                    400,
		"/ledger/proof/inclusion?hash=!!!!&size=5":                                    400,
		"/ledger/proof/inclusion?hash=" + unknown + "&size=5":                         404,
		"/ledger/proof/inclusion?index=4&size=5":                                      200,
		"/ledger/proof/consistency?from=3&to=2":                                       400,
		"/ledger/proof/consistency?from=1&to=6":                                       400,
		"/ledger/proof/consistency?from=-1&to=2":                                      400,
		"/ledger/proof/consistency?from=1":                                            400,
		"/ledger/proof/consistency?from=18446744073709551615&to=18446744073709551615": 400,
		"/ledger/proof/consistency?from=0&to=5":                                       200,
		"/ledger/proof/consistency?from=2&to=5":                                       200,
		"/ledger/proof/consistency?from=5&to=5":                                       200,
	}
	for path, want := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d %q, want %d", path, rec.Code, rec.Body.String(), want)
		}
		if want == 400 && len(bytes.TrimSpace(rec.Body.Bytes())) == 0 {
			t.Errorf("GET %s: 400 without a message", path)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/ledger/checkpoint", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ledger/checkpoint: %d, want 405", rec.Code)
	}
}

func TestClosedAndCancelled(t *testing.T) {
	k := newKeys(t)
	l := openLog(t, testOptions(t, NewMemoryStorage(), k))
	ctx := context.Background()
	p, err := l.Append(ctx, pageRead(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.Append(cancelled, pageRead(t, 2)); err == nil {
		t.Error("Append with a cancelled context succeeded")
	}
	if _, err := (Pending{}).Wait(ctx); err == nil {
		t.Error("Wait on a zero Pending succeeded")
	}
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := l.Append(ctx, pageRead(t, 3)); err != ErrClosed {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	k := newKeys(t)
	other := newKeys(t)
	good := testOptions(t, NewMemoryStorage(), k)
	cases := map[string]func(o *Options){
		"no storage":        func(o *Options) { o.Storage = Storage{} },
		"no origin":         func(o *Options) { o.Origin = "" },
		"two-line origin":   func(o *Options) { o.Origin = "a\nb" },
		"no signer":         func(o *Options) { o.Signer = nil },
		"bad verifier key":  func(o *Options) { o.VerifierKey = "nonsense" },
		"other key":         func(o *Options) { o.VerifierKey = other.vkey },
		"negative window":   func(o *Options) { o.GroupCommitWindow = -1 },
		"negative interval": func(o *Options) { o.CheckpointInterval = -1 },
	}
	for name, mod := range cases {
		o := good
		mod(&o)
		if l, err := Open(context.Background(), o); err == nil {
			l.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// failingTSA refuses every request, as a TSA with an untrusted clock does.
type failingTSA struct{}

func (failingTSA) Timestamp(context.Context, []byte, crypto.Hash) ([]byte, error) {
	return nil, fmt.Errorf("clock not trusted")
}

// TestNoCheckpointWithoutTimestamp: while the TSA refuses, Open succeeds but no checkpoint is
// published, neither in process nor over HTTP (see also TestOpenWhileTSARefuses).
func TestNoCheckpointWithoutTimestamp(t *testing.T) {
	k := newKeys(t)
	o := testOptions(t, NewMemoryStorage(), k)
	o.Timestamper = failingTSA{}
	l := openLog(t, o)
	if cp, err := l.Checkpoint(context.Background()); err == nil {
		t.Fatalf("a checkpoint of size %d was published without a timestamp", cp.Size)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/ledger/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("GET /ledger/checkpoint served a checkpoint without a timestamp")
	}
}

// TestReceiptVerifies checks receipts with the pure verifier that evidence bundles use.
func TestReceiptVerifies(t *testing.T) {
	k := newKeys(t)
	l := openLog(t, testOptions(t, NewMemoryStorage(), k))
	ctx := context.Background()
	v, err := verify.NewVerifier(k.vkey)
	if err != nil {
		t.Fatal(err)
	}
	var pend []Pending
	var leaves [][]byte
	for i := 0; i < 9; i++ {
		e := pageRead(t, i+1)
		leaf, _ := e.Marshal()
		leaves = append(leaves, leaf)
		p, err := l.Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		pend = append(pend, p)
	}
	for i, p := range pend {
		r, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify.Receipt(v, testOrigin, leaves[i], r.Index, r.Proof, r.Checkpoint); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		if _, err := verify.Receipt(v, testOrigin, leaves[(i+1)%9], r.Index, r.Proof, r.Checkpoint); err == nil {
			t.Fatalf("receipt %d verified for another leaf", i)
		}
	}
}

// flakyTSA refuses the calls numbered in fail (from 1), as a TSA whose clock is briefly
// untrusted does, and stamps the others like fakeTSA.
type flakyTSA struct {
	mu    sync.Mutex
	calls int
	fail  map[int]bool
}

func (f *flakyTSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if f.fail[n] {
		return nil, fmt.Errorf("refusing call %d", n)
	}
	return fakeToken(digest), nil
}

func TestCheckpointRetriedAfterTSARefusal(t *testing.T) {
	k := newKeys(t)
	o := testOptions(t, NewMemoryStorage(), k)
	tsa := &flakyTSA{fail: map[int]bool{2: true, 3: true, 4: true}}
	o.Timestamper = tsa
	l := openLog(t, o)
	ctx := context.Background()
	p, err := l.Append(ctx, pageRead(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte(checkpointText(t, k.vkey, r.Checkpoint)))
	if r.TreeSize != 1 || !bytes.Equal(r.Timestamp, fakeToken(d[:])) {
		t.Fatalf("receipt of size %d with token %x after TSA refusals", r.TreeSize, r.Timestamp)
	}
	if got := testutil.ToFloat64(l.metrics.errors.WithLabelValues("checkpoint")); got != 3 {
		t.Fatalf("%v checkpoint errors counted, want 3", got)
	}
}

// TestClockSteppingBack runs the log with a clock that goes backwards at every reading, as a
// wall clock stepped back by NTP does: sequencing must not stall (Trillian refuses a root not
// newer than the previous one).
func TestClockSteppingBack(t *testing.T) {
	k := newKeys(t)
	o := testOptions(t, NewMemoryStorage(), k)
	var mu sync.Mutex
	now := time.Now()
	o.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(-time.Minute)
		return now
	}
	l := openLog(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		p, err := l.Append(ctx, pageRead(t, i+1))
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("receipt %d with a clock going backwards: %v", i, err)
		}
		if r.Index != uint64(i) {
			t.Fatalf("index %d, want %d", r.Index, i)
		}
	}
}

// switchTSA refuses every call while off is set.
type switchTSA struct{ off atomic.Bool }

func (s *switchTSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	if s.off.Load() {
		return nil, errors.New("clock not trusted")
	}
	return fakeToken(digest), nil
}

// TestStatusReportsFailingPublication: while checkpoints cannot be published (the TSA refuses)
// Status names the step and the cause; once they can again, Status is nil.
func TestStatusReportsFailingPublication(t *testing.T) {
	k := newKeys(t)
	o := testOptions(t, NewMemoryStorage(), k)
	ts := &switchTSA{}
	o.Timestamper = ts
	l := openLog(t, o)
	ctx := context.Background()
	if err := l.Status(); err != nil {
		t.Fatalf("status of a fresh log: %v", err)
	}
	ts.off.Store(true)
	p, err := l.Append(ctx, pageRead(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for l.Status() == nil {
		if time.Now().After(deadline) {
			t.Fatal("Status stayed nil while no checkpoint could be published")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Status(); !strings.Contains(err.Error(), "publishing a checkpoint") || !strings.Contains(err.Error(), "clock not trusted") {
		t.Fatalf("status: %v", err)
	}
	ts.off.Store(false)
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for l.Status() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Status still %v after a checkpoint was published", l.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCheckpointBudget: under sustained appends checkpoints are published at most once per
// CheckpointInterval on average, plus a burst of checkpointBurst.
func TestCheckpointBudget(t *testing.T) {
	k := newKeys(t)
	o := testOptions(t, NewMemoryStorage(), k)
	o.CheckpointInterval = 20 * time.Millisecond
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	l := openLog(t, o)
	ctx := context.Background()
	before := testutil.ToFloat64(l.metrics.checkpoints)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; time.Since(start) < 300*time.Millisecond; i++ {
				if _, err := l.Append(ctx, pageRead(t, w*100000+i+1)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	got := testutil.ToFloat64(l.metrics.checkpoints) - before
	limit := float64(elapsed/o.CheckpointInterval) + checkpointBurst + 1
	if got > limit || got < 2 {
		t.Fatalf("%v checkpoints in %v at one per %v (burst %d): want 2 to %v", got, elapsed, o.CheckpointInterval, checkpointBurst, limit)
	}
}

// TestOpenWhileTSARefuses: a log opened while its TSA refuses (a clock not yet trusted at
// boot) opens, takes appends durably, says why it publishes nothing, and publishes — receipts
// included — once the TSA answers.
func TestOpenWhileTSARefuses(t *testing.T) {
	k := newKeys(t)
	o := testOptions(t, NewMemoryStorage(), k)
	ts := &switchTSA{}
	ts.off.Store(true)
	o.Timestamper = ts
	l := openLog(t, o)
	ctx := context.Background()
	if err := l.Status(); err == nil || !strings.Contains(err.Error(), "clock not trusted") {
		t.Fatalf("status while the TSA refuses: %v", err)
	}
	if _, err := l.Checkpoint(ctx); err == nil {
		t.Fatal("a checkpoint was published without a timestamp")
	}
	p, err := l.Append(ctx, pageRead(t, 1))
	if err != nil {
		t.Fatalf("append while the TSA refuses: %v", err)
	}
	ts.off.Store(false)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := p.Wait(wctx)
	if err != nil {
		t.Fatalf("receipt once the TSA answers: %v", err)
	}
	if r.TreeSize < 1 || len(r.Timestamp) == 0 {
		t.Fatalf("receipt of size %d, token %d bytes", r.TreeSize, len(r.Timestamp))
	}
	if err := l.Status(); err != nil {
		t.Fatalf("status once published: %v", err)
	}
}
