package ca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/paraphe/paraphe/ca/keys"
)

func TestIssueSignerProfile(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	c := newTestCA(t, nil, func(o *Options) { o.Registerer = reg })
	req := signerRequest(t)
	req.Organization = "Dupont & Fils"
	cert, err := c.IssueSigner(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != req.Name || !slices.Equal(cert.Subject.Organization, []string{"Dupont & Fils"}) {
		t.Errorf("subject %v", cert.Subject)
	}
	if !slices.Equal(cert.EmailAddresses, []string{req.Email}) || len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.URIs) != 0 {
		t.Errorf("SAN %v", cert.EmailAddresses)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("key usage %v", cert.KeyUsage)
	}
	if !extCritical(cert, asn1.ObjectIdentifier{2, 5, 29, 15}) {
		t.Error("key usage is not critical")
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}) || len(cert.UnknownExtKeyUsage) != 1 || !cert.UnknownExtKeyUsage[0].Equal(keys.OIDDocumentSigning) {
		t.Errorf("EKU %v %v", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
	}
	if len(cert.Policies) != 1 || cert.Policies[0].String() != OIDSignerPolicy.String() {
		t.Errorf("policies %v", cert.Policies)
	}
	if !slices.Equal(cert.CRLDistributionPoints, []string{"http://127.0.0.1:8080/ca/crl"}) ||
		!slices.Equal(cert.OCSPServer, []string{"http://127.0.0.1:8080/ocsp"}) ||
		!slices.Equal(cert.IssuingCertificateURL, []string{"http://127.0.0.1:8080/ca/issuing.crt"}) {
		t.Errorf("URLs %v %v %v", cert.CRLDistributionPoints, cert.OCSPServer, cert.IssuingCertificateURL)
	}
	if cert.SerialNumber.BitLen() < 128 {
		t.Errorf("serial has %d bits", cert.SerialNumber.BitLen())
	}
	if cert.NotAfter.Sub(cert.NotBefore) != time.Hour || !cert.NotBefore.Equal(c.clock.t) {
		t.Errorf("validity %v..%v", cert.NotBefore, cert.NotAfter)
	}
	if len(cert.SubjectKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, testKeys.Issuing.SubjectKeyId) || cert.IsCA {
		t.Error("key identifiers or CA flag wrong")
	}
	b, ok, err := ParseBinding(cert)
	if err != nil || !ok || b.LeafIndex != 42 || !bytes.Equal(b.LeafHash, req.Binding.LeafHash) {
		t.Errorf("binding %+v %v %v", b, ok, err)
	}
	if extCritical(cert, OIDLedgerBinding) {
		t.Error("binding extension is critical")
	}
	// Chains to the root, for document signing and for e-mail protection.
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(testKeys.Root)
	inter.AddCert(testKeys.Issuing)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: c.clock.t.Add(time.Minute), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
		t.Errorf("verify: %v", err)
	}
	// Recorded, without personal data.
	rec, err := c.Lookup(ctx, cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubject)
	if rec.Status != StatusGood || rec.Kind != KindSigner || rec.SubjectSHA256 != hex.EncodeToString(sum[:]) || !rec.NotAfter.Equal(cert.NotAfter) || !rec.NotBefore.Equal(cert.NotBefore) {
		t.Errorf("record %+v", rec)
	}
	if got := testutil.ToFloat64(c.m.issued.WithLabelValues(KindSigner)); got != 1 {
		t.Errorf("issued metric %v", got)
	}
	// Unique serials.
	other, err := c.IssueSigner(ctx, signerRequest(t))
	if err != nil || other.SerialNumber.Cmp(cert.SerialNumber) == 0 {
		t.Fatalf("second issuance: %v", err)
	}
}

func extCritical(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical
		}
	}
	return false
}

func TestIssueSignerValidity(t *testing.T) {
	c := newTestCA(t, nil, func(o *Options) {
		o.SignerValidity = 10 * time.Minute
		o.Policies = []asn1.ObjectIdentifier{{0, 4, 0, 194112, 1, 0}, {1, 2, 3}}
	})
	cert, err := c.IssueSigner(context.Background(), signerRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if cert.NotAfter.Sub(cert.NotBefore) != 10*time.Minute || len(cert.Policies) != 2 || cert.Policies[0].String() != "0.4.0.194112.1.0" {
		t.Errorf("validity %v policies %v", cert.NotAfter.Sub(cert.NotBefore), cert.Policies)
	}
	// Never beyond the issuing CA.
	c.clock.t = testKeys.Issuing.NotAfter.Add(-30 * time.Second)
	cert, err = c.IssueSigner(context.Background(), signerRequest(t))
	if err != nil || !cert.NotAfter.Equal(testKeys.Issuing.NotAfter) {
		t.Errorf("near the CA's end: %v %v", err, cert)
	}
	c.clock.t = testKeys.Issuing.NotAfter.Add(time.Second)
	if _, err := c.IssueSigner(context.Background(), signerRequest(t)); err == nil {
		t.Error("issued after the issuing CA expired")
	}
}

func TestIssueSignerRejectsBadInput(t *testing.T) {
	c := newTestCA(t, nil)
	rsaSmall, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for name, mut := range map[string]func(*SignerRequest){
		"empty name":      func(r *SignerRequest) { r.Name = "  " },
		"long name":       func(r *SignerRequest) { r.Name = strings.Repeat("é", 65) },
		"control in name": func(r *SignerRequest) { r.Name = "A\x00B" },
		"newline in name": func(r *SignerRequest) { r.Name = "A\nB" },
		"invalid utf8":    func(r *SignerRequest) { r.Name = "\xff" },
		"long org":        func(r *SignerRequest) { r.Organization = strings.Repeat("o", 65) },
		"no email":        func(r *SignerRequest) { r.Email = "" },
		"bad email":       func(r *SignerRequest) { r.Email = "not-an-address" },
		"display name":    func(r *SignerRequest) { r.Email = "Jeanne <jeanne@example.org>" },
		"two addresses":   func(r *SignerRequest) { r.Email = "a@example.org, b@example.org" },
		"non-ascii email": func(r *SignerRequest) { r.Email = "jéanne@example.org" },
		"space in email":  func(r *SignerRequest) { r.Email = "jeanne @example.org" },
		"nil key":         func(r *SignerRequest) { r.PublicKey = nil },
		"typed nil key":   func(r *SignerRequest) { r.PublicKey = (*ecdsa.PublicKey)(nil) },
		"private key":     func(r *SignerRequest) { r.PublicKey = signerKey(t) },
		"small rsa":       func(r *SignerRequest) { r.PublicKey = &rsaSmall.PublicKey },
		"p224":            func(r *SignerRequest) { r.PublicKey = &p224.PublicKey },
		"short ed25519":   func(r *SignerRequest) { r.PublicKey = ed25519.PublicKey{1, 2} },
		"no leaf hash":    func(r *SignerRequest) { r.Binding.LeafHash = nil },
		"short leaf hash": func(r *SignerRequest) { r.Binding.LeafHash = make([]byte, 31) },
		"long leaf hash":  func(r *SignerRequest) { r.Binding.LeafHash = make([]byte, 33) },
		"off-curve ecdsa": func(r *SignerRequest) {
			r.PublicKey = &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}
		},
		"unsupported type": func(r *SignerRequest) { r.PublicKey = "key" },
	} {
		r := signerRequest(t)
		mut(&r)
		if cert, err := c.IssueSigner(context.Background(), r); err == nil {
			t.Errorf("%s: issued %v", name, cert.Subject)
		}
	}
	// Nothing was recorded.
	n := 0
	c.db.View(func(txn *badgerTxn) error { n = countPrefix(txn, prefixCert); return nil })
	if n != 0 {
		t.Errorf("%d records after refused issuances", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.IssueSigner(ctx, signerRequest(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	db := openDB(t, "")
	good := Options{Keys: testKeys, DB: db, BaseURL: "https://sign.example.org"}
	for name, mut := range map[string]func(*Options){
		"no keys":       func(o *Options) { o.Keys = nil },
		"no db":         func(o *Options) { o.DB = nil },
		"relative url":  func(o *Options) { o.BaseURL = "/x" },
		"ftp url":       func(o *Options) { o.BaseURL = "ftp://x" },
		"query":         func(o *Options) { o.BaseURL = "http://x/?a=b" },
		"short signer":  func(o *Options) { o.SignerValidity = time.Second },
		"negative crl":  func(o *Options) { o.CRLValidity = -time.Hour },
		"bad policy":    func(o *Options) { o.Policies = []asn1.ObjectIdentifier{{1}} },
		"neg policy":    func(o *Options) { o.Policies = []asn1.ObjectIdentifier{{1, -2}} },
		"with password": func(o *Options) { o.BaseURL = "http://u:p@x" },
	} {
		o := good
		mut(&o)
		if _, err := New(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := New(context.Background(), good)
	if err != nil {
		t.Fatal(err)
	}
	if c.base != "https://sign.example.org" || c.signerV != time.Hour || c.crlV != 24*time.Hour {
		t.Errorf("defaults: %q %v %v", c.base, c.signerV, c.crlV)
	}
	// A registry refuses the same metrics twice: the error is reported, not a panic.
	reg := prometheus.NewRegistry()
	good.Registerer = reg
	if _, err := New(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), good); err == nil {
		t.Error("registering the metrics twice succeeded")
	}
}

func TestIssueServer(t *testing.T) {
	c := newTestCA(t, nil)
	k := signerKey(t)
	cert, err := c.IssueServer(context.Background(), []string{"Sign.Example.org.", "localhost", "127.0.0.1", "::1", "localhost"}, k.Public(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cert.DNSNames, []string{"sign.example.org", "localhost"}) || len(cert.IPAddresses) != 2 || cert.Subject.CommonName != "sign.example.org" {
		t.Errorf("names %v %v %q", cert.DNSNames, cert.IPAddresses, cert.Subject.CommonName)
	}
	if cert.NotAfter.Sub(cert.NotBefore) != 7*24*time.Hour || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("validity %v eku %v", cert.NotAfter.Sub(cert.NotBefore), cert.ExtKeyUsage)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(testKeys.Root)
	inter.AddCert(testKeys.Issuing)
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "sign.example.org", Roots: roots, Intermediates: inter, CurrentTime: c.clock.t.Add(time.Minute)}); err != nil {
		t.Errorf("verify: %v", err)
	}
	if rec, err := c.Lookup(context.Background(), cert.SerialNumber); err != nil || rec.Kind != KindServer {
		t.Errorf("record %+v %v", rec, err)
	}
	for _, bad := range [][]string{nil, {""}, {"a..b"}, {"-a.example"}, {"*.example.org"}, {"a b"}, {"ex_ample.org"}, {strings.Repeat("a", 64) + ".org"}} {
		if _, err := c.IssueServer(context.Background(), bad, k.Public(), time.Hour); err == nil {
			t.Errorf("hostnames %q accepted", bad)
		}
	}
	if _, err := c.IssueServer(context.Background(), []string{"localhost"}, nil, time.Hour); err == nil {
		t.Error("nil key accepted")
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	c := newTestCA(t, nil)
	cert, err := c.IssueSigner(ctx, signerRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, big.NewInt(12345), ReasonKeyCompromise); !errors.Is(err, ErrUnknownSerial) {
		t.Errorf("unknown serial: %v", err)
	}
	if err := c.Revoke(ctx, nil, ReasonKeyCompromise); !errors.Is(err, ErrUnknownSerial) {
		t.Errorf("nil serial: %v", err)
	}
	for _, r := range []int{-1, 6, 7, 8, 11} {
		if err := c.Revoke(ctx, cert.SerialNumber, r); !errors.Is(err, ErrBadReason) {
			t.Errorf("reason %d: %v", r, err)
		}
	}
	c.clock.t = c.clock.t.Add(90 * time.Second)
	if err := c.Revoke(ctx, cert.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	rec, err := c.Lookup(ctx, cert.SerialNumber)
	if err != nil || rec.Status != StatusRevoked || rec.Reason != ReasonKeyCompromise || !rec.RevokedAt.Equal(c.clock.t) {
		t.Errorf("after revocation %+v %v", rec, err)
	}
	if err := c.Revoke(ctx, cert.SerialNumber, ReasonSuperseded); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("second revocation: %v", err)
	}
}

func TestCRL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openDB(t, dir)
	c := newTestCA(t, db, func(o *Options) { o.CRLValidity = 2 * time.Hour; o.SignerValidity = 4 * time.Hour })

	parse := func(der []byte) *x509.RevocationList {
		t.Helper()
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(testKeys.Issuing); err != nil {
			t.Fatalf("CRL signature: %v", err)
		}
		return crl
	}
	der1, err := c.CRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	crl := parse(der1)
	if crl.Number.Int64() != 1 || len(crl.RevokedCertificateEntries) != 0 || crl.NextUpdate.Sub(crl.ThisUpdate) != 2*time.Hour {
		t.Errorf("first CRL: number %v entries %d validity %v", crl.Number, len(crl.RevokedCertificateEntries), crl.NextUpdate.Sub(crl.ThisUpdate))
	}
	if again, _ := c.CRL(ctx); !bytes.Equal(again, der1) {
		t.Error("CRL not cached while nothing changed")
	}

	a, _ := c.IssueSigner(ctx, signerRequest(t))
	b, _ := c.IssueSigner(ctx, signerRequest(t))
	if err := c.Revoke(ctx, a.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx, b.SerialNumber, ReasonUnspecified); err != nil {
		t.Fatal(err)
	}
	der2, _ := c.CRL(ctx)
	crl = parse(der2)
	if crl.Number.Int64() != 2 || len(crl.RevokedCertificateEntries) != 2 {
		t.Fatalf("second CRL: number %v entries %d", crl.Number, len(crl.RevokedCertificateEntries))
	}
	for _, e := range crl.RevokedCertificateEntries {
		switch e.SerialNumber.Cmp(a.SerialNumber) {
		case 0:
			if e.ReasonCode != ReasonKeyCompromise {
				t.Errorf("reason %d", e.ReasonCode)
			}
		default:
			if e.SerialNumber.Cmp(b.SerialNumber) != 0 || e.ReasonCode != 0 {
				t.Errorf("entry %v", e)
			}
		}
	}

	// After half its validity, a new CRL is made.
	c.clock.t = c.clock.t.Add(61 * time.Minute)
	der3, _ := c.CRL(ctx)
	if crl = parse(der3); crl.Number.Int64() != 3 || len(crl.RevokedCertificateEntries) != 2 {
		t.Errorf("refreshed CRL number %v", crl.Number)
	}
	// A restarted CA on the same database continues the numbering.
	c2 := newTestCA(t, db, func(o *Options) { o.SignerValidity = 4 * time.Hour })
	c2.clock.t = c.clock.t
	der4, _ := c2.CRL(ctx)
	if crl = parse(der4); crl.Number.Int64() != 4 || len(crl.RevokedCertificateEntries) != 2 {
		t.Errorf("after restart: number %v entries %d", crl.Number, len(crl.RevokedCertificateEntries))
	}
	// Expired certificates leave the CRL.
	c2.clock.t = a.NotAfter.Add(time.Second)
	c2.gen.Add(1)
	der5, _ := c2.CRL(ctx)
	if crl = parse(der5); len(crl.RevokedCertificateEntries) != 0 || crl.Number.Int64() != 5 {
		t.Errorf("after expiry: number %v entries %d", crl.Number, len(crl.RevokedCertificateEntries))
	}
}

func TestParseBinding(t *testing.T) {
	key := signerKey(t)
	mk := func(exts ...pkix.Extension) *x509.Certificate {
		t.Helper()
		tpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: exts}
		der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, ok, err := ParseBinding(mk()); ok || err != nil {
		t.Errorf("no extension: %v %v", ok, err)
	}
	if _, _, err := ParseBinding(nil); err == nil {
		t.Error("nil certificate accepted")
	}
	good, _ := Binding{LeafIndex: 1<<64 - 1, LeafHash: leafHash("x")}.marshal()
	if b, ok, err := ParseBinding(mk(pkix.Extension{Id: OIDLedgerBinding, Value: good})); err != nil || !ok || b.LeafIndex != 1<<64-1 {
		t.Errorf("max index: %+v %v %v", b, ok, err)
	}
	if _, ok, err := ParseBinding(mk(pkix.Extension{Id: OIDLedgerBinding, Critical: true, Value: good})); err == nil || !ok {
		t.Error("critical binding accepted")
	}
	h := leafHash("x")
	for name, v := range map[string][]byte{
		"empty":    {},
		"trailing": append(append([]byte{}, good...), 0),
		"negative index": mustASN1(t, struct {
			I int64
			H []byte
		}{-1, h}),
		"short hash": mustASN1(t, struct {
			I int64
			H []byte
		}{1, h[:31]}),
		"no hash": mustASN1(t, struct{ I int64 }{1}),
		"extra field": mustASN1(t, struct {
			I int64
			H []byte
			X int
		}{1, h, 2}),
		"huge index": mustASN1(t, struct {
			I *big.Int
			H []byte
		}{new(big.Int).Lsh(big.NewInt(1), 64), h}),
		"not a sequence": {0x04, 0x01, 0x00},
	} {
		if _, ok, err := ParseBinding(mk(pkix.Extension{Id: OIDLedgerBinding, Value: v})); err == nil || !ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustASN1(t *testing.T, v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseBinding: ParseBinding's parser never panics, and what it accepts is exactly what
// marshal produces (one encoding per binding).
func FuzzParseBinding(f *testing.F) {
	good, _ := Binding{LeafIndex: 7, LeafHash: leafHash("x")}.marshal()
	f.Add(good)
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, v []byte) {
		b, err := parseBindingValue(v)
		if err != nil {
			return
		}
		again, err := b.marshal()
		if err != nil || !bytes.Equal(again, v) {
			t.Fatalf("accepted %x, re-encodes as %x (%v)", v, again, err)
		}
	})
}
