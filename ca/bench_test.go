package ca

import (
	"bytes"
	"context"
	"crypto"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkIssueSigner: one signer certificate (P-256 issuing key in an encrypted softkms
// file, loaded), recorded in an on-disk Badger with SyncWrites, as the appliance runs it.
func BenchmarkIssueSigner(b *testing.B) {
	c := newTestCA(b, openDB(b, b.TempDir()))
	req := signerRequest(b)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.IssueSigner(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Concurrent issuances share Badger's synced commits.
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.IssueSigner(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkOCSP: one OCSP response with a nonce for a good certificate, in process (parse,
// lookup, sign) and through the HTTP handler.
func BenchmarkOCSP(b *testing.B) {
	c := newTestCA(b, openDB(b, b.TempDir()))
	ctx := context.Background()
	cert, err := c.IssueSigner(ctx, signerRequest(b))
	if err != nil {
		b.Fatal(err)
	}
	req := buildRequest(b, octets(bytes.Repeat([]byte{7}, 32)), certIDFor(b, cert.SerialNumber, crypto.SHA1))
	b.Run("respond", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if resp := c.RespondOCSP(ctx, req); len(resp) < 100 {
					b.Error("error response")
					return
				}
			}
		})
	})
	b.Run("handler", func(b *testing.B) {
		h := c.Handler()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r := httptest.NewRequest(http.MethodPost, "/ocsp", bytes.NewReader(req))
				r.Header.Set("Content-Type", "application/ocsp-request")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 || w.Body.Len() < 100 {
					b.Error("bad response")
					return
				}
			}
		})
	})
}
