package ca

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/internal/testtool"
)

// TestOpenSSL is the issue's "done means": the real openssl checks a signer certificate, our
// OCSP responder (good, then revoked) and our CRL, against a running server.
func TestOpenSSL(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	ctx := context.Background()
	var h http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	c := newTestCA(t, nil, func(o *Options) { o.BaseURL = srv.URL; o.Now = nil })
	h = c.Handler()

	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	get := func(path string) []byte {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return b
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(p(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("chain.pem", get("/ca/chain.pem"))
	write("root.pem", get("/ca/root.pem"))
	write("issuing.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: get("/ca/issuing.crt")}))

	cert, err := c.IssueSigner(ctx, signerRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	write("signer.pem", pemCert(cert))

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	for _, extra := range [][]string{nil, {"-x509_strict"}, {"-purpose", "smimesign"}} {
		args := append([]string{"verify"}, extra...)
		out := run(append(args, "-CAfile", p("root.pem"), "-untrusted", p("issuing.pem"), p("signer.pem"))...)
		if !strings.Contains(out, "signer.pem: OK") {
			t.Errorf("openssl verify %v: %s", extra, out)
		}
	}

	ocspCheck := func(want string, extra ...string) string {
		t.Helper()
		args := append(append([]string{"ocsp", "-issuer", p("issuing.pem")}, extra...), "-cert", p("signer.pem"), "-url", srv.URL+"/ocsp", "-CAfile", p("chain.pem"))
		out := run(args...)
		if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "signer.pem: "+want) {
			t.Errorf("openssl ocsp %v: want %q\n%s", extra, want, out)
		}
		if strings.Contains(out, "WARNING") || strings.Contains(out, "nonce") {
			t.Errorf("openssl ocsp %v warns:\n%s", extra, out)
		}
		return out
	}
	ocspCheck("good")
	ocspCheck("good", "-sha256")
	ocspCheck("good", "-no_nonce")

	// A serial we never issued.
	out := run("ocsp", "-issuer", p("issuing.pem"), "-serial", "0x1234567890", "-url", srv.URL+"/ocsp", "-CAfile", p("chain.pem"))
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "0x1234567890: unknown") {
		t.Errorf("unknown serial:\n%s", out)
	}

	if err := c.Revoke(ctx, cert.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	out = ocspCheck("revoked")
	if !strings.Contains(out, "Reason: keyCompromise") {
		t.Errorf("no revocation reason:\n%s", out)
	}

	write("crl.der", get("/ca/crl"))
	out = run("crl", "-inform", "DER", "-in", p("crl.der"), "-CAfile", p("chain.pem"), "-noout", "-text")
	serial := strings.ToUpper(cert.SerialNumber.Text(16))
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	if !strings.Contains(out, "verify OK") || !strings.Contains(out, "Serial Number: "+serial) || !strings.Contains(out, "Key Compromise") || !strings.Contains(out, "Next Update:") {
		t.Errorf("openssl crl: want verify OK and serial %s\n%s", serial, out)
	}
	// With the CRL, openssl verify itself now refuses the signer certificate.
	crlPEM := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: get("/ca/crl")})
	write("crl.pem", crlPEM)
	vout, err := exec.Command(openssl, "verify", "-crl_check", "-CAfile", p("root.pem"), "-untrusted", p("issuing.pem"), "-CRLfile", p("crl.pem"), p("signer.pem")).CombinedOutput()
	if err == nil || !strings.Contains(string(vout), "certificate revoked") {
		t.Errorf("openssl verify -crl_check accepted a revoked certificate:\n%s", vout)
	}
	if _, err := x509.ParseRevocationList(get("/ca/crl")); err != nil {
		t.Fatal(err)
	}
}
