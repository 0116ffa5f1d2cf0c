package evidence

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// textPDF is a small deterministic writer of text-only A4 PDFs: the standard fonts Helvetica,
// Helvetica-Bold and Courier in WinAnsiEncoding, uncompressed content streams (their bytes do
// not depend on a compressor's version), a classic cross-reference table, and an empty
// invisible signature field for the platform seal on the first page. Every string drawn goes
// through pdfString: text is always a PDF string, never PDF syntax.
type textPDF struct {
	pages []*bytes.Buffer
	y     float64
}

// Fonts of the report.
const (
	fontRegular = "F1"
	fontBold    = "F2"
	fontMono    = "F3"
)

const (
	pageW, pageH = 595.0, 842.0
	marginX      = 50.0
	marginTop    = 56.0
	marginBottom = 50.0
)

// helvetica holds the widths (1/1000 em) of Helvetica for codes 32–126.
var helvetica = [...]int{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space … /
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 … ?
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ … O
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P … _
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` … o
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p … ~
}

// winAnsi encodes s in WinAnsiEncoding; characters it lacks become '?'.
func winAnsi(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			out = append(out, byte(r))
			continue
		}
		if b, ok := charmap.Windows1252.EncodeRune(r); ok && b >= 0x80 {
			out = append(out, b)
			continue
		}
		if r == '\t' {
			out = append(out, ' ')
			continue
		}
		out = append(out, '?')
	}
	return out
}

// width returns the width of the encoded text in points.
func width(enc []byte, font string, size float64) float64 {
	w := 0
	for _, c := range enc {
		switch {
		case font == fontMono:
			w += 600
		case c >= 32 && c <= 126:
			w += helvetica[c-32]
		case c >= 0xC0 && c <= 0xDE:
			w += 722
		default:
			w += 556
		}
	}
	if font == fontBold {
		w = w * 106 / 100
	}
	return float64(w) * size / 1000
}

// pdfString writes enc as a PDF literal string: parentheses and backslashes are escaped and
// every byte outside printable ASCII is an octal escape, so the content stream is ASCII.
func pdfString(enc []byte) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, c := range enc {
		switch {
		case c == '(' || c == ')' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(')')
	return b.String()
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

func (p *textPDF) page() *bytes.Buffer {
	if len(p.pages) == 0 || p.y < marginBottom {
		p.pages = append(p.pages, &bytes.Buffer{})
		p.y = pageH - marginTop
	}
	return p.pages[len(p.pages)-1]
}

// line writes one line of text at indent; the caller has wrapped it.
func (p *textPDF) line(font string, size, indent float64, enc []byte) {
	p.y -= size * 1.35
	buf := p.page()
	fmt.Fprintf(buf, "BT /%s %s Tf %s %s Td %s Tj ET\n", font, num(size), num(marginX+indent), num(p.y), pdfString(enc))
}

// text writes s wrapped at word boundaries (and inside overlong words) to the text width.
func (p *textPDF) text(font string, size, indent float64, s string) {
	max := pageW - 2*marginX - indent
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			p.line(font, size, indent, nil)
			continue
		}
		var cur []byte
		for _, w := range words {
			ew := winAnsi(w)
			for width(ew, font, size) > max { // a word longer than a line is cut
				n := len(ew)
				for n > 1 && width(ew[:n], font, size) > max {
					n--
				}
				if len(cur) > 0 {
					p.line(font, size, indent, cur)
					cur = nil
				}
				p.line(font, size, indent, ew[:n])
				ew = ew[n:]
			}
			cand := ew
			if len(cur) > 0 {
				cand = append(append(append([]byte(nil), cur...), ' '), ew...)
			}
			if width(cand, font, size) > max && len(cur) > 0 {
				p.line(font, size, indent, cur)
				cand = ew
			}
			cur = cand
		}
		p.line(font, size, indent, cur)
	}
}

// space adds vertical space.
func (p *textPDF) space(pts float64) { p.y -= pts }

// bytes returns the PDF. The first page carries the empty signature field named sealField.
func (p *textPDF) bytes(sealField, title string) []byte {
	if len(p.pages) == 0 {
		p.page()
	}
	n := len(p.pages)
	// Objects: 1 catalog, 2 pages, 3–5 fonts, 6 AcroForm, 7 seal field and widget, 8 info,
	// then for each page its dictionary and its content stream.
	pageObj := func(i int) int { return 9 + 2*i }
	objs := make([]string, 0, 8+2*n)
	objs = append(objs, "<< /Type /Catalog /Pages 2 0 R /AcroForm 6 0 R >>")
	var kids strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&kids, "%d 0 R ", pageObj(i))
	}
	objs = append(objs, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.TrimSpace(kids.String()), n))
	for _, f := range []string{"Helvetica", "Helvetica-Bold", "Courier"} {
		objs = append(objs, fmt.Sprintf("<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>", f))
	}
	objs = append(objs, "<< /Fields [7 0 R] >>")
	objs = append(objs, fmt.Sprintf("<< /Type /Annot /Subtype /Widget /FT /Sig /T %s /Rect [0 0 0 0] /F 132 /P %d 0 R >>", pdfString(winAnsi(sealField)), pageObj(0)))
	objs = append(objs, fmt.Sprintf("<< /Title %s /Producer (Paraphe) >>", pdfString(winAnsi(title))))
	for i, c := range p.pages {
		annots := ""
		if i == 0 {
			annots = " /Annots [7 0 R]"
		}
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> /Contents %d 0 R%s >>",
			num(pageW), num(pageH), pageObj(i)+1, annots))
		objs = append(objs, fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", c.Len(), c.String()))
	}
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	id := sha256.Sum256(out.Bytes())
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n\r\n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R /Info 8 0 R /ID [<%x> <%x>] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, id[:16], id[:16], xref)
	return out.Bytes()
}
