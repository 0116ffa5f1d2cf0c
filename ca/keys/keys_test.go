package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/internal/testtool"
)

func opts(dir string) keys.Options {
	return keys.Options{
		Dir:           dir,
		Passphrase:    []byte("correct horse battery staple"),
		Organization:  "Études Notariales Dupont & Fils",
		Country:       "FR",
		LedgerKeyName: "paraphe.example.org/ledger",
		BaseURL:       "https://sign.example.org/",
	}
}

// snapshot returns the content of every file in dir, to prove that nothing was rewritten.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := e.Info()
		out[e.Name()+"@"+st.ModTime().String()] = sha256.Sum256(b)
	}
	return out
}

func sameSnapshot(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestInitThenLoadReusesKeysAndCertificates(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	o := opts(dir)
	a, err := keys.Init(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("key directory mode = %v, %v; want 0700", st.Mode().Perm(), err)
	}

	b, err := keys.Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	pairs := []struct {
		name string
		a, b *x509.Certificate
	}{{"root", a.Root, b.Root}, {"issuing", a.Issuing, b.Issuing}, {"tsa", a.TSA, b.TSA}, {"ocsp", a.OCSP, b.OCSP}, {"seal", a.Seal, b.Seal}}
	for _, p := range pairs {
		if !bytes.Equal(p.a.Raw, p.b.Raw) {
			t.Errorf("%s certificate differs after Load", p.name)
		}
	}
	signers := []struct {
		name string
		a, b crypto.Signer
	}{{"issuing", a.IssuingSigner, b.IssuingSigner}, {"tsa", a.TSASigner, b.TSASigner}, {"ocsp", a.OCSPSigner, b.OCSPSigner}, {"seal", a.SealSigner, b.SealSigner}}
	for _, s := range signers {
		if !s.a.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(s.b.Public()) {
			t.Errorf("%s key differs after Load", s.name)
		}
		// The loaded key signs, and the first certificate verifies the signature.
		d := sha256.Sum256([]byte("paraphe"))
		sig, err := s.b.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil || !ecdsa.VerifyASN1(s.a.Public().(*ecdsa.PublicKey), d[:], sig) {
			t.Errorf("%s: loaded key does not sign for the original public key: %v", s.name, err)
		}
	}
	if a.LedgerVerifierKey != b.LedgerVerifierKey || a.LedgerVerifierKey == "" {
		t.Errorf("ledger verifier key %q then %q", a.LedgerVerifierKey, b.LedgerVerifierKey)
	}
	if da, db := a.Digests(), b.Digests(); len(da) != 6 || !maps(da, db) {
		t.Errorf("digests differ or incomplete: %v / %v", da, db)
	}
	if a.Digests()["root"] != sha256.Sum256(a.Root.Raw) {
		t.Error("root digest is not SHA-256 of its DER")
	}

	// The ledger signer makes notes that the published verifier key opens.
	v, err := note.NewVerifier(b.LedgerVerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.LedgerVerifierKey, "paraphe.example.org/ledger+") {
		t.Errorf("verifier key %q does not carry the note name", b.LedgerVerifierKey)
	}
	msg, err := note.Sign(&note.Note{Text: "paraphe.example.org/ledger\n1\nAAAA\n"}, b.LedgerSigner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Errorf("note signed by LedgerSigner does not open: %v", err)
	}
}

func maps(a, b map[string][32]byte) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

func TestKeyFilesAreEncryptedAndPrivate(t *testing.T) {
	dir := t.TempDir()
	s, err := keys.Init(context.Background(), opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var keyFiles []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".key") {
			keyFiles = append(keyFiles, e.Name())
		}
	}
	slices.Sort(keyFiles)
	if want := []string{"data.key", "issuing.key", "ledger.key", "ocsp.key", "root.key", "seal.key", "tsa.key"}; !slices.Equal(keyFiles, want) {
		t.Fatalf("key files %v, want %v", keyFiles, want)
	}
	for _, f := range keyFiles {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(dir, f))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
		block, _ := pem.Decode(b)
		wantType := "ENCRYPTED PRIVATE KEY"
		if f == "data.key" {
			wantType = "PARAPHE ENCRYPTED DATA KEY" // PBES2 too, but not a PKCS#8 key inside
		}
		if block == nil || block.Type != wantType {
			t.Errorf("%s is not an encrypted PKCS#8 key", f)
			continue
		}
		// Neither the DER of a plaintext key nor a parseable key may be in the file.
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			t.Errorf("%s parses as a plaintext key", f)
		}
		// The KDF is PBKDF2 (PBES2), with at least 600,000 iterations.
		var epki struct {
			Algo struct {
				Algorithm  asn1.ObjectIdentifier
				Parameters struct {
					KDF struct {
						Algorithm asn1.ObjectIdentifier
						Params    struct {
							Salt       []byte
							Iterations int
							Rest       asn1.RawValue `asn1:"optional"`
						}
					}
					Enc asn1.RawValue
				}
			}
			Data []byte
		}
		if _, err := asn1.Unmarshal(block.Bytes, &epki); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !epki.Algo.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}) || epki.Algo.Parameters.KDF.Params.Iterations < 600000 {
			t.Errorf("%s: encryption %v with %d iterations", f, epki.Algo.Algorithm, epki.Algo.Parameters.KDF.Params.Iterations)
		}
	}
}

func TestInitRefusesAndNeverOverwrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := keys.Init(ctx, opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := snapshot(t, dir)
	time.Sleep(10 * time.Millisecond) // a rewrite would move modification times
	for _, pass := range []string{"correct horse battery staple", "another passphrase"} {
		o := opts(dir)
		o.Passphrase = []byte(pass)
		if _, err := keys.Init(ctx, o); !errors.Is(err, keys.ErrInitialized) {
			t.Fatalf("second Init: %v, want ErrInitialized", err)
		}
	}
	if !sameSnapshot(before, snapshot(t, dir)) {
		t.Fatal("a refused Init changed the key directory")
	}

	// A directory holding any single file of a hierarchy (an interrupted ceremony) is refused
	// too, and that file is left as it was.
	for _, f := range []string{"issuing.key", "root.pem", "ledger.key", "hierarchy.json", "root.crl", "data.key"} {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, f), []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Init(ctx, opts(d)); !errors.Is(err, keys.ErrInitialized) {
			t.Fatalf("Init over %s: %v, want ErrInitialized", f, err)
		}
		ents, _ := os.ReadDir(d)
		b, _ := os.ReadFile(filepath.Join(d, f))
		if len(ents) != 1 || string(b) != "precious" {
			t.Fatalf("Init over %s touched the directory", f)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := keys.Load(ctx, opts(dir)); !errors.Is(err, keys.ErrNotInitialized) {
		t.Fatalf("Load of an empty dir: %v, want ErrNotInitialized", err)
	}
	s, err := keys.Init(ctx, opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := snapshot(t, dir)

	o := opts(dir)
	o.Passphrase = []byte("wrong")
	_, err = keys.Load(ctx, o)
	if !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if strings.Contains(err.Error(), "wrong\"") || strings.Contains(err.Error(), "correct horse") {
		t.Errorf("error reveals a passphrase: %v", err)
	}
	if !sameSnapshot(before, snapshot(t, dir)) {
		t.Fatal("a failed Load changed the key directory")
	}

	o = opts(dir)
	o.LedgerKeyName = "other.example/log"
	if _, err := keys.Load(ctx, o); err == nil || !strings.Contains(err.Error(), "note name") {
		t.Errorf("Load with another ledger name: %v", err)
	}
	o.LedgerKeyName = "" // the recorded name is used
	if s, err := keys.Load(ctx, o); err != nil || s.LedgerSigner.Name() != "paraphe.example.org/ledger" {
		t.Errorf("Load without a ledger name: %v", err)
	}

	o = opts(dir)
	o.KMS = "pkcs11:token=x?pin-value=1234"
	if _, err := keys.Load(ctx, o); err == nil || strings.Contains(err.Error(), "1234") {
		t.Errorf("Load of a file hierarchy with an HSM URI: %v", err)
	}

	// A plaintext key in place of an encrypted one is refused, not used.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if err := os.Chmod(filepath.Join(dir, "ocsp.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ocsp.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Load(ctx, opts(dir)); err == nil || !strings.Contains(err.Error(), "plaintext") {
		t.Errorf("Load with a plaintext key: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	ctx := context.Background()
	for name, mut := range map[string]func(*keys.Options){
		"no dir":         func(o *keys.Options) { o.Dir = "" },
		"no passphrase":  func(o *keys.Options) { o.Passphrase = nil },
		"no org":         func(o *keys.Options) { o.Organization = " " },
		"bad country":    func(o *keys.Options) { o.Country = "France" },
		"lower country":  func(o *keys.Options) { o.Country = "fr" },
		"no ledger name": func(o *keys.Options) { o.LedgerKeyName = "" },
		"bad ledger":     func(o *keys.Options) { o.LedgerKeyName = "a b" },
		"bad kms":        func(o *keys.Options) { o.KMS = "awskms:key=1" },
		"control char":   func(o *keys.Options) { o.Organization = "Acme\n" },
		"no base URL":    func(o *keys.Options) { o.BaseURL = "" },
		"relative URL":   func(o *keys.Options) { o.BaseURL = "sign.example.org" },
		"URL query":      func(o *keys.Options) { o.BaseURL = "https://sign.example.org/?x=1" },
		"short CRL":      func(o *keys.Options) { o.RootCRLValidity = time.Hour },
	} {
		o := opts(filepath.Join(t.TempDir(), "k"))
		mut(&o)
		if _, err := keys.Init(ctx, o); err == nil {
			t.Errorf("%s: Init accepted", name)
		}
		if _, err := os.Stat(o.Dir); o.Dir != "" && err == nil {
			t.Errorf("%s: Init created the directory before validating", name)
		}
	}
}

// TestProfiles checks the certificates with Go and with the real openssl.
func TestProfiles(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	dir := t.TempDir()
	s, err := keys.Init(context.Background(), opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Root: P-384, CA, self-signed.
	if k, ok := s.Root.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() || !s.Root.IsCA {
		t.Error("root is not a P-384 CA")
	}
	if s.Root.NotAfter.Sub(s.Root.NotBefore) < 19*365*24*time.Hour {
		t.Errorf("root lifetime %v", s.Root.NotAfter.Sub(s.Root.NotBefore))
	}
	// Issuing: P-256, pathlen 0, certSign+crlSign, signed by root, no timeStamping.
	if k, ok := s.Issuing.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Error("issuing CA is not P-256")
	}
	if !s.Issuing.IsCA || s.Issuing.MaxPathLen != 0 || !s.Issuing.MaxPathLenZero || s.Issuing.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("issuing CA constraints: ca=%v pathlen=%d zero=%v ku=%v", s.Issuing.IsCA, s.Issuing.MaxPathLen, s.Issuing.MaxPathLenZero, s.Issuing.KeyUsage)
	}
	if slices.Contains(s.Issuing.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) {
		t.Error("issuing CA may certify timestamping")
	}
	// TSA: EKU critical and only timeStamping, KU digitalSignature(+nonRepudiation), C and O.
	var eku *struct{ crit bool }
	for _, e := range s.TSA.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
			eku = &struct{ crit bool }{e.Critical}
		}
	}
	if eku == nil || !eku.crit || !slices.Equal(s.TSA.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}) || len(s.TSA.UnknownExtKeyUsage) != 0 {
		t.Errorf("TSA EKU: %v (critical %v)", s.TSA.ExtKeyUsage, eku)
	}
	if s.TSA.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("TSA key usage %v", s.TSA.KeyUsage)
	}
	if !slices.Equal(s.TSA.Subject.Country, []string{"FR"}) || !slices.Equal(s.TSA.Subject.Organization, []string{"Études Notariales Dupont & Fils"}) {
		t.Errorf("TSA subject %v", s.TSA.Subject)
	}
	if err := s.TSA.CheckSignatureFrom(s.Root); err != nil {
		t.Errorf("TSA is not signed by the root: %v", err)
	}
	if s.TSAKeyUsageEnd.Before(s.TSA.NotBefore.AddDate(4, 0, 0)) || !s.TSAKeyUsageEnd.Before(s.TSA.NotAfter) {
		t.Errorf("TSA key usage end %v, certificate %v..%v", s.TSAKeyUsageEnd, s.TSA.NotBefore, s.TSA.NotAfter)
	}
	// OCSP: signed by the issuing CA, OCSPSigning, nocheck.
	if err := s.OCSP.CheckSignatureFrom(s.Issuing); err != nil || !slices.Equal(s.OCSP.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}) {
		t.Errorf("OCSP responder: %v %v", err, s.OCSP.ExtKeyUsage)
	}
	if !hasExt(s.OCSP, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}) {
		t.Error("OCSP responder certificate lacks id-pkix-ocsp-nocheck")
	}
	// Seal: digitalSignature+nonRepudiation, documentSigning.
	if s.Seal.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment || len(s.Seal.UnknownExtKeyUsage) != 1 || !s.Seal.UnknownExtKeyUsage[0].Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}) {
		t.Errorf("seal usage %v %v", s.Seal.KeyUsage, s.Seal.UnknownExtKeyUsage)
	}
	for _, c := range []*x509.Certificate{s.Root, s.Issuing, s.TSA, s.OCSP, s.Seal} {
		if c.SerialNumber.BitLen() < 128 || c.SerialNumber.Sign() <= 0 {
			t.Errorf("%s: serial %x", c.Subject.CommonName, c.SerialNumber)
		}
	}

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	text := run("x509", "-in", p("tsa.pem"), "-noout", "-text")
	if !regexpMatch(`X509v3 Extended Key Usage: critical\s+Time Stamping\s*\n`, text) {
		t.Errorf("openssl does not show a critical EKU of Time Stamping alone:\n%s", text)
	}
	if !strings.Contains(text, "Private Key Usage Period") || !strings.Contains(text, "C = FR") {
		t.Errorf("openssl: no private key usage period or country:\n%s", text)
	}
	for _, c := range []struct{ cert, untrusted, purpose string }{
		{"root.pem", "", ""},
		{"issuing.pem", "", ""},
		{"tsa.pem", "", "timestampsign"},
		{"seal.pem", "", ""},
		{"ocsp.pem", "issuing.pem", "ocsphelper"},
	} {
		args := []string{"verify", "-x509_strict", "-CAfile", p("root.pem")}
		if c.untrusted != "" {
			args = append(args, "-untrusted", p(c.untrusted))
		}
		if c.purpose != "" {
			args = append(args, "-purpose", c.purpose)
		}
		if out := run(append(args, p(c.cert))...); !strings.Contains(out, ": OK") {
			t.Errorf("openssl verify %s: %s", c.cert, out)
		}
	}
	// The OCSP responder does not chain to the root alone: it needs the issuing CA.
	if out, err := exec.Command(openssl, "verify", "-CAfile", p("root.pem"), p("ocsp.pem")).CombinedOutput(); err == nil {
		t.Errorf("ocsp.pem verified without its issuer: %s", out)
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

func hasExt(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}
