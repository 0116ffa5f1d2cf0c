package tsa

import (
	"context"
	"crypto"
	"sync"
	"testing"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
)

// TestPKCS7PinRejectsShortBER guards the go.mod pin of github.com/digitorus/pkcs7: the version
// the timestamp module asks for (20230713) panics on these two bytes. If this test panics, the
// pin was lost.
func TestPKCS7PinRejectsShortBER(t *testing.T) {
	in := []byte{0x1f, 0x80}
	if _, err := pkcs7.Parse(in); err == nil {
		t.Error("pkcs7.Parse(1f 80) returned no error")
	}
	if _, err := timestamp.Parse(in); err == nil {
		t.Error("timestamp.Parse(1f 80) returned no error")
	}
	if _, err := timestamp.ParseResponse(in); err == nil {
		t.Error("timestamp.ParseResponse(1f 80) returned no error")
	}
	if _, err := VerifyToken(in, make([]byte, 32), crypto.SHA256, testFixture(t).roots, nil); err == nil {
		t.Error("VerifyToken(1f 80) returned no error")
	}
}

// TestConcurrentTokenParsing is meant for -race: the older pkcs7 shares a global while parsing.
func TestConcurrentTokenParsing(t *testing.T) {
	f := testFixture(t)
	ts := newTestTSA(t, nil)
	tokens := make([][]byte, 8)
	for i := range tokens {
		tok, err := ts.Timestamp(context.Background(), make([]byte, 32), crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				tok := tokens[(g+i)%len(tokens)]
				if _, err := timestamp.Parse(tok); err != nil {
					errs <- err
					return
				}
				if _, err := VerifyToken(tok, make([]byte, 32), crypto.SHA256, f.roots, nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
