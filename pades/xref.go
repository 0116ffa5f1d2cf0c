package pades

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// xrefEntry locates one object: in the file at off (typ 1), in object stream stm at index idx
// (typ 2), or free (typ 0).
type xrefEntry struct {
	typ int
	off int64
	gen int
	stm int
	idx int
}

// xrefSection is one cross-reference section (classic table or stream) with its trailer.
type xrefSection struct {
	offset  int64
	entries map[int]xrefEntry
	trailer pdfDict
	stream  bool
}

// parseStartXref finds the offset after the last "startxref" keyword in the last kilobyte of
// the input and checks that the file ends with %%EOF.
func parseStartXref(r io.ReaderAt, size int64) (int64, error) {
	if size < 20 {
		return 0, fmt.Errorf("%w: file is only %d bytes", ErrTruncated, size)
	}
	n := int64(1024)
	if size < n {
		n = size
	}
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("reading the end of the file: %w", err)
	}
	eof := bytes.LastIndex(tail, []byte("%%EOF"))
	if eof < 0 {
		return 0, fmt.Errorf("%w: no %%%%EOF marker at the end of the file", ErrTruncated)
	}
	i := bytes.LastIndex(tail[:eof], []byte("startxref"))
	if i < 0 {
		return 0, fmt.Errorf("%w: no startxref before the final %%%%EOF", ErrTruncated)
	}
	f := bytes.Fields(tail[i+len("startxref") : eof])
	if len(f) != 1 {
		return 0, fmt.Errorf("%w: startxref is not followed by one offset", errSyntax)
	}
	off, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || off < 0 || off >= size {
		return 0, fmt.Errorf("%w: startxref offset %q is outside the file", errSyntax, f[0])
	}
	return off, nil
}

// readXrefChain reads the section at off and every section reachable through /Prev and
// /XRefStm, newest first.
func (d *document) readXrefChain(off int64) error {
	seen := map[int64]bool{}
	for off >= 0 {
		if seen[off] {
			return fmt.Errorf("%w: /Prev loop in cross-reference sections at offset %d", errSyntax, off)
		}
		seen[off] = true
		if len(seen) > d.lim.MaxRevisions {
			return fmt.Errorf("%w: more than %d cross-reference sections", ErrLimit, d.lim.MaxRevisions)
		}
		sec, err := d.readXrefSection(off)
		if err != nil {
			return err
		}
		d.sections = append(d.sections, sec)
		if x, ok := intOf(sec.trailer.get("XRefStm")); ok && !sec.stream {
			if !seen[x] {
				seen[x] = true
				hs, err := d.readXrefSection(x)
				if err != nil {
					return fmt.Errorf("hybrid /XRefStm: %w", err)
				}
				// Entries of the classic table take precedence over the stream.
				for n, e := range hs.entries {
					if _, ok := sec.entries[n]; !ok {
						sec.entries[n] = e
					}
				}
			}
		}
		prev, ok := intOf(sec.trailer.get("Prev"))
		if !ok {
			break
		}
		if prev < 0 || prev >= d.size {
			return fmt.Errorf("%w: /Prev offset %d is outside the file", errSyntax, prev)
		}
		off = prev
	}
	return nil
}

func (d *document) readXrefSection(off int64) (*xrefSection, error) {
	l := newLexer(d.r, d.size, off)
	l.skipSpace()
	at := l.pos
	if l.keyword() == "xref" {
		return d.readXrefTable(l, off)
	}
	l.pos = at
	num, gen, err := readObjHeader(l)
	if err != nil {
		return nil, fmt.Errorf("no cross-reference section at offset %d: %w", off, err)
	}
	o, err := d.parseIndirectBody(l, num, gen)
	if err != nil {
		return nil, err
	}
	s, ok := o.(*pdfStream)
	if !ok || nameOf(s.dict.get("Type")) != "XRef" {
		return nil, fmt.Errorf("%w: object at offset %d is not a cross-reference stream", errSyntax, off)
	}
	return d.readXrefStream(s, off)
}

func readObjHeader(l *lexer) (num, gen int, err error) {
	l.skipSpace()
	n, err1 := strconv.Atoi(l.keyword())
	l.skipSpace()
	g, err2 := strconv.Atoi(l.keyword())
	if err1 != nil || err2 != nil || n < 0 || g < 0 {
		return 0, 0, l.errorf("expected an object header \"n g obj\"")
	}
	if err := l.expectKeyword("obj"); err != nil {
		return 0, 0, err
	}
	return n, g, nil
}

func (d *document) readXrefTable(l *lexer, off int64) (*xrefSection, error) {
	sec := &xrefSection{offset: off, entries: map[int]xrefEntry{}}
	for {
		l.skipSpace()
		at := l.pos
		kw := l.keyword()
		if kw == "trailer" {
			t, err := l.parseObject(0)
			if err != nil {
				return nil, fmt.Errorf("trailer of the section at offset %d: %w", off, err)
			}
			td, ok := t.(pdfDict)
			if !ok {
				return nil, fmt.Errorf("%w: trailer at offset %d is not a dictionary", errSyntax, off)
			}
			sec.trailer = td
			return sec, nil
		}
		start, err := strconv.Atoi(kw)
		if err != nil || start < 0 {
			l.pos = at
			return nil, l.errorf("expected an xref subsection header or trailer")
		}
		l.skipSpace()
		count, err := strconv.Atoi(l.keyword())
		if err != nil || count < 0 || count > d.lim.MaxObjects || start > d.lim.MaxObjects {
			return nil, l.errorf("bad xref subsection count")
		}
		for i := 0; i < count; i++ {
			l.skipSpace()
			o, err1 := strconv.ParseInt(l.keyword(), 10, 64)
			l.skipSpace()
			g, err2 := strconv.Atoi(l.keyword())
			l.skipSpace()
			t := l.keyword()
			if err1 != nil || err2 != nil || (t != "n" && t != "f") {
				return nil, l.errorf("bad xref entry %d of subsection %d", i, start)
			}
			if len(sec.entries) >= d.lim.MaxObjects {
				return nil, fmt.Errorf("%w: more than %d objects", ErrLimit, d.lim.MaxObjects)
			}
			n := start + i
			if t == "f" {
				sec.entries[n] = xrefEntry{typ: 0, gen: g}
				continue
			}
			if o <= 0 || o >= d.size {
				// An in-use entry that points outside the file is treated as free, as readers do.
				sec.entries[n] = xrefEntry{typ: 0, gen: g}
				continue
			}
			sec.entries[n] = xrefEntry{typ: 1, off: o, gen: g}
		}
	}
}

func (d *document) readXrefStream(s *pdfStream, off int64) (*xrefSection, error) {
	sec := &xrefSection{offset: off, entries: map[int]xrefEntry{}, trailer: s.dict, stream: true}
	data, err := d.decodeStream(s)
	if err != nil {
		return nil, fmt.Errorf("cross-reference stream at offset %d: %w", off, err)
	}
	wa, _ := s.dict.get("W").([]any)
	if len(wa) != 3 {
		return nil, fmt.Errorf("%w: cross-reference stream at offset %d has no valid /W", errSyntax, off)
	}
	var w [3]int
	for i := range w {
		v, ok := intOf(wa[i])
		if !ok || v < 0 || v > 8 {
			return nil, fmt.Errorf("%w: cross-reference stream /W %v", errSyntax, wa)
		}
		w[i] = int(v)
	}
	size, _ := intOf(s.dict.get("Size"))
	idx := []int64{0, size}
	if ia, ok := s.dict.get("Index").([]any); ok {
		idx = idx[:0]
		for _, v := range ia {
			n, ok := intOf(v)
			if !ok || n < 0 {
				return nil, fmt.Errorf("%w: cross-reference stream /Index %v", errSyntax, ia)
			}
			idx = append(idx, n)
		}
		if len(idx)%2 != 0 {
			return nil, fmt.Errorf("%w: cross-reference stream /Index has an odd length", errSyntax)
		}
	}
	rec := w[0] + w[1] + w[2]
	if rec == 0 {
		return nil, fmt.Errorf("%w: cross-reference stream /W is all zero", errSyntax)
	}
	field := func(b []byte) int64 {
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		return v
	}
	p := 0
	for i := 0; i+1 < len(idx); i += 2 {
		start, count := idx[i], idx[i+1]
		if start > int64(d.lim.MaxObjects) || count > int64(d.lim.MaxObjects) {
			return nil, fmt.Errorf("%w: cross-reference stream subsection too large", ErrLimit)
		}
		for j := int64(0); j < count; j++ {
			if p+rec > len(data) {
				return nil, fmt.Errorf("%w: cross-reference stream data is shorter than its /Index", errSyntax)
			}
			r := data[p : p+rec]
			p += rec
			t := int64(1)
			if w[0] > 0 {
				t = field(r[:w[0]])
			}
			a, b := field(r[w[0]:w[0]+w[1]]), field(r[w[0]+w[1]:])
			n := int(start + j)
			if len(sec.entries) >= d.lim.MaxObjects {
				return nil, fmt.Errorf("%w: more than %d objects", ErrLimit, d.lim.MaxObjects)
			}
			switch t {
			case 0:
				sec.entries[n] = xrefEntry{typ: 0, gen: int(b)}
			case 1:
				if a <= 0 || a >= d.size {
					sec.entries[n] = xrefEntry{typ: 0}
					continue
				}
				sec.entries[n] = xrefEntry{typ: 1, off: a, gen: int(b)}
			case 2:
				if a < 0 || a > int64(d.lim.MaxObjects) {
					return nil, fmt.Errorf("%w: object stream number %d out of range", errSyntax, a)
				}
				sec.entries[n] = xrefEntry{typ: 2, stm: int(a), idx: int(b)}
			}
		}
	}
	return sec, nil
}
