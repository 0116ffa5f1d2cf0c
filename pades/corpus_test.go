package pades

import (
	"bytes"
	"compress/zlib"
	"fmt"
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
