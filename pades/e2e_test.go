package pades

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/internal/testtool"
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

func sign(t testing.TB, p *testPKI, in []byte, name, field string, values map[string]string) []byte {
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
	doc = sign(t, p, doc, "Alice Émilie Dupré", "alice_sig", map[string]string{"alice_name": "Alice Émilie Dupré (née « Ça ») \\ ) ("})
	doc = sign(t, p, doc, "Bob Martin", "bob_sig", map[string]string{"bob_name": "Bob Martin"})
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
