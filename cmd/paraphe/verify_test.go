package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/paraphe/paraphe/pades"
)

// sealPKI is a root that issues a seal certificate and a TSA certificate; it timestamps and
// gives CRLs itself.
type sealPKI struct {
	root, seal, tsa          *x509.Certificate
	rootKey, sealKey, tsaKey *ecdsa.PrivateKey
}

func newSealPKI(t *testing.T) *sealPKI {
	t.Helper()
	p := &sealPKI{}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	cert := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, k *ecdsa.PrivateKey) *x509.Certificate {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	p.rootKey, p.sealKey, p.tsaKey = key(), key(), key()
	rt := &x509.Certificate{Subject: pkix.Name{CommonName: "CLI Root"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	p.root = cert(rt, rt, p.rootKey.Public(), p.rootKey)
	p.seal = cert(&x509.Certificate{Subject: pkix.Name{CommonName: "Platform Seal"}, KeyUsage: x509.KeyUsageDigitalSignature}, p.root, p.sealKey.Public(), p.rootKey)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	p.tsa = cert(&x509.Certificate{Subject: pkix.Name{CommonName: "CLI TSA"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}}, p.root, p.tsaKey.Public(), p.rootKey)
	return p
}

func (p *sealPKI) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	ts := timestamp.Timestamp{HashAlgorithm: h, HashedMessage: digest, Time: time.Now(), SerialNumber: big.NewInt(time.Now().UnixNano()),
		Policy: asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1}, AddTSACertificate: true}
	resp, err := ts.CreateResponseWithOpts(p.tsa, p.tsaKey, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, err
	}
	return parsed.RawToken, nil
}

func (p *sealPKI) Revocation(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, [][]byte, error) {
	if !issuer.Equal(p.root) {
		return nil, nil, errors.New("unknown issuer")
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour)}, p.root, p.rootKey)
	return [][]byte{crl}, nil, err
}

// minimalPDF is a one-page PDF written by hand.
func minimalPDF() []byte {
	var b bytes.Buffer
	var offs []int
	b.WriteString("%PDF-1.7\n")
	for _, o := range []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
		"<< /Length 0 >>\nstream\n\nendstream",
	} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 5\n0000000000 65535 f \n")
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

func TestVerifyCommand(t *testing.T) {
	p := newSealPKI(t)
	in := minimalPDF()
	var sealed bytes.Buffer
	if err := pades.Seal(context.Background(), bytes.NewReader(in), int64(len(in)), &sealed, pades.SealOptions{
		Signer: p.sealKey, Chain: []*x509.Certificate{p.seal}, Timestamper: p, Revocation: p, Certs: []*x509.Certificate{p.root},
	}); err != nil {
		t.Fatalf("Seal: %v", err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("sealed.pdf", sealed.Bytes())
	root := write("root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}))
	tampered := append([]byte(nil), sealed.Bytes()...)
	tampered[11] ^= 1 // in the binary comment on line 2: covered by the signature, harmless to parsing
	bad := write("tampered.pdf", tampered)
	notPDF := write("notes.txt", []byte("hello"))

	var out, errOut bytes.Buffer
	if err := runVerify(context.Background(), []string{good, "--root", root}, &out, &errOut); err != nil {
		t.Fatalf("verify of a sealed PDF failed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "VALID (PAdES B-LTA)") {
		t.Errorf("report:\n%s", out.String())
	}
	out.Reset()
	if err := runVerify(context.Background(), []string{"--json", "--root=" + root, good, bad, notPDF}, &out, &errOut); err == nil {
		t.Fatal("verify succeeded with a tampered file and a non-PDF")
	}
	var res []struct {
		File  string `json:"file"`
		Valid bool   `json:"valid"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out.String())
	}
	if len(res) != 3 || !res[0].Valid || res[1].Valid || res[2].Valid || !strings.Contains(res[2].Error, "unrecognised") || !strings.Contains(out.String(), "message digest mismatch") {
		t.Errorf("JSON results: %+v", res)
	}
	var u errUsage
	if err := runVerify(context.Background(), []string{good}, &out, &errOut); !errors.As(err, &u) {
		t.Errorf("missing --root: %v, want a usage error", err)
	}
}
