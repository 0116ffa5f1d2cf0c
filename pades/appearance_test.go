package pades

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/internal/testtool"
)

// TestVisibleAppearance signs a prepared document twice, in French then in English, and reads
// the result back with poppler's pdftotext: each signature block shows the signer's name, the
// date, « Signé électroniquement » or "Electronically signed" and the ledger reference, and the
// filled text fields show their values. Each filled field and each signature widget carries a
// normal appearance stream (/AP /N) drawing what the field holds.
func TestVisibleAppearance(t *testing.T) {
	pdftotext := testtool.Require(t, "pdftotext")
	p := newTestPKI(t)
	ctx := context.Background()
	doc := prepare(t, genPDF(genOpts{pages: 3}), twoSignerFields)
	when := time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("CET", 3600))
	signers := []struct {
		name, field, text, value, reason string
		locale                           Locale
	}{
		{"Alice Dupré", "alice_sig", "alice_name", "Alice Dupré, Lyon", "ledger 17", LocaleFR},
		{"Bob Martin", "bob_sig", "bob_name", "Bob Martin, London", "ledger 23", LocaleEN},
	}
	for _, s := range signers {
		key, chain := p.issue(t, s.name)
		var out bytes.Buffer
		if err := Sign(ctx, bytes.NewReader(doc), int64(len(doc)), &out, SignOptions{
			FieldValues: map[string]string{s.text: s.value}, SignatureField: s.field, Signer: key, Chain: chain, Timestamper: p,
			Appearance: Appearance{Name: s.name, Date: when, Reason: s.reason, Locale: s.locale},
		}); err != nil {
			t.Fatalf("Sign %s: %v", s.field, err)
		}
		doc = out.Bytes()
	}
	path := writeTemp(t, t.TempDir(), "signed.pdf", doc)
	text := func(page string) string {
		t.Helper()
		out, err := exec.Command(pdftotext, "-f", page, "-l", page, "-enc", "UTF-8", path, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext page %s: %v\n%s", page, err, out)
		}
		return strings.Join(strings.Fields(string(out)), " ")
	}
	sigPage := text("3")
	for _, want := range []string{
		"Signé électroniquement", "par Alice Dupré", "le 2026-03-14 14:09 UTC", "ledger 17",
		"Electronically signed", "by Bob Martin", "on 2026-03-14 14:09 UTC", "ledger 23",
	} {
		if !strings.Contains(sigPage, want) {
			t.Errorf("pdftotext of the signature page lacks %q:\n%s", want, sigPage)
		}
	}
	fieldPage := text("1")
	for _, s := range signers {
		if !strings.Contains(fieldPage, s.value) {
			t.Errorf("pdftotext of page 1 lacks the value of %s, %q:\n%s", s.text, s.value, fieldPage)
		}
	}

	d, err := openDocument(bytes.NewReader(doc), int64(len(doc)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	appearance := func(name string) string {
		t.Helper()
		f, err := d.field(name)
		if err != nil || f == nil {
			t.Fatalf("field %s: %v", name, err)
		}
		if len(f.widgets) == 0 {
			t.Fatalf("field %s has no widget", name)
		}
		var all []string
		for _, w := range f.widgets {
			ap := d.dict(d.dict(w).get("AP"))
			if ap == nil {
				t.Errorf("field %s: widget %v has no /AP", name, w)
				continue
			}
			n, err := d.resolve(ap.get("N"))
			s, ok := n.(*pdfStream)
			if err != nil || !ok {
				t.Errorf("field %s: /AP /N is not a stream (%T, %v)", name, n, err)
				continue
			}
			data, err := d.decodeStream(s)
			if err != nil {
				t.Fatalf("field %s: /AP /N: %v", name, err)
			}
			all = append(all, string(data))
		}
		return strings.Join(all, "\n")
	}
	shown := func(s string) string { // s as a text-showing operator draws it
		var b bytes.Buffer
		showText(&b, winAnsi(s))
		return b.String()
	}
	for _, s := range signers {
		if ap := appearance(s.text); !strings.Contains(ap, shown(s.value)) {
			t.Errorf("the appearance of %s does not draw %q:\n%s", s.text, s.value, ap)
		}
		if ap := appearance(s.field); !strings.Contains(ap, shown(s.reason)) || !strings.Contains(ap, shown(map[Locale]string{LocaleFR: "par ", LocaleEN: "by "}[s.locale]+s.name)) {
			t.Errorf("the appearance of %s does not draw %q and %q:\n%s", s.field, s.name, s.reason, ap)
		}
	}
}
