package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"testing"
)

// fuzzSeeds are documents of every shape the tests build, signed and unsigned.
func fuzzSeeds(f *testing.F) [][]byte {
	p := newOfflinePKI(f)
	signed := signedOnce(f, p)
	return [][]byte{
		genPDF(genOpts{pages: 2}),
		genPDF(genOpts{pages: 2, acroForm: true, incremental: true}),
		rewriteWithPdfcpu(f, genPDF(genOpts{pages: 2, flate: true})),
		signed,
	}
}

func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	roots := x509.NewCertPool()
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), VerifyOptions{Roots: roots, Limits: Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 8 << 20}})
		if err == nil && rep.Valid {
			t.Fatal("a document verified against an empty root pool")
		}
	})
}

func FuzzPrepare(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		res, err := Prepare(context.Background(), bytes.NewReader(b), int64(len(b)), &out, PrepareOptions{
			Fields: []Field{{Name: "s", Kind: FieldSignature, Page: 1, Rect: [4]float64{10, 10, 100, 50}}},
			Limits: Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 8 << 20, MaxPages: 100},
		})
		if err != nil {
			if out.Len() != 0 {
				t.Fatal("output written on error")
			}
			return
		}
		if res.Pages < 1 || int64(out.Len()) != res.Size {
			t.Fatalf("inconsistent result %+v for %d bytes written", res, out.Len())
		}
	})
}

func FuzzParseObject(f *testing.F) {
	for _, s := range []string{"<< /A [1 2 0 R (x\\)y) <0aF>] /B#20c 3.5 >>", "[[[[]]]]", "(unterminated", "<< /K 1 0 R >>", "-.5", "/Name#"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := parseBytes(b)
		if err != nil {
			return
		}
		// Whatever parses must serialise and parse back to the same object.
		if _, ok := o.(pdfRef); ok {
			return
		}
		again, err := parseBytes(canonical(o))
		if err != nil {
			t.Fatalf("serialised %q does not parse: %v", canonical(o), err)
		}
		if !bytes.Equal(canonical(again), canonical(o)) {
			t.Fatalf("round trip changed %q into %q", canonical(o), canonical(again))
		}
	})
}

func FuzzXrefTail(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[max(0, len(s)-300):])
	}
	f.Add([]byte("startxref\n99999999999999999999\n%%EOF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		off, err := parseStartXref(bytes.NewReader(b), int64(len(b)))
		if err == nil && (off < 0 || off >= int64(len(b))) {
			t.Fatalf("offset %d outside %d bytes", off, len(b))
		}
		d := &document{r: bytes.NewReader(b), size: int64(len(b)), lim: Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 4 << 20}.orDefault(), cache: map[int]any{}, objstms: map[int][]objStmEntry{}, loading: map[int]bool{}}
		if err == nil {
			d.readXrefChain(off)
		}
	})
}

func FuzzParseCMS(f *testing.F) {
	p := newOfflinePKI(f)
	doc := signedOnce(f, p)
	d, _ := openDocument(bytes.NewReader(doc), int64(len(doc)), Limits{})
	sigs, _ := d.signatures()
	c := sigs[0].dict.get("Contents").(pdfString).b
	var v asn1.RawValue
	asn1.Unmarshal(c, &v)
	f.Add(v.FullBytes) // without the zero padding: large seeds make minimisation slow
	tok, _ := p.Timestamp(context.Background(), make([]byte, 32), 5)
	f.Add(tok)
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := parseSignedData(b)
		if err != nil {
			return
		}
		sd.verifySignerInfo(make([]byte, 32), true)
		if sd.hasEContent {
			parseTSTInfo(sd.eContent)
		}
		io.Discard.Write(sd.signer.signature)
	})
}
