package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// errSyntax marks malformed PDF syntax; parse errors wrap it.
var errSyntax = errors.New("malformed PDF syntax")

// maxDepth bounds the nesting of arrays and dictionaries.
const maxDepth = 64

// maxToken bounds a single token (a name, number or string) so that a hostile file cannot make
// the parser buffer without limit.
const maxToken = 64 << 20

func isWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// lexer reads PDF tokens from an io.ReaderAt through a small window, so that it can parse
// one object in a file of any size without loading the file.
type lexer struct {
	r     io.ReaderAt
	size  int64
	pos   int64
	win   []byte
	winAt int64
	// spans, when non-nil, records the byte span of each value of the outermost dictionary.
	spans map[pdfName][2]int64
}

func newLexer(r io.ReaderAt, size, pos int64) *lexer {
	return &lexer{r: r, size: size, pos: pos}
}

// peek returns the byte at l.pos, or -1 at the end of the input.
func (l *lexer) peek() int {
	if l.pos >= l.size || l.pos < 0 {
		return -1
	}
	if l.pos < l.winAt || l.pos >= l.winAt+int64(len(l.win)) {
		n := int64(4096)
		if l.size-l.pos < n {
			n = l.size - l.pos
		}
		if cap(l.win) < int(n) {
			l.win = make([]byte, n)
		}
		l.win = l.win[:n]
		m, err := l.r.ReadAt(l.win, l.pos)
		if m <= 0 && err != nil {
			return -1
		}
		l.win = l.win[:m]
		l.winAt = l.pos
	}
	return int(l.win[l.pos-l.winAt])
}

func (l *lexer) next() int {
	c := l.peek()
	if c >= 0 {
		l.pos++
	}
	return c
}

func (l *lexer) errorf(format string, a ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, l.pos, fmt.Sprintf(format, a...))
}

// skipSpace skips white space and comments.
func (l *lexer) skipSpace() {
	for {
		c := l.peek()
		switch {
		case c < 0:
			return
		case isWhite(byte(c)):
			l.pos++
		case c == '%':
			for c >= 0 && c != '\n' && c != '\r' {
				l.pos++
				c = l.peek()
			}
		default:
			return
		}
	}
}

// keyword reads a run of regular characters (a number, keyword or operator).
func (l *lexer) keyword() string {
	var b []byte
	for {
		c := l.peek()
		if c < 0 || isWhite(byte(c)) || isDelimiter(byte(c)) || len(b) > 256 {
			return string(b)
		}
		b = append(b, byte(c))
		l.pos++
	}
}

// expectKeyword skips space and consumes kw or fails.
func (l *lexer) expectKeyword(kw string) error {
	l.skipSpace()
	at := l.pos
	if got := l.keyword(); got != kw {
		l.pos = at
		return l.errorf("expected %q, found %q", kw, got)
	}
	return nil
}

// parseObject reads one object. References "n g R" are recognised.
func (l *lexer) parseObject(depth int) (any, error) {
	if depth > maxDepth {
		return nil, l.errorf("objects nested deeper than %d levels", maxDepth)
	}
	l.skipSpace()
	c := l.peek()
	switch {
	case c < 0:
		return nil, fmt.Errorf("%w: unexpected end of data at offset %d", errSyntax, l.pos)
	case c == '/':
		l.pos++
		return l.name()
	case c == '(':
		l.pos++
		return l.literal()
	case c == '<':
		l.pos++
		if l.peek() == '<' {
			l.pos++
			return l.dict(depth)
		}
		return l.hexString()
	case c == '[':
		l.pos++
		var arr []any
		for {
			l.skipSpace()
			c := l.peek()
			if c == ']' {
				l.pos++
				if arr == nil {
					arr = []any{}
				}
				return arr, nil
			}
			if c < 0 {
				return nil, l.errorf("unterminated array")
			}
			o, err := l.parseObject(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, o)
			if len(arr) > 1<<22 {
				return nil, l.errorf("array too long")
			}
		}
	case c == ')' || c == '>' || c == ']' || c == '{' || c == '}':
		return nil, l.errorf("unexpected %q", rune(c))
	}
	at := l.pos
	kw := l.keyword()
	switch kw {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	case "":
		return nil, l.errorf("unexpected byte 0x%02x", c)
	}
	if n, err := strconv.ParseInt(kw, 10, 64); err == nil {
		// Maybe "n g R".
		save := l.pos
		l.skipSpace()
		genAt := l.pos
		g := l.keyword()
		if gen, err := strconv.ParseInt(g, 10, 32); err == nil && gen >= 0 && g[0] != '+' && g[0] != '-' {
			l.skipSpace()
			if l.keyword() == "R" && n >= 0 && n < 1<<31 {
				return pdfRef{int(n), int(gen)}, nil
			}
		}
		_ = genAt
		l.pos = save
		return n, nil
	}
	if f, err := strconv.ParseFloat(kw, 64); err == nil && kw[0] != 'I' && kw[0] != 'N' && kw[0] != 'i' && kw[0] != 'n' {
		return f, nil
	}
	l.pos = at
	return nil, l.errorf("unexpected token %q", kw)
}

func (l *lexer) name() (pdfName, error) {
	var b []byte
	for {
		c := l.peek()
		if c < 0 || isWhite(byte(c)) || isDelimiter(byte(c)) {
			return pdfName(b), nil
		}
		l.pos++
		if c == '#' {
			h1, h2 := l.peek(), -1
			if h1 >= 0 {
				l.pos++
				h2 = l.peek()
			}
			v1, v2 := unhex(h1), unhex(h2)
			if v1 < 0 || v2 < 0 {
				return "", l.errorf("bad #xx escape in name")
			}
			l.pos++
			c = v1<<4 | v2
		}
		b = append(b, byte(c))
		if len(b) > 127*3 {
			return "", l.errorf("name too long")
		}
	}
}

func unhex(c int) int {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return -1
}

func (l *lexer) literal() (pdfString, error) {
	var b []byte
	depth := 1
	for {
		c := l.next()
		if c < 0 {
			return pdfString{}, l.errorf("unterminated string")
		}
		if len(b) > maxToken {
			return pdfString{}, l.errorf("string too long")
		}
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return pdfString{b: b}, nil
			}
		case '\r':
			if l.peek() == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			e := l.next()
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.peek() == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			case -1:
				return pdfString{}, l.errorf("unterminated string")
			default:
				if e >= '0' && e <= '7' {
					v := e - '0'
					for i := 0; i < 2; i++ {
						d := l.peek()
						if d < '0' || d > '7' {
							break
						}
						l.pos++
						v = v*8 + d - '0'
					}
					c = v & 0xff
				} else {
					c = e
				}
			}
		}
		b = append(b, byte(c))
	}
}

func (l *lexer) hexString() (pdfString, error) {
	var b []byte
	hi := -1
	for {
		c := l.next()
		switch {
		case c < 0:
			return pdfString{}, l.errorf("unterminated hex string")
		case c == '>':
			if hi >= 0 {
				b = append(b, byte(hi<<4))
			}
			return pdfString{b: b, hex: true}, nil
		case isWhite(byte(c)):
			continue
		}
		v := unhex(c)
		if v < 0 {
			return pdfString{}, l.errorf("invalid character %q in hex string", rune(c))
		}
		if hi < 0 {
			hi = v
		} else {
			b = append(b, byte(hi<<4|v))
			hi = -1
		}
		if len(b) > maxToken {
			return pdfString{}, l.errorf("hex string too long")
		}
	}
}

func (l *lexer) dict(depth int) (pdfDict, error) {
	d := pdfDict{}
	for {
		l.skipSpace()
		c := l.peek()
		if c == '>' {
			l.pos++
			if l.next() != '>' {
				return nil, l.errorf("expected >> to close dictionary")
			}
			return d, nil
		}
		if c != '/' {
			if c < 0 {
				return nil, l.errorf("unterminated dictionary")
			}
			return nil, l.errorf("dictionary key is not a name")
		}
		l.pos++
		k, err := l.name()
		if err != nil {
			return nil, err
		}
		l.skipSpace()
		start := l.pos
		v, err := l.parseObject(depth + 1)
		if err != nil {
			return nil, err
		}
		if l.spans != nil && depth == 0 {
			l.spans[k] = [2]int64{start, l.pos}
		}
		if v != nil { // a null value is the same as an absent key
			d[k] = v
		}
		if len(d) > 1<<16 {
			return nil, l.errorf("dictionary too large")
		}
	}
}

// parseBytes parses one object from b (used for object streams and tests).
func parseBytes(b []byte) (any, error) {
	l := newLexer(bytes.NewReader(b), int64(len(b)), 0)
	return l.parseObject(0)
}
