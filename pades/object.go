package pades

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
)

// The PDF object model of this package. A PDF object is one of:
//
//	nil (null), bool, int64, float64, pdfName, pdfString, []any (array), pdfDict,
//	pdfRef, *pdfStream.
type (
	pdfName   string
	pdfString struct {
		b   []byte
		hex bool
	}
	pdfDict map[pdfName]any
	pdfRef  struct{ num, gen int }
	// pdfStream is a stream whose data lives in the file at [off, off+length) or, for streams
	// this package creates, in data.
	pdfStream struct {
		dict   pdfDict
		off    int64
		length int64
		data   []byte
	}
)

func (r pdfRef) String() string { return fmt.Sprintf("%d %d R", r.num, r.gen) }

// get returns d[k] (nil when d is nil or k is absent).
func (d pdfDict) get(k pdfName) any {
	if d == nil {
		return nil
	}
	return d[k]
}

func (d pdfDict) clone() pdfDict {
	c := make(pdfDict, len(d)+2)
	for k, v := range d {
		c[k] = v
	}
	return c
}

func nameOf(o any) pdfName {
	n, _ := o.(pdfName)
	return n
}

func intOf(o any) (int64, bool) {
	switch v := o.(type) {
	case int64:
		return v, true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	}
	return 0, false
}

func numOf(o any) (float64, bool) {
	switch v := o.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// textString decodes a PDF text string (UTF-16BE with BOM, UTF-8 with BOM, or
// PDFDocEncoding, approximated by Latin-1).
func textString(o any) string {
	s, ok := o.(pdfString)
	if !ok {
		return ""
	}
	b := s.b
	if len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF {
		r := make([]rune, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u := rune(b[i])<<8 | rune(b[i+1])
			if u >= 0xD800 && u < 0xDC00 && i+3 < len(b) {
				l := rune(b[i+2])<<8 | rune(b[i+3])
				if l >= 0xDC00 && l < 0xE000 {
					r = append(r, 0x10000+(u-0xD800)<<10+(l-0xDC00))
					i += 2
					continue
				}
			}
			r = append(r, u)
		}
		return string(r)
	}
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return string(b[3:])
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// newTextString encodes s as a PDF text string: a literal string when s is printable ASCII,
// UTF-16BE with a byte order mark otherwise.
func newTextString(s string) pdfString {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			ascii = false
			break
		}
	}
	if ascii {
		return pdfString{b: []byte(s)}
	}
	b := []byte{0xFE, 0xFF}
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			b = append(b, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		b = append(b, byte(r>>8), byte(r))
	}
	return pdfString{b: b, hex: true}
}

// writeObject serialises o in PDF syntax. Dictionary keys are written in sorted order so that
// the same object always has the same bytes.
func writeObject(buf *bytes.Buffer, o any) {
	switch v := o.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case int:
		buf.WriteString(strconv.Itoa(v))
	case int64:
		buf.WriteString(strconv.FormatInt(v, 10))
	case float64:
		buf.WriteString(formatReal(v))
	case pdfName:
		writeName(buf, v)
	case pdfString:
		writeString(buf, v)
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(' ')
			}
			writeObject(buf, e)
		}
		buf.WriteByte(']')
	case pdfDict:
		writeDict(buf, v)
	case pdfRef:
		fmt.Fprintf(buf, "%d %d R", v.num, v.gen)
	case *pdfStream:
		d := v.dict.clone()
		d["Length"] = int64(len(v.data))
		writeDict(buf, d)
		buf.WriteString("\nstream\n")
		buf.Write(v.data)
		buf.WriteString("\nendstream")
	default:
		panic(fmt.Sprintf("pades: cannot serialise %T", o))
	}
}

func writeDict(buf *bytes.Buffer, d pdfDict) {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	buf.WriteString("<<")
	for _, k := range keys {
		writeName(buf, pdfName(k))
		buf.WriteByte(' ')
		writeObject(buf, d[pdfName(k)])
	}
	buf.WriteString(">>")
}

func formatReal(f float64) string {
	s := strconv.FormatFloat(f, 'f', 4, 64)
	s = trimZeros(s)
	if s == "-0" {
		return "0"
	}
	return s
}

func trimZeros(s string) string {
	if !bytes.ContainsRune([]byte(s), '.') {
		return s
	}
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

func writeName(buf *bytes.Buffer, n pdfName) {
	buf.WriteByte('/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '#' || isDelimiter(c) {
			fmt.Fprintf(buf, "#%02X", c)
			continue
		}
		buf.WriteByte(c)
	}
}

// writeString writes s as a literal string, escaping the characters that are PDF syntax
// inside a string, or as a hex string when s was read as one.
func writeString(buf *bytes.Buffer, s pdfString) {
	if s.hex {
		buf.WriteByte('<')
		const digits = "0123456789ABCDEF"
		for _, c := range s.b {
			buf.WriteByte(digits[c>>4])
			buf.WriteByte(digits[c&15])
		}
		buf.WriteByte('>')
		return
	}
	buf.WriteByte('(')
	writeLiteralBody(buf, s.b)
	buf.WriteByte(')')
}

// writeLiteralBody escapes b for use inside a literal string: parentheses and backslashes are
// escaped, bytes outside printable ASCII are written as octal escapes.
func writeLiteralBody(buf *bytes.Buffer, b []byte) {
	for _, c := range b {
		switch {
		case c == '(' || c == ')' || c == '\\':
			buf.WriteByte('\\')
			buf.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(buf, "\\%03o", c)
		default:
			buf.WriteByte(c)
		}
	}
}

// canonical returns the serialisation of o used to compare two versions of an object.
// Streams compare by dictionary and raw data.
func canonical(o any) []byte {
	var buf bytes.Buffer
	writeObject(&buf, o)
	return buf.Bytes()
}

// refsOf appends every reference found in o (not following them).
func refsOf(o any, out []pdfRef) []pdfRef {
	switch v := o.(type) {
	case pdfRef:
		out = append(out, v)
	case []any:
		for _, e := range v {
			out = refsOf(e, out)
		}
	case pdfDict:
		for _, e := range v {
			out = refsOf(e, out)
		}
	case *pdfStream:
		out = refsOf(v.dict, out)
	}
	return out
}
