package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerHTTPErrors(t *testing.T) {
	ts := newTestTSA(t, nil)
	srv := httptest.NewServer(ts.Handler())
	defer srv.Close()
	query := makeRequest(t, crypto.SHA256, make([]byte, 32), nil, true, nil)

	do := func(method, path, ctype string, body io.Reader) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	cases := []struct {
		name, method, path, ctype string
		body                      io.Reader
		want                      int
	}{
		{"granted", "POST", "/tsa", ContentTypeQuery, bytes.NewReader(query), 200},
		{"content type with parameters", "POST", "/tsa", "Application/Timestamp-Query; charset=binary", bytes.NewReader(query), 200},
		{"garbage is a rejection, not an HTTP error", "POST", "/tsa", ContentTypeQuery, strings.NewReader("garbage"), 200},
		{"GET", "GET", "/tsa", "", nil, 405},
		{"PUT", "PUT", "/tsa", ContentTypeQuery, bytes.NewReader(query), 405},
		{"no content type", "POST", "/tsa", "", bytes.NewReader(query), 415},
		{"json", "POST", "/tsa", "application/json", strings.NewReader("{}"), 415},
		{"oversized", "POST", "/tsa", ContentTypeQuery, bytes.NewReader(make([]byte, MaxRequestBytes+1)), 413},
		// Chunked, no Content-Length: the cap applies while reading.
		{"oversized chunked", "POST", "/tsa", ContentTypeQuery, io.MultiReader(bytes.NewReader(make([]byte, MaxRequestBytes)), strings.NewReader("x")), 413},
		{"certs POST", "POST", "/tsa/certs.pem", "", nil, 405},
		{"unknown path", "GET", "/tsa/other", "", nil, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := do(c.method, c.path, c.ctype, c.body)
			if resp.StatusCode != c.want {
				t.Fatalf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
			}
			if c.want == 200 && resp.Header.Get("Content-Type") != ContentTypeReply {
				t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			if c.want == 405 && resp.Header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
}

func TestHandlerCertsPEM(t *testing.T) {
	f := testFixture(t)
	ts := newTestTSA(t, nil)
	srv := httptest.NewServer(ts.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/tsa/certs.pem")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var certs []*x509.Certificate
	for block, rest := pem.Decode(body); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 || !certs[0].Equal(f.tsu) || !certs[1].Equal(f.root) {
		t.Fatalf("certs.pem holds %d certificates, want the TSU certificate then the root", len(certs))
	}
}
