package ca

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/paraphe/paraphe/internal/testtool"
)

func TestRootRoutes(t *testing.T) {
	c := newTestCA(t, nil)
	h := c.Handler()
	get := func(h http.Handler, method, path string) *http.Response {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Result()
	}
	for _, r := range []struct {
		path, typ string
		body      []byte
	}{
		{"/ca/root.crl", "application/pkix-crl", testKeys.RootCRL},
		{"/ca/root.crt", "application/pkix-cert", testKeys.Root.Raw},
	} {
		resp := get(h, "GET", r.path)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != r.typ || !bytes.Equal(b, r.body) || len(b) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", r.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		if resp := get(h, "HEAD", r.path); resp.StatusCode != 200 {
			t.Errorf("HEAD %s: %d", r.path, resp.StatusCode)
		}
		if resp := get(h, "POST", r.path); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d", r.path, resp.StatusCode)
		}
	}
	if _, err := x509.ParseRevocationList(testKeys.RootCRL); err != nil {
		t.Fatalf("the test hierarchy's root CRL: %v", err)
	}

	// A hierarchy made before root CRLs existed has none to serve.
	old := *testKeys
	old.RootCRL = nil
	oc := newTestCA(t, nil, func(o *Options) { o.Keys = &old })
	if resp := get(oc.Handler(), "GET", "/ca/root.crl"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /ca/root.crl without a root CRL: %d", resp.StatusCode)
	}
}

type fakeFetcher struct{ calls int }

func (f *fakeFetcher) Revocation(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, [][]byte, error) {
	f.calls++
	return [][]byte{[]byte("fallback")}, nil, nil
}

func TestInProcessRevocation(t *testing.T) {
	ctx := context.Background()
	c := newTestCA(t, nil)
	cert, err := c.IssueSigner(ctx, signerRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	src := c.RevocationSource(nil)

	status := func() (crlRevoked bool, ocspStatus int) {
		t.Helper()
		crls, ocsps, err := src.Revocation(ctx, cert, testKeys.Issuing)
		if err != nil || len(crls) != 1 || len(ocsps) != 1 {
			t.Fatalf("signer: %d CRLs, %d OCSP responses, %v", len(crls), len(ocsps), err)
		}
		crl, err := x509.ParseRevocationList(crls[0])
		if err != nil || crl.CheckSignatureFrom(testKeys.Issuing) != nil {
			t.Fatalf("signer CRL: %v", err)
		}
		for _, e := range crl.RevokedCertificateEntries {
			crlRevoked = crlRevoked || e.SerialNumber.Cmp(cert.SerialNumber) == 0
		}
		resp, err := ocsp.ParseResponseForCert(ocsps[0], cert, testKeys.Issuing)
		if err != nil {
			t.Fatalf("signer OCSP: %v", err)
		}
		return crlRevoked, resp.Status
	}
	if rev, st := status(); rev || st != ocsp.Good {
		t.Fatalf("fresh signer: on CRL %v, OCSP %d", rev, st)
	}
	if err := c.Revoke(ctx, cert.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if rev, st := status(); !rev || st != ocsp.Revoked {
		t.Fatalf("revoked signer: on CRL %v, OCSP %d", rev, st)
	}

	// The certificates the root issues get the root CRL.
	for _, leaf := range []*x509.Certificate{testKeys.Issuing, testKeys.TSA, testKeys.Seal} {
		crls, ocsps, err := src.Revocation(ctx, leaf, testKeys.Root)
		if err != nil || len(crls) != 1 || !bytes.Equal(crls[0], testKeys.RootCRL) || len(ocsps) != 0 {
			t.Errorf("%s: %d CRLs, %d OCSP, %v", leaf.Subject.CommonName, len(crls), len(ocsps), err)
		}
	}
	// The OCSP responder (nocheck) and the root name nothing: nothing to add.
	for _, p := range [][2]*x509.Certificate{{testKeys.OCSP, testKeys.Issuing}, {testKeys.Root, testKeys.Root}} {
		if crls, ocsps, err := src.Revocation(ctx, p[0], p[1]); err != nil || len(crls)+len(ocsps) != 0 {
			t.Errorf("%s: %d CRLs, %d OCSP, %v", p[0].Subject.CommonName, len(crls), len(ocsps), err)
		}
	}
	// A root-issued certificate naming the root CRL when the key set has none is an error.
	old := *testKeys
	old.RootCRL = nil
	if _, _, err := newTestCA(t, nil, func(o *Options) { o.Keys = &old }).RevocationSource(nil).Revocation(ctx, testKeys.TSA, testKeys.Root); err == nil {
		t.Error("no error without a root CRL")
	}

	// Another issuer goes to the fallback, or is an error without one.
	foreign, foreignCA := foreignPair(t)
	if _, _, err := src.Revocation(ctx, foreign, foreignCA); err == nil || !strings.Contains(err.Error(), "not by this appliance's CA") {
		t.Errorf("foreign certificate without fallback: %v", err)
	}
	f := &fakeFetcher{}
	if crls, _, err := c.RevocationSource(f).Revocation(ctx, foreign, foreignCA); err != nil || f.calls != 1 || string(crls[0]) != "fallback" {
		t.Errorf("foreign certificate with fallback: %v (%d calls)", err, f.calls)
	}
	// A certificate claiming the issuing CA without its signature is refused.
	if _, _, err := src.Revocation(ctx, foreign, testKeys.Issuing); err == nil {
		t.Error("accepted a certificate the issuing CA did not sign")
	}
}

// foreignPair is a certificate that names a CRL and its issuer, a self-signed CA from outside
// the hierarchy.
func foreignPair(t *testing.T) (leaf, issuer *x509.Certificate) {
	t.Helper()
	k := signerKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Elsewhere CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: testKeys.Root.NotBefore, NotAfter: testKeys.Root.NotAfter, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Elsewhere signer"}, NotBefore: ca.NotBefore, NotAfter: ca.NotAfter,
		CRLDistributionPoints: []string{"http://elsewhere.invalid/crl"}}
	der, err = x509.CreateCertificate(rand.Reader, lt, ca, signerKey(t).Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return leaf, ca
}

// TestOpenSSLCRLCheckAll: with the root CRL and the issuing CA's CRL, openssl verify
// -crl_check_all accepts a signer certificate (every certificate of the chain has a CRL), and
// the root CRL verifies under the root.
func TestOpenSSLCRLCheckAll(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	ctx := context.Background()
	c := newTestCA(t, nil, func(o *Options) { o.Now = nil })
	cert, err := c.IssueSigner(ctx, signerRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	issuingCRL, err := c.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(p(name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("root.pem", "CERTIFICATE", testKeys.Root.Raw)
	write("issuing.pem", "CERTIFICATE", testKeys.Issuing.Raw)
	write("signer.pem", "CERTIFICATE", cert.Raw)
	write("root.crl", "X509 CRL", testKeys.RootCRL)
	write("issuing.crl", "X509 CRL", issuingCRL)
	if err := os.WriteFile(p("root.der"), testKeys.RootCRL, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("crl", "-inform", "DER", "-in", p("root.der"), "-CAfile", p("root.pem"), "-noout"); err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	out, err := run("verify", "-crl_check_all", "-CRLfile", p("root.crl"), "-CRLfile", p("issuing.crl"), "-CAfile", p("root.pem"), "-untrusted", p("issuing.pem"), p("signer.pem"))
	if err != nil || !strings.Contains(out, "signer.pem: OK") {
		t.Fatalf("openssl verify -crl_check_all: %v\n%s", err, out)
	}
	// Without the root CRL the issuing CA cannot be checked: the root CRL is what was missing.
	out, err = run("verify", "-crl_check_all", "-CRLfile", p("issuing.crl"), "-CAfile", p("root.pem"), "-untrusted", p("issuing.pem"), p("signer.pem"))
	if err == nil || !strings.Contains(out, "unable to get certificate CRL") {
		t.Fatalf("openssl verify -crl_check_all without the root CRL: %v\n%s", err, out)
	}
}
