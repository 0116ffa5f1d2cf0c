package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/crypto/ocsp"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/internal/testtool"
)

const softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// TestPKCS11SoftHSM runs the ceremony against a SoftHSM2 token, reloads the hierarchy from it,
// and issues a signer certificate with the HSM-held issuing key, which openssl verifies. Under
// CI=true a missing softhsm2-util, module or openssl fails the test instead of skipping it. The
// build must have cgo: without it the pkcs11 backend is a stub and Init fails, failing this test.
func TestPKCS11SoftHSM(t *testing.T) {
	util := testtool.Require(t, "softhsm2-util")
	module := testtool.RequireFile(t, softHSMModule)
	openssl := testtool.Require(t, "openssl")
	ctx := context.Background()

	work := t.TempDir()
	tokens := filepath.Join(work, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(work, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf) // read by the module when it is loaded, in this process too
	if out, err := exec.Command(util, "--init-token", "--free", "--label", "paraphe-test", "--so-pin", "5678", "--pin", "1234").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}

	o := opts(filepath.Join(work, "keys"))
	o.KMS = "pkcs11:module-path=" + module + ";token=paraphe-test?pin-value=1234"
	s, err := keys.Init(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Backend != "pkcs11" {
		t.Errorf("backend %q", s.Backend)
	}
	// Only the Ed25519 ledger key and the AES data key are files; the five ECDSA keys live in
	// the token.
	ents, _ := os.ReadDir(o.Dir)
	var keyFiles []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".key") {
			keyFiles = append(keyFiles, e.Name())
		}
	}
	if !slices.Equal(keyFiles, []string{"data.key", "ledger.key"}) {
		t.Errorf("key files with an HSM: %v", keyFiles)
	}
	manifest, _ := os.ReadFile(filepath.Join(o.Dir, "hierarchy.json"))
	if bytes.Contains(manifest, []byte("1234")) || !bytes.Contains(manifest, []byte("pkcs11:id=")) {
		t.Errorf("manifest leaks the PIN or lacks HSM references:\n%s", manifest)
	}
	rootDER := s.Root.Raw
	issuingPub := s.IssuingSigner.Public()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A second ceremony over the same token refuses, even from an empty directory: the
	// token's keys are never shadowed or replaced.
	o2 := opts(filepath.Join(work, "keys2"))
	o2.KMS = o.KMS
	if _, err := keys.Init(ctx, o2); !errors.Is(err, keys.ErrInitialized) {
		t.Fatalf("second ceremony on the same token: %v", err)
	}
	if ents, _ := os.ReadDir(o2.Dir); len(ents) != 0 {
		t.Errorf("the refused ceremony left files: %v", ents)
	}

	// A wrong PIN is an error that does not repeat the PIN.
	bad := o
	bad.KMS = "pkcs11:module-path=" + module + ";token=paraphe-test?pin-value=987654"
	if _, err := keys.Load(ctx, bad); err == nil || strings.Contains(err.Error(), "987654") || !strings.Contains(err.Error(), "PIN_INCORRECT") {
		t.Errorf("wrong PIN: %v", err)
	}

	s, err = keys.Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !bytes.Equal(s.Root.Raw, rootDER) || !s.IssuingSigner.Public().(*ecdsa.PublicKey).Equal(issuingPub) {
		t.Fatal("Load from the token gave another hierarchy")
	}

	// Issue a signer certificate with the HSM-held issuing key.
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := ca.New(ctx, ca.Options{Keys: s, DB: db, BaseURL: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	h := sha256.Sum256([]byte("otp.verified"))
	cert, err := c.IssueSigner(ctx, ca.SignerRequest{Name: "Alice Martin", Email: "alice@example.org", PublicKey: k.Public(), Binding: ca.Binding{LeafIndex: 7, LeafHash: h[:]}})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, der []byte) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out, err := exec.Command(openssl, "verify", "-x509_strict", "-CAfile", write("root.pem", s.Root.Raw), "-untrusted", write("issuing.pem", s.Issuing.Raw), write("signer.pem", cert.Raw)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "signer.pem: OK") {
		t.Fatalf("openssl verify of the HSM-issued certificate: %v\n%s", err, out)
	}
	// The OCSP responder signs with its HSM key too.
	req, _ := ocsp.CreateRequest(cert, s.Issuing, nil)
	if r, err := ocsp.ParseResponseForCert(c.RespondOCSP(ctx, req), cert, s.Issuing); err != nil || r.Status != ocsp.Good {
		t.Errorf("OCSP through the HSM: %v %v", r, err)
	}
	// And the CRL.
	if _, err := c.CRL(ctx); err != nil {
		t.Errorf("CRL through the HSM: %v", err)
	}
}
