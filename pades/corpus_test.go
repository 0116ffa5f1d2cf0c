package pades

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	pdfcpuapi "github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
)

// genOpts describe a PDF written by hand by genPDF: every shape the corpus needs.
type genOpts struct {
	pages       int
	version     string // "1.4" by default
	rotate      int    // /Rotate of every other page
	acroForm    bool   // an existing AcroForm with one filled text field
	incremental bool   // an earlier incremental update (changes /Info)
	flate       bool   // compress content streams
}

// genPDF writes a minimal, valid PDF with a classic cross-reference table.
func genPDF(o genOpts) []byte {
	if o.version == "" {
		o.version = "1.4"
	}
	var buf bytes.Buffer
	offsets := map[int]int{}
	obj := func(n int, body string) {
		offsets[n] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	fmt.Fprintf(&buf, "%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n", o.version)
	// 1 catalog, 2 pages, 3 font, 4 info, 5 existing field; pages from 10, two objects each.
	kids := ""
	for i := 0; i < o.pages; i++ {
		kids += fmt.Sprintf("%d 0 R ", 10+2*i)
	}
	cat := "<< /Type /Catalog /Pages 2 0 R"
	if o.acroForm {
		cat += " /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 3 0 R >> >> >>"
	}
	obj(1, cat+" >>")
	obj(2, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 595 842] >>", kids, o.pages))
	obj(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj(4, "<< /Producer (paraphe test corpus) >>")
	if o.acroForm {
		obj(5, "<< /Type /Annot /Subtype /Widget /FT /Tx /T (existing) /V (kept value) /Rect [72 600 300 620] /P 10 0 R /DA (/Helv 10 Tf 0 g) /F 4 >>")
	}
	for i := 0; i < o.pages; i++ {
		p, c := 10+2*i, 11+2*i
		extra := ""
		if o.rotate != 0 && i%2 == 1 {
			extra = fmt.Sprintf(" /Rotate %d", o.rotate)
		}
		if o.acroForm && i == 0 {
			extra += " /Annots [5 0 R]"
		}
		obj(p, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R%s >>", c, extra))
		content := fmt.Sprintf("BT /F1 24 Tf 72 720 Td (Page %d of %d) Tj ET\nBT /F1 10 Tf 72 700 Td (Lorem ipsum dolor sit amet, consectetur adipiscing elit.) Tj ET\n", i+1, o.pages)
		if o.flate {
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			zw.Write([]byte(content))
			zw.Close()
			offsets[c] = buf.Len()
			fmt.Fprintf(&buf, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", c, z.Len())
			buf.Write(z.Bytes())
			buf.WriteString("\nendstream\nendobj\n")
		} else {
			obj(c, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
		}
	}
	size := 10 + 2*o.pages
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n", size)
	for n := 0; n < size; n++ {
		if off, ok := offsets[n]; ok {
			fmt.Fprintf(&buf, "%010d 00000 n \n", off)
		} else {
			buf.WriteString("0000000000 65535 f \n")
		}
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>] >>\nstartxref\n%d\n%%%%EOF\n", size, xref)
	if o.incremental {
		off := buf.Len()
		buf.WriteString("4 0 obj\n<< /Producer (paraphe test corpus) /Title (Updated incrementally) >>\nendobj\n")
		x2 := buf.Len()
		fmt.Fprintf(&buf, "xref\n4 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root 1 0 R /Info 4 0 R /Prev %d /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>] >>\nstartxref\n%d\n%%%%EOF\n", off, size, xref, x2)
	}
	return buf.Bytes()
}

// rewriteWithPdfcpu returns b rewritten by pdfcpu, with cross-reference and object streams.
func rewriteWithPdfcpu(t testing.TB, b []byte) []byte {
	t.Helper()
	ctx, err := pdfcpu.Read(bytes.NewReader(b), pdfcpuConfig())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := pdfcpuapi.WriteContext(ctx, &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestCorpusShapes prepares, signs and verifies every accepted shape of input.
func TestCorpusShapes(t *testing.T) {
	p := newTestPKI(t)
	shapes := map[string][]byte{
		"one page PDF 1.4":                 genPDF(genOpts{pages: 1}),
		"multi-page":                       genPDF(genOpts{pages: 12, flate: true}),
		"rotated pages":                    genPDF(genOpts{pages: 4, rotate: 270}),
		"PDF 2.0 header":                   genPDF(genOpts{pages: 3, version: "2.0"}),
		"existing AcroForm":                genPDF(genOpts{pages: 3, acroForm: true}),
		"earlier incremental update":       genPDF(genOpts{pages: 3, incremental: true}),
		"xref and object streams":          rewriteWithPdfcpu(t, genPDF(genOpts{pages: 3, flate: true})),
		"object streams with AcroForm 1.7": rewriteWithPdfcpu(t, genPDF(genOpts{pages: 3, acroForm: true, version: "1.7"})),
	}
	db := nssDB(t, p)
	for name, base := range shapes {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			fields := append([]Field(nil), twoSignerFields...)
			d, _ := openDocument(bytes.NewReader(base), int64(len(base)), Limits{})
			pages, _ := d.pages()
			for i := range fields {
				fields[i].Page = min(fields[i].Page, len(pages))
			}
			res, err := Prepare(context.Background(), bytes.NewReader(base), int64(len(base)), &out, PrepareOptions{Fields: fields})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if res.Pages != len(pages) || len(res.PageDigests) != res.Pages {
				t.Fatalf("Prepare counted %d pages (%d digests), want %d", res.Pages, len(res.PageDigests), len(pages))
			}
			if bytes.Equal(res.PageDigests[0], res.PageDigests[len(res.PageDigests)-1]) && res.Pages > 1 {
				t.Error("different pages have the same content digest")
			}
			doc := signAs(t, p, out.Bytes(), "Alice", "alice_sig", map[string]string{"alice_name": "Zoë"})
			doc = signAs(t, p, doc, "Bob", "bob_sig", nil)
			rep := verifyBytes(t, p, doc)
			if !rep.Valid || len(rep.Signatures) != 2 {
				t.Fatalf("not valid:\n%s", reportText(rep))
			}
			if strings.Contains(name, "AcroForm") {
				fs, err := openMust(t, doc).formFields()
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, f := range fs {
					found = found || (f.name == "existing" && textString(f.dict.get("V")) == "kept value")
				}
				if !found {
					t.Error("the existing form field was lost")
				}
			}
			if c := strings.Count(pdfsig(t, db, doc), "Signature is Valid."); c != 2 {
				t.Errorf("pdfsig validates %d signatures, want 2", c)
			}
		})
	}
}

func openMust(t testing.TB, b []byte) *document {
	t.Helper()
	d, err := openDocument(bytes.NewReader(b), int64(len(b)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// bomb returns a PDF whose page content is a Flate stream that expands to n zero bytes.
func bomb(n int) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(make([]byte, n))
	zw.Close()
	doc := genPDF(genOpts{pages: 1})
	// Replace the content stream of page 1 (object 11) in a new revision.
	d, _ := openDocument(bytes.NewReader(doc), int64(len(doc)), Limits{})
	u := newUpdate(d)
	u.set(pdfRef{11, 0}, &pdfStream{dict: pdfDict{"Filter": pdfName("FlateDecode")}, data: z.Bytes()})
	lay, _ := u.serialise(int64(len(doc)))
	return append(doc, lay.buf...)
}

func TestPrepareRejects(t *testing.T) {
	good := genPDF(genOpts{pages: 2})
	encrypted := bytes.Replace(good, []byte("/Root 1 0 R /Info"), []byte("/Encrypt 4 0 R /Root 1 0 R /Info"), 1)
	loop := bytes.Replace(good, []byte("/Kids [10 0 R 12 0 R ]"), []byte("/Kids [2 0 R  12 0 R ]"), 1)
	var deep any = []any{}
	for i := 0; i < 100; i++ {
		deep = []any{deep}
	}
	nested := appendRevision(t, good, func(d *document, u *update) { u.set(pdfRef{4, 0}, deep) })
	cases := []struct {
		name string
		in   []byte
		lim  Limits
		want error
		msg  string
	}{
		{"not a PDF", []byte("hello, this is not a PDF at all, just text that goes on"), Limits{}, ErrNotPDF, "no %PDF- header"},
		{"empty", nil, Limits{}, ErrNotPDF, ""},
		{"truncated", good[:len(good)/2], Limits{}, ErrTruncated, "%%EOF"},
		{"encrypted", encrypted, Limits{}, ErrEncrypted, "/Encrypt"},
		{"decompression bomb", bomb(8 << 20), Limits{MaxStreamBytes: 1 << 20}, ErrLimit, "decompression bomb"},
		{"page tree loop", loop, Limits{}, ErrMalformed, "loop"},
		{"deep nesting", nested, Limits{}, ErrMalformed, "nested deeper"},
		{"too many pages", genPDF(genOpts{pages: 5}), Limits{MaxPages: 4}, ErrLimit, "more than 4 pages"},
		{"garbage xref", bytes.Replace(good, []byte("xref\n0 "), []byte("xrex\n0 "), 1), Limits{}, ErrMalformed, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Prepare(context.Background(), bytes.NewReader(c.in), int64(len(c.in)), &out, PrepareOptions{Fields: twoSignerFields[:1], Limits: c.lim})
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q, want %v containing %q", err, c.want, c.msg)
			}
			if out.Len() != 0 {
				t.Error("output written despite the error")
			}
		})
	}
	t.Run("bad fields", func(t *testing.T) {
		for _, f := range []Field{
			{Name: "a b", Kind: FieldText, Page: 1, Rect: [4]float64{0, 0, 50, 20}},
			{Name: "x", Kind: FieldText, Page: 3, Rect: [4]float64{0, 0, 50, 20}},
			{Name: "x", Kind: FieldText, Page: 1, Rect: [4]float64{0, 0, 2, 2}},
			{Name: "x", Kind: 9, Page: 1},
		} {
			var out bytes.Buffer
			if _, err := Prepare(context.Background(), bytes.NewReader(good), int64(len(good)), &out, PrepareOptions{Fields: []Field{f}}); err == nil {
				t.Errorf("field %+v accepted", f)
			}
		}
	})
	t.Run("already signed", func(t *testing.T) {
		p := newTestPKI(t)
		doc := signedOnce(t, p)
		var out bytes.Buffer
		if _, err := Prepare(context.Background(), bytes.NewReader(doc), int64(len(doc)), &out, PrepareOptions{}); !errors.Is(err, ErrAlreadySigned) {
			t.Fatalf("error %v, want ErrAlreadySigned", err)
		}
	})
}
