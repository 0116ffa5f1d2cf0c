package pades

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Errors that classify why a PDF was refused. Returned errors wrap one of them, with the
// details of the input in the message.
var (
	ErrNotPDF    = errors.New("not a PDF file")
	ErrTruncated = errors.New("truncated PDF")
	ErrMalformed = errSyntax
	ErrEncrypted = errors.New("encrypted PDF")
	ErrLimit     = errors.New("PDF exceeds a processing limit")
)

// Limits bound the work done on one PDF. Zero fields take their value from DefaultLimits.
type Limits struct {
	MaxStreamBytes int64 // decoded size of one stream
	MaxTotalBytes  int64 // decoded size of all streams inspected together
	MaxObjects     int
	MaxPages       int
	MaxFields      int
	MaxRevisions   int
}

// DefaultLimits returns limits generous for real documents and small enough to refuse bombs.
func DefaultLimits() Limits {
	return Limits{
		MaxStreamBytes: 64 << 20,
		MaxTotalBytes:  512 << 20,
		MaxObjects:     2_000_000,
		MaxPages:       10_000,
		MaxFields:      2_000,
		MaxRevisions:   1_000,
	}
}

func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.MaxStreamBytes > 0 {
		d.MaxStreamBytes = l.MaxStreamBytes
	}
	if l.MaxTotalBytes > 0 {
		d.MaxTotalBytes = l.MaxTotalBytes
	}
	if l.MaxObjects > 0 {
		d.MaxObjects = l.MaxObjects
	}
	if l.MaxPages > 0 {
		d.MaxPages = l.MaxPages
	}
	if l.MaxFields > 0 {
		d.MaxFields = l.MaxFields
	}
	if l.MaxRevisions > 0 {
		d.MaxRevisions = l.MaxRevisions
	}
	return d
}

// document is a lazily read PDF: the cross-reference sections are read at open time and
// objects on demand.
type document struct {
	r         io.ReaderAt
	size      int64
	lim       Limits
	version   string
	startxref int64
	sections  []*xrefSection // newest first
	xref      map[int]xrefEntry
	trailer   pdfDict
	cache     map[int]any
	objstms   map[int][]objStmEntry
	loading   map[int]bool
	decoded   int64
}

type objStmEntry struct {
	num int
	obj any
}

// openDocument reads the header and the cross-reference chain of the PDF in r[0:size].
func openDocument(r io.ReaderAt, size int64, lim Limits) (*document, error) {
	d := &document{r: r, size: size, lim: lim.orDefault(), cache: map[int]any{}, objstms: map[int][]objStmEntry{}, loading: map[int]bool{}}
	head := make([]byte, 1024)
	if size < int64(len(head)) {
		head = head[:size]
	}
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	i := bytes.Index(head, []byte("%PDF-"))
	if i < 0 {
		return nil, fmt.Errorf("%w: no %%PDF- header in the first kilobyte", ErrNotPDF)
	}
	v := head[i+5:]
	if len(v) < 3 || v[1] != '.' || v[0] < '1' || v[0] > '2' || v[2] < '0' || v[2] > '9' {
		return nil, fmt.Errorf("%w: unreadable PDF version in header", ErrNotPDF)
	}
	d.version = string(v[:3])
	off, err := parseStartXref(r, size)
	if err != nil {
		return nil, err
	}
	d.startxref = off
	if err := d.readXrefChain(off); err != nil {
		return nil, err
	}
	d.xref = map[int]xrefEntry{}
	for i := len(d.sections) - 1; i >= 0; i-- {
		for n, e := range d.sections[i].entries {
			d.xref[n] = e
		}
	}
	d.trailer = d.sections[0].trailer
	if d.trailer.get("Encrypt") != nil {
		return nil, fmt.Errorf("%w: the trailer has an /Encrypt dictionary; decrypt the document first", ErrEncrypted)
	}
	if _, ok := d.trailer.get("Root").(pdfRef); !ok {
		return nil, fmt.Errorf("%w: the trailer has no /Root reference", errSyntax)
	}
	// Catalog version overrides the header when higher.
	if cat, err := d.catalog(); err == nil {
		if v := nameOf(cat.get("Version")); len(v) == 3 && v > pdfName(d.version) {
			d.version = string(v)
		}
	} else {
		return nil, err
	}
	return d, nil
}

// rootRef is the catalog reference of the newest revision.
func (d *document) rootRef() pdfRef {
	r, _ := d.trailer.get("Root").(pdfRef)
	return r
}

func (d *document) catalog() (pdfDict, error) {
	c, err := d.resolve(d.trailer.get("Root"))
	if err != nil {
		return nil, fmt.Errorf("reading the catalog: %w", err)
	}
	cd, ok := c.(pdfDict)
	if !ok {
		return nil, fmt.Errorf("%w: /Root is not a dictionary", errSyntax)
	}
	return cd, nil
}

// nextObjectNumber is the /Size of the newest trailer (at least one more than any used number).
func (d *document) nextObjectNumber() int {
	n, _ := intOf(d.trailer.get("Size"))
	for k := range d.xref {
		if int64(k) >= n {
			n = int64(k) + 1
		}
	}
	return int(n)
}

// resolve follows references until a direct object.
func (d *document) resolve(o any) (any, error) {
	for i := 0; i < 32; i++ {
		r, ok := o.(pdfRef)
		if !ok {
			return o, nil
		}
		var err error
		if o, err = d.object(r.num); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: chain of references longer than 32", errSyntax)
}

func (d *document) dict(o any) pdfDict {
	v, err := d.resolve(o)
	if err != nil {
		return nil
	}
	switch t := v.(type) {
	case pdfDict:
		return t
	case *pdfStream:
		return t.dict
	}
	return nil
}

func (d *document) array(o any) []any {
	v, _ := d.resolve(o)
	a, _ := v.([]any)
	return a
}

// object returns object num of the newest revision (nil when free or absent).
func (d *document) object(num int) (any, error) {
	if o, ok := d.cache[num]; ok {
		return o, nil
	}
	e, ok := d.xref[num]
	if !ok || e.typ == 0 {
		return nil, nil
	}
	if d.loading[num] {
		return nil, fmt.Errorf("%w: reference loop through object %d", errSyntax, num)
	}
	d.loading[num] = true
	defer delete(d.loading, num)
	var o any
	var err error
	switch e.typ {
	case 1:
		o, err = d.objectAt(num, e.off)
	case 2:
		o, err = d.objectInStream(num, e.stm, e.idx)
	}
	if err != nil {
		return nil, fmt.Errorf("object %d: %w", num, err)
	}
	d.cache[num] = o
	return o, nil
}

func (d *document) objectAt(num int, off int64) (any, error) {
	l := newLexer(d.r, d.size, off)
	n, g, err := readObjHeader(l)
	if err != nil {
		return nil, err
	}
	if n != num {
		return nil, fmt.Errorf("%w: cross-reference entry points at object %d instead", errSyntax, n)
	}
	return d.parseIndirectBody(l, n, g)
}

// parseIndirectBody parses what follows "n g obj": an object and, for a stream, its data
// extent (the data is read later).
func (d *document) parseIndirectBody(l *lexer, num, gen int) (any, error) {
	o, err := l.parseObject(0)
	if err != nil {
		return nil, err
	}
	l.skipSpace()
	at := l.pos
	kw := l.keyword()
	if kw != "stream" {
		l.pos = at
		return o, nil
	}
	dict, ok := o.(pdfDict)
	if !ok {
		return nil, fmt.Errorf("%w: stream keyword after a non-dictionary", errSyntax)
	}
	// Stream data starts after CRLF or LF.
	if l.peek() == '\r' {
		l.pos++
	}
	if l.peek() == '\n' {
		l.pos++
	}
	start := l.pos
	length := int64(-1)
	switch v := dict.get("Length").(type) {
	case int64:
		length = v
	case pdfRef:
		if v.num != num && !d.loading[v.num] {
			if lo, err := d.object(v.num); err == nil {
				if n, ok := intOf(lo); ok {
					length = n
				}
			}
		}
	}
	if length < 0 || start+length > d.size || !d.endstreamAt(start+length) {
		// Wrong or missing length: find endstream.
		end, err := d.findEndstream(start)
		if err != nil {
			return nil, err
		}
		length = end - start
	}
	return &pdfStream{dict: dict, off: start, length: length}, nil
}

func (d *document) endstreamAt(p int64) bool {
	l := newLexer(d.r, d.size, p)
	l.skipSpace()
	return l.keyword() == "endstream"
}

func (d *document) findEndstream(start int64) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk+16)
	for p := start; p < d.size; p += chunk {
		n, _ := d.r.ReadAt(buf, p)
		if i := bytes.Index(buf[:n], []byte("endstream")); i >= 0 {
			end := p + int64(i)
			// Trim the EOL before endstream.
			for end > start {
				var c [1]byte
				d.r.ReadAt(c[:], end-1)
				if c[0] != '\n' && c[0] != '\r' {
					break
				}
				end--
			}
			return end, nil
		}
		if p-start > d.lim.MaxStreamBytes {
			break
		}
	}
	return 0, fmt.Errorf("%w: stream at offset %d has no endstream", ErrTruncated, start)
}

// raw returns the undecoded data of s.
func (d *document) raw(s *pdfStream) ([]byte, error) {
	if s.data != nil {
		return s.data, nil
	}
	if s.length > d.lim.MaxStreamBytes {
		return nil, fmt.Errorf("%w: stream of %d bytes is larger than %d", ErrLimit, s.length, d.lim.MaxStreamBytes)
	}
	b := make([]byte, s.length)
	if _, err := d.r.ReadAt(b, s.off); err != nil && !(errors.Is(err, io.EOF) && len(b) == 0) {
		return nil, fmt.Errorf("%w: reading stream data at offset %d: %v", ErrTruncated, s.off, err)
	}
	return b, nil
}

// decodeStream returns the decoded data of s, refusing to produce more than the limits allow.
func (d *document) decodeStream(s *pdfStream) ([]byte, error) {
	raw, err := d.raw(s)
	if err != nil {
		return nil, err
	}
	filters, parms := streamFilters(s.dict)
	data := raw
	for i, f := range filters {
		switch f {
		case "FlateDecode", "Fl":
			budget := d.lim.MaxStreamBytes
			if left := d.lim.MaxTotalBytes - d.decoded; left < budget {
				budget = left
			}
			data, err = inflate(data, budget)
			if err != nil {
				return nil, err
			}
			d.decoded += int64(len(data))
			var p pdfDict
			if i < len(parms) {
				p = d.dict(parms[i])
			}
			if data, err = unpredict(data, p); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: unsupported stream filter /%s", errSyntax, f)
		}
	}
	return data, nil
}

func streamFilters(sd pdfDict) ([]pdfName, []any) {
	var fs []pdfName
	var ps []any
	switch f := sd.get("Filter").(type) {
	case pdfName:
		fs = []pdfName{f}
		ps = []any{sd.get("DecodeParms")}
	case []any:
		for _, e := range f {
			fs = append(fs, nameOf(e))
		}
		if pa, ok := sd.get("DecodeParms").([]any); ok {
			ps = pa
		}
	}
	return fs, ps
}

// inflate decompresses zlib data, failing once more than limit bytes come out.
func inflate(b []byte, limit int64) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: bad Flate stream: %v", errSyntax, err)
	}
	defer zr.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(zr, limit+1))
	if n > limit {
		return nil, fmt.Errorf("%w: a Flate stream of %d bytes expands beyond %d bytes (decompression bomb)", ErrLimit, len(b), limit)
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%w: bad Flate stream: %v", errSyntax, err)
	}
	return out.Bytes(), nil
}

// unpredict reverses PNG predictors (Predictor >= 10) used by cross-reference streams.
func unpredict(b []byte, p pdfDict) ([]byte, error) {
	pred, _ := intOf(p.get("Predictor"))
	if pred <= 1 {
		return b, nil
	}
	if pred < 10 {
		return nil, fmt.Errorf("%w: TIFF predictor %d is not supported", errSyntax, pred)
	}
	cols, ok := intOf(p.get("Columns"))
	if !ok {
		cols = 1
	}
	colors, ok := intOf(p.get("Colors"))
	if !ok {
		colors = 1
	}
	bpc, ok := intOf(p.get("BitsPerComponent"))
	if !ok {
		bpc = 8
	}
	if cols <= 0 || cols > 1<<20 || colors <= 0 || colors > 32 || bpc <= 0 || bpc > 16 {
		return nil, fmt.Errorf("%w: bad predictor parameters", errSyntax)
	}
	bpp := int((colors*bpc + 7) / 8)
	row := int((cols*colors*bpc + 7) / 8)
	out := make([]byte, 0, len(b))
	prev := make([]byte, row)
	for i := 0; i+1+row <= len(b); i += row + 1 {
		ft := b[i]
		cur := append([]byte(nil), b[i+1:i+1+row]...)
		for j := range cur {
			var left, up, ul byte
			if j >= bpp {
				left = cur[j-bpp]
				ul = prev[j-bpp]
			}
			up = prev[j]
			switch ft {
			case 0:
			case 1:
				cur[j] += left
			case 2:
				cur[j] += up
			case 3:
				cur[j] += byte((int(left) + int(up)) / 2)
			case 4:
				cur[j] += paeth(left, up, ul)
			default:
				return nil, fmt.Errorf("%w: bad PNG filter type %d", errSyntax, ft)
			}
		}
		out = append(out, cur...)
		prev = cur
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (d *document) objectInStream(num, stm, idx int) (any, error) {
	entries, ok := d.objstms[stm]
	if !ok {
		if d.loading[stm] {
			return nil, fmt.Errorf("%w: object stream %d contains itself", errSyntax, stm)
		}
		so, err := d.object(stm)
		if err != nil {
			return nil, err
		}
		s, ok := so.(*pdfStream)
		if !ok || nameOf(s.dict.get("Type")) != "ObjStm" {
			return nil, fmt.Errorf("%w: object %d is not an object stream", errSyntax, stm)
		}
		if entries, err = d.readObjStm(s); err != nil {
			return nil, fmt.Errorf("object stream %d: %w", stm, err)
		}
		d.objstms[stm] = entries
	}
	if idx < 0 || idx >= len(entries) || entries[idx].num != num {
		return nil, fmt.Errorf("%w: not found at index %d of object stream %d", errSyntax, idx, stm)
	}
	return entries[idx].obj, nil
}

func (d *document) readObjStm(s *pdfStream) ([]objStmEntry, error) {
	data, err := d.decodeStream(s)
	if err != nil {
		return nil, err
	}
	n, _ := intOf(s.dict.get("N"))
	first, _ := intOf(s.dict.get("First"))
	if n < 0 || n > int64(len(data)) || first < 0 || first > int64(len(data)) {
		return nil, fmt.Errorf("%w: bad /N or /First", errSyntax)
	}
	l := newLexer(bytes.NewReader(data), int64(len(data)), 0)
	type hdr struct{ num, off int64 }
	hs := make([]hdr, n)
	for i := range hs {
		l.skipSpace()
		a, err1 := strconv.ParseInt(l.keyword(), 10, 64)
		l.skipSpace()
		b, err2 := strconv.ParseInt(l.keyword(), 10, 64)
		if err1 != nil || err2 != nil || a < 0 || b < 0 || first+b > int64(len(data)) {
			return nil, fmt.Errorf("%w: bad object stream header entry %d", errSyntax, i)
		}
		hs[i] = hdr{a, b}
	}
	out := make([]objStmEntry, n)
	for i, h := range hs {
		l.pos = first + h.off
		o, err := l.parseObject(0)
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", h.num, err)
		}
		out[i] = objStmEntry{num: int(h.num), obj: o}
	}
	return out, nil
}

// pages returns the page dictionaries' references in order, with their inherited attributes
// merged in (Rotate, MediaBox, CropBox, Resources).
func (d *document) pages() ([]pageInfo, error) {
	cat, err := d.catalog()
	if err != nil {
		return nil, err
	}
	root, ok := cat.get("Pages").(pdfRef)
	if !ok {
		return nil, fmt.Errorf("%w: the catalog has no /Pages reference", errSyntax)
	}
	var out []pageInfo
	seen := map[int]bool{}
	var walk func(r pdfRef, inh pdfDict, depth int) error
	walk = func(r pdfRef, inh pdfDict, depth int) error {
		if seen[r.num] {
			return fmt.Errorf("%w: the page tree visits object %d twice (reference loop)", errSyntax, r.num)
		}
		seen[r.num] = true
		if depth > maxDepth {
			return fmt.Errorf("%w: the page tree is deeper than %d levels", ErrLimit, maxDepth)
		}
		node := d.dict(r)
		if node == nil {
			return fmt.Errorf("%w: page tree node %v is not a dictionary", errSyntax, r)
		}
		in := inh.clone()
		for _, k := range []pdfName{"Rotate", "MediaBox", "CropBox", "Resources"} {
			if v := node.get(k); v != nil {
				in[k] = v
			}
		}
		typ := nameOf(node.get("Type"))
		kids := node.get("Kids")
		if typ == "Pages" || (typ == "" && kids != nil) {
			for _, k := range d.array(kids) {
				kr, ok := k.(pdfRef)
				if !ok {
					return fmt.Errorf("%w: page tree kid is not a reference", errSyntax)
				}
				if err := walk(kr, in, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if len(out) >= d.lim.MaxPages {
			return fmt.Errorf("%w: more than %d pages", ErrLimit, d.lim.MaxPages)
		}
		out = append(out, pageInfo{ref: r, dict: node, inherited: in})
		return nil
	}
	if err := walk(root, pdfDict{}, 0); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the document has no pages", errSyntax)
	}
	return out, nil
}

type pageInfo struct {
	ref       pdfRef
	dict      pdfDict
	inherited pdfDict
}
