package tsa

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"sync"
	"testing"

	"github.com/digitorus/timestamp"
)

// TestConcurrentIssuance issues 10,000 tokens from many goroutines (run it with -race): every
// serial is distinct and every token verifies against its own imprint.
func TestConcurrentIssuance(t *testing.T) {
	const total, workers = 10000, 32
	f := testFixture(t)
	ts := newTestTSA(t, nil)
	tokens := make([][]byte, total)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				d := digestFor(i)
				if i%2 == 0 {
					tok, err := ts.Timestamp(context.Background(), d, crypto.SHA256)
					if err != nil {
						t.Errorf("token %d: %v", i, err)
						return
					}
					tokens[i] = tok
					continue
				}
				tok, err := TokenFromResponse(ts.Respond(context.Background(), makeRequest(t, crypto.SHA256, d, nil, true, nil)))
				if err != nil {
					t.Errorf("token %d: %v", i, err)
					return
				}
				tokens[i] = tok
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	serials := make(map[string]int, total)
	for i, tok := range tokens {
		p, err := timestamp.Parse(tok)
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if j, dup := serials[p.SerialNumber.String()]; dup {
			t.Fatalf("tokens %d and %d share serial %x", j, i, p.SerialNumber)
		}
		serials[p.SerialNumber.String()] = i
	}
	// Verify all of them, spread over the CPUs.
	var vg sync.WaitGroup
	n := runtime.GOMAXPROCS(0)
	for w := range n {
		vg.Go(func() {
			for i := w; i < total; i += n {
				if _, err := VerifyToken(tokens[i], digestFor(i), crypto.SHA256, f.roots, nil); err != nil {
					t.Errorf("token %d does not verify: %v", i, err)
					return
				}
			}
		})
	}
	vg.Wait()
}

func digestFor(i int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	d := sha256.Sum256(b[:])
	return d[:]
}
