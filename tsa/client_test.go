package tsa

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// applianceServer serves the TSA handler plus /ca/root.pem, as `paraphe serve` does.
func applianceServer(t *testing.T, ts *TSA, withRoot bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	h := ts.Handler()
	mux.Handle("/tsa", h)
	mux.Handle("/tsa/", h)
	if withRoot {
		root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testFixture(t).root.Raw})
		mux.HandleFunc("GET /ca/root.pem", func(w http.ResponseWriter, r *http.Request) { w.Write(root) })
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestQuery(t *testing.T) {
	f := testFixture(t)
	ts := newTestTSA(t, nil)
	for _, withRoot := range []bool{true, false} {
		srv := applianceServer(t, ts, withRoot)
		roots, inter, err := FetchTrust(context.Background(), nil, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			res, err := Query(context.Background(), strings.NewReader("document"), QueryOptions{URL: srv.URL + "/tsa", Hash: h, Roots: roots, Intermediates: inter})
			if err != nil {
				t.Fatalf("root served=%v %v: %v", withRoot, h, err)
			}
			if res.Timestamp.HashAlgorithm != h || res.Timestamp.Nonce.Cmp(res.Nonce) != 0 || !res.Signer.Equal(f.tsu) {
				t.Fatalf("result %+v", res.Timestamp)
			}
		}
	}
	srv := applianceServer(t, ts, true)
	_, err := Query(context.Background(), strings.NewReader("x"), QueryOptions{URL: srv.URL + "/tsa", Roots: f.roots, Policy: asn1.ObjectIdentifier{1, 2, 3}})
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.FailInfo != UnacceptedPolicy {
		t.Fatalf("foreign policy: %v, want an unacceptedPolicy refusal", err)
	}
	// A reply checked against another root fails.
	other, err := newFixture(elliptic.P256(), elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Query(context.Background(), strings.NewReader("x"), QueryOptions{URL: srv.URL + "/tsa", Roots: other.roots}); err == nil {
		t.Fatal("reply verified against a foreign root")
	}
}
