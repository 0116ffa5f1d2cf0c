package pades

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/tsa"
)

// TestWithApplianceCAAndTSA signs with certificates from the appliance's own CA and
// timestamps from its own TSA, fetches CRL and OCSP from the CA's HTTP handler for the DSS,
// seals with the platform seal key, and verifies everything.
func TestWithApplianceCAAndTSA(t *testing.T) {
	ctx := context.Background()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ks, err := keys.Init(ctx, keys.Options{Dir: t.TempDir(), Passphrase: []byte("test passphrase"), Organization: "Paraphe Test", Country: "FR", LedgerKeyName: "test.paraphe.example/ledger", BaseURL: srv.URL})
	if err != nil {
		t.Fatalf("keys.Init: %v", err)
	}
	t.Cleanup(func() { ks.Close() })
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	authority, err := ca.New(ctx, ca.Options{Keys: ks, DB: db, BaseURL: srv.URL})
	if err != nil {
		t.Fatalf("ca.New: %v", err)
	}
	mux.Handle("/", authority.Handler())
	stamper, err := tsa.New(ctx, tsa.Options{Signer: ks.TSASigner, Cert: ks.TSA, Chain: []*x509.Certificate{ks.Root}, IncludeChain: true, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("tsa.New: %v", err)
	}
	t.Cleanup(func() { stamper.Close() })

	issue := func(name string, leaf int) (*ecdsa.PrivateKey, []*x509.Certificate) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte(name))
		c, err := authority.IssueSigner(ctx, ca.SignerRequest{Name: name, Email: "signer@example.org", PublicKey: k.Public(), Binding: ca.Binding{LeafIndex: uint64(leaf), LeafHash: h[:]}})
		if err != nil {
			t.Fatalf("IssueSigner: %v", err)
		}
		return k, []*x509.Certificate{c, authority.Issuing()}
	}
	doc := prepare(t, genPDF(genOpts{pages: 3}), twoSignerFields)
	for i, s := range []struct{ name, field, text string }{{"Alice Dupré", "alice_sig", "alice_name"}, {"Bob Martin", "bob_sig", "bob_name"}} {
		key, chain := issue(s.name, i+1)
		var out bytes.Buffer
		if err := Sign(ctx, bytes.NewReader(doc), int64(len(doc)), &out, SignOptions{
			FieldValues: map[string]string{s.text: s.name}, SignatureField: s.field, Signer: key, Chain: chain, Timestamper: stamper,
			Appearance: Appearance{Name: s.name, Reason: "ledger #1", Locale: LocaleEN},
		}); err != nil {
			t.Fatalf("Sign: %v", err)
		}
		doc = out.Bytes()
	}
	var lta bytes.Buffer
	if err := Extend(ctx, bytes.NewReader(doc), int64(len(doc)), &lta, ExtendOptions{Revocation: HTTPRevocation{Client: srv.Client()}, Certs: []*x509.Certificate{ks.Root}, Timestamper: stamper}); err != nil {
		t.Fatalf("Extend with the CA's CRL and OCSP: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ks.Root)
	rep, err := Verify(ctx, bytes.NewReader(lta.Bytes()), int64(lta.Len()), VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Level != "B-LTA" || rep.DSS == nil || rep.DSS.OCSPs < 2 || rep.DSS.CRLs < 1 {
		t.Fatalf("not a valid B-LTA with CRLs and OCSP responses:\n%s", reportText(rep))
	}
	p := &testPKI{root: ks.Root}
	out := pdfsig(t, nssDB(t, p), lta.Bytes())
	if c := strings.Count(out, "Signature is Valid."); c != 2 {
		t.Errorf("pdfsig validates %d signatures, want 2:\n%s", c, out)
	}
	if strings.Count(out, "Certificate is Trusted.") != 2 {
		t.Errorf("pdfsig trusts no certificate:\n%s", out)
	}

	// The electronic seal.
	in := genPDF(genOpts{pages: 2})
	var sealed bytes.Buffer
	if err := Seal(ctx, bytes.NewReader(in), int64(len(in)), &sealed, SealOptions{
		Signer: ks.SealSigner, Chain: []*x509.Certificate{ks.Seal}, Timestamper: stamper,
		Revocation: HTTPRevocation{Client: srv.Client()}, Certs: []*x509.Certificate{ks.Root},
	}); err != nil {
		t.Fatalf("Seal: %v", err)
	}
	rep, err = Verify(ctx, bytes.NewReader(sealed.Bytes()), int64(sealed.Len()), VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Level != "B-LTA" || rep.Signatures[0].Field != SealFieldName {
		t.Fatalf("seal:\n%s", reportText(rep))
	}
}
