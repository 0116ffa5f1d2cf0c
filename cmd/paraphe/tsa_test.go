package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/internal/testtool"
	"github.com/paraphe/paraphe/tsa"
)

// TestTSAQuery runs `paraphe tsa query` against a live TSA, with a pinned root and with the
// chain fetched from the server, and checks the saved reply with openssl.
func TestTSAQuery(t *testing.T) {
	now := time.Now()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rootKey, tsuKey := key(), key()
	mk := func(tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CLI root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	root := mk(rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tsu := mk(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{Country: []string{"FR"}, Organization: []string{"CLI"}, CommonName: "CLI TSU"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}},
		root, tsuKey.Public(), rootKey)
	authority, err := tsa.New(context.Background(), tsa.Options{Signer: tsuKey, Cert: tsu, Chain: []*x509.Certificate{root}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer authority.Close()
	srv := httptest.NewServer(authority.Handler())
	defer srv.Close()

	dir := t.TempDir()
	file, rootPEM, out := filepath.Join(dir, "doc.pdf"), filepath.Join(dir, "root.pem"), filepath.Join(dir, "r.tsr")
	os.WriteFile(file, []byte("%PDF-1.7 document"), 0o644)
	os.WriteFile(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644)

	var stdout, stderr bytes.Buffer
	if err := runTSA(context.Background(), []string{"query", file, "--url", srv.URL, "--hash", "sha384", "--ca", rootPEM, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"Verification: OK", "genTime:", "serial:   0x", "policy:   0.4.0.2023.1.1", "accuracy: 1s", "SHA-384"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	openssl := testtool.Require(t, "openssl")
	if o, err := exec.Command(openssl, "ts", "-verify", "-in", out, "-data", file, "-CAfile", rootPEM).CombinedOutput(); err != nil || !strings.Contains(string(o), "Verification: OK") {
		t.Fatalf("openssl on the saved reply: %v\n%s", err, o)
	}

	// Without --ca the chain comes from /tsa/certs.pem (no /ca/root.pem here: the self-signed
	// certificate of the chain is taken), with a warning.
	stdout.Reset()
	stderr.Reset()
	if err := runTSA(context.Background(), []string{"query", "--url", srv.URL + "/tsa", file}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Verification: OK") || !strings.Contains(stderr.String(), "warning") {
		t.Fatalf("stdout %s\nstderr %s", stdout.String(), stderr.String())
	}
	if err := runTSA(context.Background(), []string{"query", file}, &stdout, &stderr); err == nil {
		t.Fatal("missing --url accepted")
	}
	if err := runTSA(context.Background(), []string{"query", file, "--url", srv.URL, "--hash", "sha1"}, &stdout, &stderr); err == nil {
		t.Fatal("--hash sha1 accepted")
	}
}
