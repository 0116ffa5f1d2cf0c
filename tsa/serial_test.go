package tsa

import (
	"context"
	"crypto"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/digitorus/timestamp"
)

func serialOf(t *testing.T, ts *TSA) *big.Int {
	t.Helper()
	tok, err := ts.Timestamp(context.Background(), make([]byte, 32), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	p, err := timestamp.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	return p.SerialNumber
}

// TestSerialsAcrossRestarts restarts the TSA on one state directory and checks that the boot
// number advances and that no serial repeats.
func TestSerialsAcrossRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "tsa") // created by New
	seen := map[string]bool{}
	var lastBoot uint32
	for restart := range 5 {
		ts := newTestTSA(t, func(o *Options) { o.StateDir = dir })
		if ts.serials.boot != lastBoot+1 {
			t.Fatalf("restart %d: boot %d, want %d", restart, ts.serials.boot, lastBoot+1)
		}
		lastBoot = ts.serials.boot
		for range 50 {
			s := serialOf(t, ts)
			if seen[s.String()] {
				t.Fatalf("restart %d: serial %x repeated", restart, s)
			}
			seen[s.String()] = true
			if got := uint32(new(big.Int).Rsh(s, 128).Uint64()); got != lastBoot {
				t.Fatalf("serial %x does not carry boot %d", s, lastBoot)
			}
		}
		if err := ts.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, bootFileName))
	if err != nil || string(data) != "5\n" {
		t.Fatalf("state file holds %q (%v), want 5", data, err)
	}
}

func TestSerialStateErrors(t *testing.T) {
	f := testFixture(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, bootFileName), []byte("not a number"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Options{Signer: f.tsuKey, Cert: f.tsu, StateDir: dir, Logger: quietLogger()}); err == nil {
		t.Fatal("New accepted a corrupt serial state")
	}
	if _, err := New(context.Background(), Options{Signer: f.tsuKey, Cert: f.tsu, Logger: quietLogger()}); err == nil {
		t.Fatal("New accepted an empty StateDir")
	}
}

// TestSerialBootsConcurrent starts TSAs on one directory at once: each must get its own boot.
func TestSerialBootsConcurrent(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	boots := map[uint32]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, err := newSerialSource(dir)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if boots[s.boot] {
				t.Errorf("boot %d handed out twice", s.boot)
			}
			boots[s.boot] = true
		})
	}
	wg.Wait()
	if len(boots) != 8 {
		t.Fatalf("%d distinct boots, want 8", len(boots))
	}
}
