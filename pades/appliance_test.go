package pades

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	pdfcpuapi "github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/internal/testtool"
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
	externalChecks(t, "signed", lta.Bytes(), rep, ks.Root, 3)
	pdfcpuValidates(t, lta.Bytes(), ks.Root, 3, model.OCSP)

	// The electronic seal, with revocation data over HTTP then from the CA in process: the seal
	// certificate, the issuing CA and the TSA unit name the root's CRL, which the DSS carries.
	in := genPDF(genOpts{pages: 2})
	for name, rev := range map[string]RevocationSource{"http": HTTPRevocation{Client: srv.Client()}, "in-process": authority.RevocationSource(nil)} {
		var sealed bytes.Buffer
		if err := Seal(ctx, bytes.NewReader(in), int64(len(in)), &sealed, SealOptions{
			Signer: ks.SealSigner, Chain: []*x509.Certificate{ks.Seal}, Timestamper: stamper,
			Revocation: rev, Certs: []*x509.Certificate{ks.Root},
		}); err != nil {
			t.Fatalf("Seal (%s): %v", name, err)
		}
		rep, err = Verify(ctx, bytes.NewReader(sealed.Bytes()), int64(sealed.Len()), VerifyOptions{Roots: roots})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Valid || rep.Level != "B-LTA" || rep.Signatures[0].Field != SealFieldName || rep.Signatures[0].Revocation != "good (CRL in the DSS)" {
			t.Fatalf("seal (%s):\n%s", name, reportText(rep))
		}
		externalChecks(t, "seal ("+name+")", sealed.Bytes(), rep, ks.Root, 2)
		if !dssHolds(t, sealed.Bytes(), ks.RootCRL) {
			t.Errorf("seal (%s): the DSS lacks the root CRL", name)
		}
		// NSS validates the signature. Its certificate verdict on the seal certificate ("Unknown
		// issue with Certificate") is the same as before the root CRL existed, so it is not
		// asserted here.
		out := pdfsig(t, nssDB(t, p), sealed.Bytes())
		if !strings.Contains(out, "Signature is Valid.") {
			t.Errorf("pdfsig on the seal (%s):\n%s", name, out)
		}
	}
}

// externalChecks runs qpdf --check on doc, and openssl ts -verify on every timestamp token it
// holds: the signature timestamp in each signature's CMS (over the signature value) and each
// document timestamp (over its signed bytes), against root alone. want is the number of tokens.
func externalChecks(t *testing.T, name string, doc []byte, rep *Report, root *x509.Certificate, want int) {
	t.Helper()
	qpdf := testtool.Require(t, "qpdf")
	openssl := testtool.Require(t, "openssl")
	dir := t.TempDir()
	path := writeTemp(t, dir, "doc.pdf", doc)
	if out, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") {
		t.Errorf("%s: qpdf --check: %v\n%s", name, err, out)
	}
	rootPEM := writeTemp(t, dir, "root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))
	verified := 0
	tsVerify := func(what string, token, data []byte) {
		t.Helper()
		tst := writeTemp(t, dir, "token.tst", token)
		in := writeTemp(t, dir, "data", data)
		out, err := exec.Command(openssl, "ts", "-verify", "-in", tst, "-token_in", "-data", in, "-CAfile", rootPEM).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verification: OK") {
			t.Errorf("%s: openssl ts -verify (%s): %v\n%s", name, what, err, out)
			return
		}
		verified++
	}
	for _, s := range extractSignatures(t, doc, rep) {
		if s.kind == "document-timestamp" {
			tsVerify("document timestamp "+s.field, s.der, s.content)
			continue
		}
		sd, err := parseSignedData(s.der)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, s.field, err)
		}
		tok := sd.signer.unsigned[oidAttrTimeStampToken.String()]
		if len(tok) != 1 {
			t.Errorf("%s: %s carries %d signature timestamp tokens, want 1", name, s.field, len(tok))
			continue
		}
		tsVerify("signature timestamp of "+s.field, tok[0], sd.signer.signature)
	}
	if verified != want {
		t.Errorf("%s: openssl verified %d timestamp tokens, want %d", name, verified, want)
	}
}

// dssHolds reports whether the DSS of doc has a CRL stream equal to der.
func dssHolds(t *testing.T, doc, der []byte) bool {
	t.Helper()
	d, err := openDocument(bytes.NewReader(doc), int64(len(doc)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := d.catalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range d.array(d.dict(cat.get("DSS")).get("CRLs")) {
		if o, err := d.resolve(r); err == nil {
			if s, ok := o.(*pdfStream); ok {
				if data, err := d.decodeStream(s); err == nil && bytes.Equal(data, der) {
					return true
				}
			}
		}
	}
	return false
}

// pdfcpuValidates runs pdfcpu's signature validation on doc, trusting root alone, with online
// revocation checks limited to loopback and the preferred checker (model.OCSP or model.CRL):
// every one of the want signatures, document timestamps included, must be valid.
func pdfcpuValidates(t *testing.T, doc []byte, root *x509.Certificate, want int, checker int) {
	t.Helper()
	certs := t.TempDir()
	writeTemp(t, certs, "root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))
	saved := model.TrustedCertDir
	model.TrustedCertDir = certs
	model.MarkCertificateStoreChanged()
	defer func() { model.TrustedCertDir = saved; model.MarkCertificateStoreChanged() }()
	conf := pdfcpuConfig()
	conf.Offline = false
	conf.TimeoutCRL, conf.TimeoutOCSP = 10, 10
	conf.PreferredCertRevocationChecker = checker
	conf.AllowedRevocationHosts = []string{"127.0.0.1"}
	res, err := pdfcpuapi.ValidateSignaturesRaw(bytes.NewReader(doc), true, conf)
	if err != nil {
		t.Fatalf("pdfcpu: %v", err)
	}
	if len(res) != want {
		t.Fatalf("pdfcpu found %d signatures, want %d", len(res), want)
	}
	for _, r := range res {
		if r.Status != model.SignatureStatusValid {
			t.Errorf("pdfcpu: %s: %s (%s) problems %v", r.Signature.String(r.Status), r.Status, r.Reason, r.Problems)
		}
	}
}
