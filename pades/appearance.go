package pades

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/font"
	"golang.org/x/text/encoding/charmap"
)

// Locale selects the language of the visible signature text.
type Locale string

// Supported locales.
const (
	LocaleFR Locale = "fr"
	LocaleEN Locale = "en"
)

// Appearance is what the visible signature shows.
type Appearance struct {
	Name string    // the signer's name
	Date time.Time // shown in UTC to the minute; zero means the signing time
	// Reason is a free text line, typically the ledger reference of the signing event.
	Reason string
	Locale Locale
}

// winAnsi encodes s in WinAnsiEncoding (Windows-1252), which covers French and the other
// Latin-1 languages; characters it cannot represent become '?'.
func winAnsi(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r == '\n' || r == '\r' || r == '\t' {
			r = ' '
		}
		c, ok := charmap.Windows1252.EncodeRune(r)
		if !ok || c < 0x20 {
			c = '?'
		}
		b = append(b, c)
	}
	return b
}

// textWidth is the width of WinAnsi-encoded text in Helvetica at size.
func textWidth(b []byte, size float64) float64 {
	var w int
	for _, c := range b {
		cw, err := font.CharWidth("Helvetica", rune(c))
		if err != nil || cw == 0 {
			cw = 556
		}
		w += cw
	}
	return float64(w) * size / 1000
}

// helvetica is the font resource used by every appearance this package draws.
func helvetica() pdfDict {
	return pdfDict{"Type": pdfName("Font"), "Subtype": pdfName("Type1"), "BaseFont": pdfName("Helvetica"), "Encoding": pdfName("WinAnsiEncoding")}
}

// fitText shortens b with an ellipsis until it fits in width at size.
func fitText(b []byte, size, width float64) []byte {
	if textWidth(b, size) <= width {
		return b
	}
	for len(b) > 0 && textWidth(append(b[:len(b):len(b)], 0x85), size) > width {
		b = b[:len(b)-1]
	}
	return append(b[:len(b):len(b)], 0x85) // WinAnsi ellipsis
}

// showText writes a text-showing operator for WinAnsi bytes, escaped so that the value can
// never be read as PDF syntax.
func showText(buf *bytes.Buffer, b []byte) {
	buf.WriteByte('(')
	writeLiteralBody(buf, b)
	buf.WriteString(") Tj\n")
}

// formXObject wraps content in a Form XObject of size w×h using Helvetica as /F1.
func formXObject(w, h float64, content []byte) *pdfStream {
	return &pdfStream{dict: pdfDict{
		"Type":      pdfName("XObject"),
		"Subtype":   pdfName("Form"),
		"BBox":      []any{0.0, 0.0, w, h},
		"Resources": pdfDict{"Font": pdfDict{"F1": helvetica()}},
	}, data: content}
}

// textFieldAppearance draws value in a text field of size w×h.
func textFieldAppearance(value string, w, h float64) *pdfStream {
	size := 10.0
	if h-4 < size {
		size = h - 4
	}
	if size < 4 {
		size = 4
	}
	b := fitText(winAnsi(value), size, w-4)
	var buf bytes.Buffer
	buf.WriteString("/Tx BMC\nq\n")
	fmt.Fprintf(&buf, "1 1 %s %s re W n\n", formatReal(w-2), formatReal(h-2))
	fmt.Fprintf(&buf, "BT\n/F1 %s Tf\n0 g\n2 %s Td\n", formatReal(size), formatReal((h-size*0.78)/2))
	showText(&buf, b)
	buf.WriteString("ET\nQ\nEMC\n")
	return formXObject(w, h, buf.Bytes())
}

// signatureAppearance draws the visible signature block.
func signatureAppearance(a Appearance, when time.Time, w, h float64) *pdfStream {
	if !a.Date.IsZero() {
		when = a.Date
	}
	var title, by, on string
	date := when.UTC().Format("2006-01-02 15:04 UTC")
	switch a.Locale {
	case LocaleEN:
		title, by, on = "Electronically signed", "by ", "on "
	default:
		title, by, on = "Signé électroniquement", "par ", "le "
	}
	lines := [][]byte{winAnsi(title), winAnsi(by + a.Name), winAnsi(on + date)}
	if strings.TrimSpace(a.Reason) != "" {
		lines = append(lines, winAnsi(a.Reason))
	}
	size := (h - 4) / (float64(len(lines)) * 1.25)
	if size > 10 {
		size = 10
	}
	if size < 3 {
		size = 3
	}
	var buf bytes.Buffer
	buf.WriteString("q\n0.2 0.3 0.6 RG 0.8 w\n")
	fmt.Fprintf(&buf, "0.4 0.4 %s %s re S\n", formatReal(w-0.8), formatReal(h-0.8))
	fmt.Fprintf(&buf, "1 1 %s %s re W n\n", formatReal(w-2), formatReal(h-2))
	buf.WriteString("BT\n0 g\n")
	y := h - 2 - size
	for i, l := range lines {
		sz := size
		if i == 0 {
			buf.WriteString("0.2 0.3 0.6 rg\n")
		} else if i == 1 {
			buf.WriteString("0 g\n")
		}
		fmt.Fprintf(&buf, "/F1 %s Tf\n1 0 0 1 3 %s Tm\n", formatReal(sz), formatReal(y))
		showText(&buf, fitText(l, sz, w-6))
		y -= size * 1.25
	}
	buf.WriteString("ET\nQ\n")
	return formXObject(w, h, buf.Bytes())
}
