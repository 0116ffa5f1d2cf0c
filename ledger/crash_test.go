package ledger

import (
	"bufio"
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/ledger/event"
)

// The crash test re-runs this test binary as a child process (see TestMain) that appends
// under load to a ledger on Badger in the directory named by crashDirEnv.
const (
	crashDirEnv  = "PARAPHE_LEDGER_CRASH_DIR"
	crashSKeyEnv = "PARAPHE_LEDGER_CRASH_SKEY"
	crashVKeyEnv = "PARAPHE_LEDGER_CRASH_VKEY"
)

// crashChild appends events from several goroutines until it is killed, printing
// "ack ID LEAFHASH" once Append has acknowledged an event and "cp BASE64NOTE" for each
// checkpoint it sees published.
func crashChild(dir, skey, vkey string) error {
	ctx := context.Background()
	quietTrillian()
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	store, err := badgerstore.Open(ctx, dir, badgerstore.Options{})
	if err != nil {
		return err
	}
	l, err := Open(ctx, Options{
		Storage: NewBadgerStorage(store), Origin: testOrigin, Signer: signer, VerifierKey: vkey,
		Timestamper: &fakeTSA{}, GroupCommitWindow: time.Millisecond,
	})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	emit := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
		out.Flush()
	}
	emit("ready\n")
	go func() {
		var last uint64
		for {
			if cp, err := l.Checkpoint(ctx); err == nil && cp.Size != last {
				last = cp.Size
				emit("cp %s\n", base64.StdEncoding.EncodeToString(cp.Note))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for w := 0; w < 16; w++ {
		go func(w int) {
			for i := 0; ; i++ {
				e, err := event.New(event.PageRead, time.Now(), fmt.Sprintf("env-%d", w), "s", map[string]any{"document": "d", "page": i})
				if err != nil {
					panic(err)
				}
				p, err := l.Append(ctx, e)
				if err != nil {
					emit("error %v\n", err)
					return
				}
				emit("ack %s %x\n", p.ID, p.LeafHash)
				if w%2 == 0 {
					if _, err := p.Wait(ctx); err != nil {
						emit("error %v\n", err)
						return
					}
				}
			}
		}(w)
	}
	select {}
}

// runChild starts the child, lets it append for a random time, kills it with SIGKILL and
// returns what it printed in complete lines.
func runChild(t *testing.T, dir, skey, vkey string, rng *rand.Rand) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSKeyEnv+"="+skey, crashVKeyEnv+"="+vkey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a partial last line is dropped: the child died while printing it
			}
			if line == "ready\n" {
				close(ready)
			}
			buf.WriteString(line)
		}
	}()
	select {
	case <-ready:
	case <-done:
		cmd.Wait()
		t.Fatalf("crash child exited before being ready: %s", stderr.Bytes())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("crash child not ready after 30s: %s", stderr.Bytes())
	}
	time.Sleep(time.Duration(20+rng.IntN(230)) * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	cmd.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "error ") {
			t.Fatalf("crash child: %s", l)
		}
	}
	return lines
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	rounds := 24
	dir := t.TempDir()
	skey, vkey, err := note.GenerateKey(cryptorand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	acked := map[string]string{} // leaf hash → id
	var saved [][]byte           // checkpoints the child saw published before a kill
	var checkedThrough uint64    // stored checkpoints up to this size were checked already
	for round := 0; round < rounds; round++ {
		lines := runChild(t, dir, skey, vkey, rng)
		newAcks := 0
		for _, l := range lines {
			f := strings.Fields(l)
			switch {
			case len(f) == 3 && f[0] == "ack":
				acked[f[2]] = f[1]
				newAcks++
			case len(f) == 2 && f[0] == "cp":
				n, err := base64.StdEncoding.DecodeString(f[1])
				if err != nil {
					t.Fatal(err)
				}
				saved = append(saved, n)
			}
		}
		checkedThrough = checkAfterCrash(t, dir, vkey, skey, acked, saved, checkedThrough)
		t.Logf("round %d: %d events acknowledged before the kill (%d in all), %d checkpoints seen", round, newAcks, len(acked), len(saved))
	}
	if len(acked) == 0 {
		t.Fatal("no event was ever acknowledged")
	}
}

// checkAfterCrash reopens the ledger and checks, through its HTTP API and independent
// verification, that every acknowledged event is in the tree and that the tree is consistent
// with every checkpoint published before the kills: those the child printed, and every
// checkpoint in the stored history above size checkedThrough (those below were checked in
// earlier rounds against a tree that this one extends). It returns the size of the latest
// stored checkpoint it checked.
func checkAfterCrash(t *testing.T, dir, vkey, skey string, acked map[string]string, saved [][]byte, checkedThrough uint64) uint64 {
	t.Helper()
	ctx := context.Background()
	signer, _ := note.NewSigner(skey)
	store := openBadger(t, dir)
	defer store.Close()
	l, err := Open(ctx, Options{Storage: NewBadgerStorage(store), Origin: testOrigin, Signer: signer, VerifierKey: vkey})
	if err != nil {
		t.Fatalf("reopening after the kill: %v", err)
	}
	defer l.Close()
	// A marker appended now is sequenced after everything queued before the kill (FIFO).
	p, err := l.Append(ctx, pageRead(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	get := func(path string, v any) []byte {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s %s", path, resp.Status, b)
		}
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	size, root := openNote(t, vkey, get("/ledger/checkpoint", nil))
	present := make(map[string]bool, size)
	var hashes [][]byte
	for start := uint64(0); start < size; {
		var page struct {
			Entries []struct {
				Index uint64 `json:"index"`
				Leaf  []byte `json:"leaf"`
			} `json:"entries"`
		}
		get(fmt.Sprintf("/ledger/entries?start=%d&end=%d", start, size), &page)
		for _, e := range page.Entries {
			h := rfc6962.DefaultHasher.HashLeaf(e.Leaf)
			hashes = append(hashes, h)
			present[hex.EncodeToString(h)] = true
		}
		start += uint64(len(page.Entries))
	}
	if !bytes.Equal(rootOf(hashes), root) {
		t.Fatalf("root recomputed from %d entries differs from the checkpoint", size)
	}
	for h, id := range acked {
		if !present[h] {
			t.Fatalf("event %s (leaf %s) was acknowledged before the kill but is not in the tree of size %d", id, h, size)
		}
	}
	hist, err := l.CheckpointHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var fresh [][]byte
	through := checkedThrough
	for _, h := range hist {
		if h.Size > checkedThrough {
			fresh = append(fresh, h.Note)
			through = max(through, h.Size)
		}
	}
	for _, n := range append(saved, fresh...) {
		oldSize, oldRoot := openNote(t, vkey, n)
		var cp struct {
			Hashes [][]byte `json:"hashes"`
		}
		get(fmt.Sprintf("/ledger/proof/consistency?from=%d&to=%d", oldSize, size), &cp)
		if oldSize == 0 {
			continue
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, oldSize, size, cp.Hashes, oldRoot, root); err != nil {
			t.Fatalf("the tree of size %d is not consistent with checkpoint %d published before a kill: %v", size, oldSize, err)
		}
	}
	return through
}
