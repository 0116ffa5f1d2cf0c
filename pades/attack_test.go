package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// verifyBytes runs Verify and fails the test on a read error.
func verifyBytes(t testing.TB, p *testPKI, doc []byte) *Report {
	t.Helper()
	rep, err := Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), VerifyOptions{Roots: p.roots()})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func reportText(r *Report) string {
	var b strings.Builder
	r.WriteText(&b, "doc.pdf")
	return b.String()
}

// appendRevision appends an incremental update built by edit to doc.
func appendRevision(t testing.TB, doc []byte, edit func(d *document, u *update)) []byte {
	t.Helper()
	d, err := openDocument(bytes.NewReader(doc), int64(len(doc)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	u := newUpdate(d)
	edit(d, u)
	lay, err := u.serialise(int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), doc...), lay.buf...)
}

// signedOnce returns a prepared 3-page document signed by Alice only.
func signedOnce(t testing.TB, p *testPKI) []byte {
	doc := prepare(t, genPDF(genOpts{pages: 3}), twoSignerFields)
	return signAs(t, p, doc, "Alice", "alice_sig", map[string]string{"alice_name": "Alice"})
}

func mustInvalid(t testing.TB, rep *Report, want string) {
	t.Helper()
	if rep.Valid {
		t.Fatalf("the forged document verifies as valid:\n%s", reportText(rep))
	}
	if want != "" && !strings.Contains(reportText(rep), want) {
		t.Fatalf("the report does not say %q:\n%s", want, reportText(rep))
	}
}

func TestTamperOneByte(t *testing.T) {
	p := newTestPKI(t)
	doc := extend(t, p, twoSigners(t, p, genPDF(genOpts{pages: 3})))
	if rep := verifyBytes(t, p, doc); !rep.Valid {
		t.Fatalf("untampered document is invalid:\n%s", reportText(rep))
	}
	// A byte of the first page's content, covered by every signature.
	i := bytes.Index(doc, []byte("Lorem ipsum"))
	if i < 0 {
		t.Fatal("content not found")
	}
	bad := append([]byte(nil), doc...)
	bad[i] ^= 0x20
	rep := verifyBytes(t, p, bad)
	mustInvalid(t, rep, "message digest mismatch")
	for _, s := range rep.Signatures {
		if s.DigestValid {
			t.Errorf("%s: digest still valid after tampering", s.Field)
		}
	}
	out := pdfsig(t, nssDB(t, p), bad)
	if strings.Contains(out, "Signature is Valid.") {
		t.Errorf("pdfsig still says valid after tampering:\n%s", out)
	}
}

func TestIncrementalSavingAttack(t *testing.T) {
	p := newTestPKI(t)
	doc := signedOnce(t, p)
	t.Run("page content replaced", func(t *testing.T) {
		bad := appendRevision(t, doc, func(d *document, u *update) {
			pages, _ := d.pages()
			content := u.add(&pdfStream{dict: pdfDict{}, data: []byte("BT /F1 24 Tf 72 720 Td (Pay 1000000 EUR to Mallory) Tj ET")})
			pd := pages[0].dict.clone()
			pd["Contents"] = content
			u.set(pages[0].ref, pd)
		})
		rep := verifyBytes(t, p, bad)
		mustInvalid(t, rep, "DISALLOWED")
		if rep.Signatures[0].DisallowedChanges == 0 || !rep.Signatures[0].DigestValid {
			t.Errorf("want a valid digest with a disallowed change:\n%s", reportText(rep))
		}
	})
	t.Run("page added", func(t *testing.T) {
		bad := appendRevision(t, doc, func(d *document, u *update) {
			cat, _ := d.catalog()
			pr := cat.get("Pages").(pdfRef)
			pagesDict := d.dict(pr).clone()
			np := u.add(pdfDict{"Type": pdfName("Page"), "Parent": pr, "MediaBox": []any{int64(0), int64(0), int64(595), int64(842)}})
			pagesDict["Kids"] = append(append([]any(nil), d.array(pagesDict.get("Kids"))...), np)
			pagesDict["Count"] = int64(4)
			u.set(pr, pagesDict)
		})
		mustInvalid(t, verifyBytes(t, p, bad), "DISALLOWED")
	})
	t.Run("annotation added", func(t *testing.T) {
		bad := appendRevision(t, doc, func(d *document, u *update) {
			pages, _ := d.pages()
			a := u.add(pdfDict{"Type": pdfName("Annot"), "Subtype": pdfName("FreeText"), "Rect": []any{int64(72), int64(700), int64(400), int64(740)}, "Contents": pdfString{b: []byte("VOID")}})
			if err := appendToArray(d, u, pages[0].ref, "Annots", a); err != nil {
				t.Fatal(err)
			}
		})
		mustInvalid(t, verifyBytes(t, p, bad), "non-signature element")
	})
	t.Run("trailing bytes", func(t *testing.T) {
		bad := append(append([]byte(nil), doc...), []byte("1 0 obj\n(garbage)\nendobj\n")...)
		mustInvalid(t, verifyBytes(t, p, bad), "outside any revision")
	})
	t.Run("form filling and later signature are allowed", func(t *testing.T) {
		later := signAs(t, p, doc, "Bob", "bob_sig", map[string]string{"bob_name": "Bob"})
		rep := verifyBytes(t, p, later)
		if !rep.Valid || len(rep.Signatures[0].Changes) == 0 || rep.Signatures[0].DisallowedChanges != 0 {
			t.Fatalf("a later signature with form filling is reported as a forbidden change:\n%s", reportText(rep))
		}
	})
}

func TestUniversalSignatureForgery(t *testing.T) {
	p := newTestPKI(t)
	doc := signedOnce(t, p)
	brRE := regexp.MustCompile(`/ByteRange \[0 (\d+) (\d+) (\d+) *\]`)
	m := brRE.FindSubmatchIndex(doc)
	if m == nil {
		t.Fatal("no ByteRange")
	}
	width := m[1] - m[0]
	var br [3]int64
	for i := range br {
		fmt.Sscan(string(doc[m[2+2*i]:m[3+2*i]]), &br[i])
	}
	withByteRange := func(s string) []byte {
		for len(s) < width {
			s = s[:len(s)-1] + " ]"
		}
		if len(s) != width {
			t.Fatalf("replacement %q does not fit %d bytes", s, width)
		}
		bad := append([]byte(nil), doc...)
		copy(bad[m[0]:], s)
		return bad
	}
	cases := map[string]struct {
		doc  []byte
		want string
	}{
		"missing ByteRange":   {withByteRange(strings.Replace(string(doc[m[0]:m[1]]), "/ByteRange", "/ByteRangX", 1)), "/ByteRange is missing"},
		"short last range":    {withByteRange(fmt.Sprintf("/ByteRange [0 %d %d %d]", br[0], br[1], br[2]-10)), "not the end of a revision"},
		"overlapping ranges":  {withByteRange(fmt.Sprintf("/ByteRange [0 %d %d %d]", br[1], br[0], br[2])), "overlapping"},
		"negative range":      {withByteRange(fmt.Sprintf("/ByteRange [0 %d %d -%d]", br[0], br[1], 1)), "negative"},
		"gap not on Contents": {withByteRange(fmt.Sprintf("/ByteRange [0 %d %d %d]", br[0]-2, br[1], br[2])), "signature wrapping"},
		"three numbers":       {withByteRange(fmt.Sprintf("/ByteRange [0 %d %d]", br[0], br[1])), "3 numbers"},
	}
	// Malformed /Contents: the first hex digits (outside the signed ranges) changed.
	bad := append([]byte(nil), doc...)
	copy(bad[br[0]+1:], "FFFF")
	cases["malformed Contents"] = struct {
		doc  []byte
		want string
	}{bad, "malformed CMS"}
	// Empty /Contents through a later revision that rewrites the signature dictionary.
	cases["empty Contents"] = struct {
		doc  []byte
		want string
	}{appendRevision(t, doc, func(d *document, u *update) {
		f, _ := d.field("alice_sig")
		r := f.dict.get("V").(pdfRef)
		sd := d.dict(r).clone()
		sd["Contents"] = pdfString{hex: true}
		u.set(r, sd)
	}), "/Contents is missing or empty"}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			mustInvalid(t, verifyBytes(t, p, c.doc), c.want)
		})
	}
}

func TestSignatureWrapping(t *testing.T) {
	p := newTestPKI(t)
	doc := signedOnce(t, p)
	// The signature dictionary is copied, unchanged, into a new revision: its ByteRange still
	// describes the old bytes, but the viewer now reads the new revision.
	bad := appendRevision(t, doc, func(d *document, u *update) {
		f, _ := d.field("alice_sig")
		r := f.dict.get("V").(pdfRef)
		u.set(r, d.dict(r).clone())
		pages, _ := d.pages()
		content := u.add(&pdfStream{dict: pdfDict{}, data: []byte("BT /F1 24 Tf 72 720 Td (Other content) Tj ET")})
		pd := pages[1].dict.clone()
		pd["Contents"] = content
		u.set(pages[1].ref, pd)
	})
	mustInvalid(t, verifyBytes(t, p, bad), "signature wrapping")
}

func TestShadowAttack(t *testing.T) {
	p := newTestPKI(t)
	prepared := prepare(t, genPDF(genOpts{pages: 3}), twoSignerFields)
	var hidden pdfRef
	// Before signing, an unreachable appearance is slipped into the document.
	withHidden := appendRevision(t, prepared, func(d *document, u *update) {
		hidden = u.add(formXObject(248, 20, []byte("BT /F1 10 Tf 2 5 Td (I owe Mallory everything) Tj ET")))
	})
	doc := signAs(t, p, withHidden, "Alice", "alice_sig", nil)
	if rep := verifyBytes(t, p, doc); !rep.Valid {
		t.Fatalf("signed document invalid:\n%s", reportText(rep))
	}
	// After signing, a "form filling" reveals it as the appearance of a field.
	bad := appendRevision(t, doc, func(d *document, u *update) {
		f, err := d.field("bob_name")
		if err != nil {
			t.Fatal(err)
		}
		fd := f.dict.clone()
		fd["V"] = pdfString{b: []byte("x")}
		fd["AP"] = pdfDict{"N": hidden}
		u.set(f.ref, fd)
	})
	mustInvalid(t, verifyBytes(t, p, bad), "hidden (unreachable)")
}

func TestCertificateConfusion(t *testing.T) {
	p := newTestPKI(t)
	doc := prepare(t, genPDF(genOpts{pages: 3}), twoSignerFields)
	// A trusted certificate of someone else, first in the bag.
	_, trusted := p.issue(t, "Alice Trusted")
	// Mallory's own certificate from an untrusted CA actually signs.
	mk := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: "Mallory"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	mallory := mustCert(t, tmpl, tmpl, mk.Public(), mk)
	var out bytes.Buffer
	err := sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &out, SignOptions{
		SignatureField: "alice_sig", Signer: mk, Chain: []*x509.Certificate{mallory}, Timestamper: p,
	}, []*x509.Certificate{trusted[0], trusted[1], mallory})
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, p, out.Bytes())
	mustInvalid(t, rep, "signer certificate:")
	if s := rep.Signatures[0]; s.Signer == nil || !strings.Contains(s.Signer.Subject, "Mallory") || s.ChainTrusted {
		t.Errorf("the verifier judged the wrong certificate: %+v", s.Signer)
	}
	// signingCertificateV2 must name the certificate that signed.
	sd := cadesSigner{chain: []*x509.Certificate{mallory}}
	attrs, err := parseAttributes(mustSetBody(t, sd.signedAttributes(make([]byte, 32))))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSigningCertificate(attrs, trusted[0], false); err == nil {
		t.Error("signingCertificateV2 of Mallory accepted for another certificate")
	}
	if err := checkSigningCertificate(attrs, mallory, false); err != nil {
		t.Errorf("signingCertificateV2 rejected for its own certificate: %v", err)
	}
}

func mustSetBody(t testing.TB, set []byte) []byte {
	t.Helper()
	// Skip the SET tag and length.
	if len(set) < 2 || set[0] != 0x31 {
		t.Fatal("not a SET")
	}
	n := int(set[1])
	off := 2
	if n&0x80 != 0 {
		k := n & 0x7f
		n = 0
		for i := 0; i < k; i++ {
			n = n<<8 | int(set[2+i])
		}
		off += k
	}
	return set[off : off+n]
}
