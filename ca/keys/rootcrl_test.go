package keys_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/internal/testtool"
)

func readCRL(t *testing.T, dir string) *x509.RevocationList {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "root.crl"))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}

func TestInitSignsRootCRLAndPointsToIt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	o := opts(dir)
	o.Now = func() time.Time { return now }
	s, err := keys.Init(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	crl := readCRL(t, dir)
	if err := crl.CheckSignatureFrom(s.Root); err != nil {
		t.Fatalf("root.crl is not signed by the root: %v", err)
	}
	if crl.Number.Cmp(big.NewInt(1)) != 0 || !crl.ThisUpdate.Equal(now) || !crl.NextUpdate.Equal(now.Add(keys.DefaultRootCRLValidity)) {
		t.Errorf("first root CRL: number %v, %v..%v", crl.Number, crl.ThisUpdate, crl.NextUpdate)
	}
	if len(crl.RevokedCertificateEntries) != 0 || !bytes.Equal(crl.AuthorityKeyId, s.Root.SubjectKeyId) || len(crl.AuthorityKeyId) == 0 {
		t.Errorf("first root CRL: %d entries, AKI %x (root SKI %x)", len(crl.RevokedCertificateEntries), crl.AuthorityKeyId, s.Root.SubjectKeyId)
	}
	if !bytes.Equal(s.RootCRL, crl.Raw) || !s.RootCRLNextUpdate.Equal(crl.NextUpdate) {
		t.Error("Init's Set does not carry the root CRL it wrote")
	}
	for _, c := range []*x509.Certificate{s.Issuing, s.TSA, s.Seal} {
		if !slices.Equal(c.CRLDistributionPoints, []string{"https://sign.example.org/ca/root.crl"}) ||
			!slices.Equal(c.IssuingCertificateURL, []string{"https://sign.example.org/ca/root.crt"}) {
			t.Errorf("%s: CRL DP %v, caIssuers %v", c.Subject.CommonName, c.CRLDistributionPoints, c.IssuingCertificateURL)
		}
	}
	// The root names nothing, and the OCSP responder (id-pkix-ocsp-nocheck) is not checked.
	for _, c := range []*x509.Certificate{s.Root, s.OCSP} {
		if len(c.CRLDistributionPoints)+len(c.IssuingCertificateURL)+len(c.OCSPServer) != 0 {
			t.Errorf("%s names revocation locations", c.Subject.CommonName)
		}
	}

	l, err := keys.Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !bytes.Equal(l.RootCRL, crl.Raw) {
		t.Fatal("Load does not return the root CRL")
	}
	for _, c := range []struct {
		at   time.Time
		want error
	}{
		{now, nil},
		{crl.NextUpdate.Add(-keys.RootCRLRenewBefore - time.Second), nil},
		{crl.NextUpdate.Add(-keys.RootCRLRenewBefore), keys.ErrRootCRLExpiring},
		{crl.NextUpdate, keys.ErrRootCRLExpired},
	} {
		if err := l.RootCRLStatus(c.at); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("RootCRLStatus(%v) = %v, want %v", c.at, err, c.want)
		}
	}

	// A hierarchy without a root CRL still loads, and says so.
	if err := os.Remove(filepath.Join(dir, "root.crl")); err != nil {
		t.Fatal(err)
	}
	l2, err := keys.Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := l2.RootCRLStatus(now); !errors.Is(err, keys.ErrRootCRLMissing) || l2.RootCRL != nil {
		t.Errorf("without root.crl: status %v", err)
	}
	// One not signed by the root is refused.
	if err := os.WriteFile(filepath.Join(dir, "root.crl"), crlBy(t, s), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Load(ctx, o); err == nil || !strings.Contains(err.Error(), "not signed by the root") {
		t.Errorf("Load with a foreign root.crl: %v", err)
	}
}

// crlBy returns a CRL signed by the issuing CA: well-formed, but not the root's.
func crlBy(t *testing.T, s *keys.Set) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(nil, &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}, s.Issuing, s.IssuingSigner)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestRenewRootCRL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := opts(dir)
	s, err := keys.Init(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	later := time.Now().Add(200 * 24 * time.Hour).UTC().Truncate(time.Second)
	o.Now = func() time.Time { return later }
	o.RootCRLValidity = 90 * 24 * time.Hour
	crl, err := keys.RenewRootCRL(ctx, o, []keys.RevokedCert{{Serial: s.TSA.SerialNumber, Reason: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if crl.Number.Cmp(big.NewInt(2)) != 0 || !crl.ThisUpdate.Equal(later) || !crl.NextUpdate.Equal(later.Add(90*24*time.Hour)) {
		t.Errorf("renewed CRL: number %v, %v..%v", crl.Number, crl.ThisUpdate, crl.NextUpdate)
	}
	if got := readCRL(t, dir); !bytes.Equal(got.Raw, crl.Raw) || got.CheckSignatureFrom(s.Root) != nil {
		t.Fatal("root.crl is not the renewed CRL signed by the root")
	}
	if e := crl.RevokedCertificateEntries; len(e) != 1 || e[0].SerialNumber.Cmp(s.TSA.SerialNumber) != 0 || e[0].ReasonCode != 1 || !e[0].RevocationTime.Equal(later) {
		t.Fatalf("entries %+v", e)
	}

	// The next renewal keeps the entry and adds another.
	crl3, err := keys.RenewRootCRL(ctx, o, []keys.RevokedCert{{Serial: s.Seal.SerialNumber, Reason: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if crl3.Number.Cmp(big.NewInt(3)) != 0 || len(crl3.RevokedCertificateEntries) != 2 ||
		crl3.RevokedCertificateEntries[0].SerialNumber.Cmp(s.TSA.SerialNumber) != 0 || crl3.RevokedCertificateEntries[1].ReasonCode != 4 {
		t.Fatalf("third CRL: number %v, entries %+v", crl3.Number, crl3.RevokedCertificateEntries)
	}

	// Refusals leave root.crl as it was.
	before, _ := os.ReadFile(filepath.Join(dir, "root.crl"))
	for name, c := range map[string]struct {
		o   func(*keys.Options)
		rev []keys.RevokedCert
		msg string
	}{
		"already revoked":  {nil, []keys.RevokedCert{{Serial: s.TSA.SerialNumber}}, "already on the root CRL"},
		"root itself":      {nil, []keys.RevokedCert{{Serial: s.Root.SerialNumber}}, "root's own"},
		"certificateHold":  {nil, []keys.RevokedCert{{Serial: s.Issuing.SerialNumber, Reason: 6}}, "not supported"},
		"no serial":        {nil, []keys.RevokedCert{{Reason: 1}}, "positive"},
		"wrong passphrase": {func(o *keys.Options) { o.Passphrase = []byte("nope") }, nil, "wrong passphrase"},
		"not initialised":  {func(o *keys.Options) { o.Dir = t.TempDir() }, nil, "no key hierarchy"},
	} {
		oo := o
		if c.o != nil {
			c.o(&oo)
		}
		if _, err := keys.RenewRootCRL(ctx, oo, c.rev); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want %q", name, err, c.msg)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "root.crl")); !bytes.Equal(before, after) {
		t.Error("a refused renewal changed root.crl")
	}
	if ents, _ := os.ReadDir(dir); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.HasSuffix(e.Name(), ".tmp") }) {
		t.Error("a temporary file was left behind")
	}

	// A hierarchy made without a root CRL gets its first one.
	if err := os.Remove(filepath.Join(dir, "root.crl")); err != nil {
		t.Fatal(err)
	}
	if crl, err := keys.RenewRootCRL(ctx, o, nil); err != nil || crl.Number.Cmp(big.NewInt(1)) != 0 {
		t.Errorf("renewal without a previous CRL: %v", err)
	}
}

// TestRootCRLOpenSSL checks the root CRL with the real openssl: it verifies under the root, and
// a TSA certificate revoked by a renewal shows as revoked to openssl verify -crl_check.
func TestRootCRLOpenSSL(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	ctx := context.Background()
	dir := t.TempDir()
	o := opts(dir)
	s, err := keys.Init(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := func(n string) string { return filepath.Join(dir, n) }
	run := func(args ...string) (string, error) {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run("crl", "-inform", "DER", "-in", p("root.crl"), "-CAfile", p("root.pem"), "-noout"); err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	crlPEM := func(name string) string {
		b, err := os.ReadFile(p("root.crl"))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: b}), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	first := crlPEM("root1.pem")
	if out, err := run("verify", "-crl_check", "-CRLfile", first, "-CAfile", p("root.pem"), "-purpose", "timestampsign", p("tsa.pem")); err != nil || !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify -crl_check of the TSA before revocation: %v\n%s", err, out)
	}
	if _, err := keys.RenewRootCRL(ctx, o, []keys.RevokedCert{{Serial: s.TSA.SerialNumber, Reason: 1}}); err != nil {
		t.Fatal(err)
	}
	second := crlPEM("root2.pem")
	out, err := run("verify", "-crl_check", "-CRLfile", second, "-CAfile", p("root.pem"), p("tsa.pem"))
	if err == nil || !strings.Contains(out, "certificate revoked") {
		t.Fatalf("openssl verify -crl_check accepted the revoked TSA certificate: %v\n%s", err, out)
	}
	if out, err := run("crl", "-inform", "DER", "-in", p("root.crl"), "-CAfile", p("root.pem"), "-noout", "-text"); err != nil ||
		!strings.Contains(out, "verify OK") || !strings.Contains(out, "Key Compromise") || !regexpMatch(`X509v3 CRL Number:\s*\n\s*2\b`, out) {
		t.Fatalf("openssl crl of the renewed CRL: %v\n%s", err, out)
	}
}
