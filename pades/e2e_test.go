package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/internal/testtool"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

var twoSignerFields = []Field{
	{Name: "alice_name", Kind: FieldText, Page: 1, Rect: [4]float64{72, 500, 320, 520}, Required: true, MaxLen: 80},
	{Name: "alice_sig", Kind: FieldSignature, Page: 3, Rect: [4]float64{72, 100, 272, 170}, Required: true},
	{Name: "bob_name", Kind: FieldText, Page: 1, Rect: [4]float64{72, 450, 320, 470}},
	{Name: "bob_sig", Kind: FieldSignature, Page: 3, Rect: [4]float64{300, 100, 500, 170}, Required: true},
}

func prepare(t testing.TB, in []byte, fields []Field) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), &out, PrepareOptions{Fields: fields}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return out.Bytes()
}

func signAs(t testing.TB, p *testPKI, in []byte, name, field string, values map[string]string) []byte {
	t.Helper()
	key, chain := p.issue(t, name)
	var out bytes.Buffer
	err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, SignOptions{
		FieldValues: values, SignatureField: field, Signer: key, Chain: chain, Timestamper: p,
		Appearance: Appearance{Name: name, Reason: "Ledger event #42 (sha256:ab\\cd)", Locale: LocaleFR},
	})
	if err != nil {
		t.Fatalf("Sign %s: %v", field, err)
	}
	if !bytes.Equal(out.Bytes()[:len(in)], in) {
		t.Fatalf("Sign %s changed the bytes of its input", field)
	}
	return out.Bytes()
}

// twoSigners returns a 3-page document signed by Alice then Bob.
func twoSigners(t testing.TB, p *testPKI, base []byte) []byte {
	doc := prepare(t, base, twoSignerFields)
	doc = signAs(t, p, doc, "Alice Émilie Dupré", "alice_sig", map[string]string{"alice_name": "Alice Émilie Dupré (née « Ça ») \\ ) ("})
	doc = signAs(t, p, doc, "Bob Martin", "bob_sig", map[string]string{"bob_name": "Bob Martin"})
	return doc
}

// nssDB creates an NSS database trusting the test root.
func nssDB(t testing.TB, p *testPKI) string {
	certutil := testtool.Require(t, "certutil")
	dir := t.TempDir()
	root := p.rootPEM(t, dir)
	db := filepath.Join(dir, "nss")
	os.Mkdir(db, 0o700)
	for _, args := range [][]string{
		{"-N", "--empty-password", "-d", "sql:" + db},
		{"-A", "-n", "root", "-t", "CT,C,C", "-i", root, "-d", "sql:" + db},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return db
}

func pdfsig(t testing.TB, db string, doc []byte, extra ...string) string {
	bin := testtool.Require(t, "pdfsig")
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-nssdir", "sql:" + db}, extra...)
	out, _ := exec.Command(bin, append(args, path)...).CombinedOutput()
	return string(out)
}

// pdfsigBlocks splits pdfsig output per signature.
func pdfsigBlocks(out string) []string {
	parts := strings.Split(out, "Signature #")
	if len(parts) < 2 {
		return nil
	}
	return parts[1:]
}

func TestTwoSignersPdfsig(t *testing.T) {
	p := newTestPKI(t)
	base := genPDF(genOpts{pages: 3, rotate: 90})
	doc := twoSigners(t, p, base)
	db := nssDB(t, p)
	// OCSP checking stays on: with -no-ocsp poppler 22.12 reports "Unknown issue" for
	// signatures without a signingTime attribute, which PAdES forbids.
	out := pdfsig(t, db, doc)
	blocks := pdfsigBlocks(out)
	if len(blocks) != 2 {
		t.Fatalf("pdfsig found %d signatures, want 2:\n%s", len(blocks), out)
	}
	for i, b := range blocks {
		for _, want := range []string{"Signature is Valid.", "Certificate is Trusted.", "ETSI.CAdES.detached"} {
			if !strings.Contains(b, want) {
				t.Errorf("signature %d: pdfsig does not say %q:\n%s", i+1, want, b)
			}
		}
	}
}

// extend makes doc B-LTA with the test PKI's revocation data.
func extend(t testing.TB, p *testPKI, doc []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	err := Extend(context.Background(), bytes.NewReader(doc), int64(len(doc)), &out, ExtendOptions{
		Revocation: p, Certs: []*x509.Certificate{p.root}, Timestamper: p,
	})
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if !bytes.Equal(out.Bytes()[:len(doc)], doc) {
		t.Fatal("Extend changed the bytes of its input")
	}
	return out.Bytes()
}

// extracted is one signature's /Contents (trimmed to its DER) and its signed bytes.
type extracted struct {
	field   string
	kind    string
	der     []byte
	content []byte
}

func extractSignatures(t testing.TB, doc []byte, rep *Report) []extracted {
	t.Helper()
	var out []extracted
	for _, s := range rep.Signatures {
		br := s.ByteRange
		if len(br) != 4 {
			t.Fatalf("signature %q has no ByteRange", s.Field)
		}
		raw, err := hex.DecodeString(string(doc[br[1]+1 : br[2]-1]))
		if err != nil {
			t.Fatal(err)
		}
		var v asn1.RawValue
		if _, err := asn1.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		content := append(append([]byte(nil), doc[br[0]:br[0]+br[1]]...), doc[br[2]:br[2]+br[3]]...)
		out = append(out, extracted{field: s.Field, kind: s.Kind, der: v.FullBytes, content: content})
	}
	return out
}

func writeTemp(t testing.TB, dir, name string, b []byte) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTwoSignersLTA(t *testing.T) {
	p := newTestPKI(t)
	base := genPDF(genOpts{pages: 3, rotate: 90, flate: true})
	doc := extend(t, p, twoSigners(t, p, base))
	dir := t.TempDir()
	path := writeTemp(t, dir, "lta.pdf", doc)
	root := p.rootPEM(t, dir)

	rep, err := Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), VerifyOptions{Roots: p.roots()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Level != "B-LTA" || len(rep.Signatures) != 3 {
		var b strings.Builder
		rep.WriteText(&b, "lta.pdf")
		t.Fatalf("Verify: valid=%v level=%q signatures=%d, want valid B-LTA with 3:\n%s", rep.Valid, rep.Level, len(rep.Signatures), b.String())
	}
	if rep.DSS == nil || rep.DSS.Certs < 4 || rep.DSS.CRLs < 1 || rep.DSS.OCSPs < 2 {
		t.Errorf("DSS = %+v, want the chain, CRLs and OCSP responses", rep.DSS)
	}
	for _, s := range rep.Signatures[:2] {
		if s.Timestamp == nil || !s.Timestamp.Trusted || !strings.HasPrefix(s.Revocation, "good") || s.DisallowedChanges != 0 || len(s.Changes) == 0 {
			t.Errorf("signature %q: timestamp %+v, revocation %q, %d changes (%d disallowed)", s.Field, s.Timestamp, s.Revocation, len(s.Changes), s.DisallowedChanges)
		}
	}

	t.Run("pdfsig", func(t *testing.T) {
		out := pdfsig(t, nssDB(t, p), doc)
		blocks := pdfsigBlocks(out)
		if len(blocks) != 3 {
			t.Fatalf("pdfsig found %d signatures, want 3:\n%s", len(blocks), out)
		}
		for i, b := range blocks[:2] {
			for _, want := range []string{"Signature is Valid.", "Certificate is Trusted.", "ETSI.CAdES.detached"} {
				if !strings.Contains(b, want) {
					t.Errorf("signature %d: pdfsig does not say %q:\n%s", i+1, want, b)
				}
			}
		}
	})
	t.Run("qpdf", func(t *testing.T) {
		qpdf := testtool.Require(t, "qpdf")
		if out, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil {
			t.Fatalf("qpdf --check: %v\n%s", err, out)
		}
		out, err := exec.Command(qpdf, "--json", path).CombinedOutput()
		if err != nil {
			t.Fatalf("qpdf --json: %v\n%s", err, out)
		}
		if bytes.Contains(out, []byte("not reachable from /AcroForm")) || bytes.Contains(out, []byte("WARNING")) {
			t.Errorf("qpdf --json warns:\n%s", out)
		}
		var j struct {
			AcroForm struct {
				Fields []struct {
					FullName  string `json:"fullname"`
					FieldType string `json:"fieldtype"`
				} `json:"fields"`
			} `json:"acroform"`
		}
		if err := json.Unmarshal(out, &j); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range j.AcroForm.Fields {
			got[f.FullName] = f.FieldType
		}
		for name, ft := range map[string]string{"alice_name": "/Tx", "bob_name": "/Tx", "alice_sig": "/Sig", "bob_sig": "/Sig", "DocTimeStamp1": "/Sig"} {
			if got[name] != ft {
				t.Errorf("qpdf acroform field %q has type %q, want %q (fields %v)", name, got[name], ft, got)
			}
		}
	})
	t.Run("openssl", func(t *testing.T) {
		openssl := testtool.Require(t, "openssl")
		for i, s := range extractSignatures(t, doc, rep) {
			der := writeTemp(t, dir, fmt.Sprintf("sig%d.der", i), s.der)
			content := writeTemp(t, dir, fmt.Sprintf("sig%d.content", i), s.content)
			if s.kind == "document-timestamp" {
				out, err := exec.Command(openssl, "ts", "-verify", "-in", der, "-token_in", "-data", content, "-CAfile", root).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "Verification: OK") {
					t.Errorf("openssl ts -verify (document timestamp): %v\n%s", err, out)
				}
				continue
			}
			out, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", der, "-content", content, "-CAfile", root, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification successful") {
				t.Errorf("openssl cms -verify %s: %v\n%s", s.field, err, out)
			}
			sd, err := parseSignedData(s.der)
			if err != nil {
				t.Fatal(err)
			}
			tok := sd.signer.unsigned[oidAttrTimeStampToken.String()]
			if len(tok) != 1 {
				t.Fatalf("%s: %d timestamp tokens", s.field, len(tok))
			}
			tst := writeTemp(t, dir, fmt.Sprintf("sig%d.tst", i), tok[0])
			sigValue := writeTemp(t, dir, fmt.Sprintf("sig%d.value", i), sd.signer.signature)
			out, err = exec.Command(openssl, "ts", "-verify", "-in", tst, "-token_in", "-data", sigValue, "-CAfile", root).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification: OK") {
				t.Errorf("openssl ts -verify (signature timestamp of %s): %v\n%s", s.field, err, out)
			}
			if _, ok := sd.signer.attrs[oidAttrSigningTime.String()]; ok {
				t.Errorf("%s: the signed attributes contain signingTime", s.field)
			}
			if len(sd.signer.attrs) != 3 || sd.signer.attrs[oidAttrSigningCertV2.String()] == nil {
				t.Errorf("%s: signed attributes %v, want contentType, messageDigest, signingCertificateV2", s.field, sd.signer.attrs)
			}
		}
	})
	t.Run("pdfcpu", func(t *testing.T) { pdfcpuValidates(t, doc, p.root, 3, model.CRL) })
}
