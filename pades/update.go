package pades

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"hash"
	"io"
	"sort"
	"strconv"
)

// update collects the objects of one incremental update: objects that replace existing ones
// (same number and generation) and new objects numbered from the document's /Size.
type update struct {
	d    *document
	next int
	objs map[int]any
	gens map[int]int
}

func newUpdate(d *document) *update {
	return &update{d: d, next: d.nextObjectNumber(), objs: map[int]any{}, gens: map[int]int{}}
}

// add stores a new object and returns its reference.
func (u *update) add(o any) pdfRef {
	n := u.next
	u.next++
	u.objs[n] = o
	u.gens[n] = 0
	return pdfRef{n, 0}
}

// set replaces object r with o.
func (u *update) set(r pdfRef, o any) {
	u.objs[r.num] = o
	u.gens[r.num] = r.gen
}

// current returns the object as this update will leave it.
func (u *update) current(r pdfRef) (any, error) {
	if o, ok := u.objs[r.num]; ok {
		return o, nil
	}
	return u.d.object(r.num)
}

// sigPlaceholder is a signature dictionary whose /ByteRange and /Contents are filled in after
// the update is laid out.
type sigPlaceholder struct {
	dict     pdfDict // without ByteRange and Contents
	contents int     // bytes reserved for the DER value
}

// layout is a serialised update with the positions of the signature placeholders.
type layout struct {
	buf        []byte
	byteRange  int // offset in buf of the ByteRange array placeholder, or -1
	contents   int // offset in buf of '<' of /Contents, or -1
	contentLen int // bytes of DER reserved
}

const byteRangePlaceholder = "[0 0000000000 0000000000 0000000000]"

// serialise lays the update out as bytes appended after base bytes of the original file.
func (u *update) serialise(base int64) (*layout, error) {
	var buf bytes.Buffer
	lay := &layout{byteRange: -1, contents: -1}
	buf.WriteByte('\n')
	nums := make([]int, 0, len(u.objs))
	for n := range u.objs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	offsets := map[int]int64{}
	for _, n := range nums {
		offsets[n] = base + int64(buf.Len())
		fmt.Fprintf(&buf, "%d %d obj\n", n, u.gens[n])
		switch o := u.objs[n].(type) {
		case *sigPlaceholder:
			if lay.contents >= 0 {
				return nil, fmt.Errorf("internal error: two signatures in one update")
			}
			var db bytes.Buffer
			writeDict(&db, o.dict)
			b := db.Bytes()
			buf.Write(b[:len(b)-2]) // without ">>"
			buf.WriteString("/ByteRange ")
			lay.byteRange = buf.Len()
			buf.WriteString(byteRangePlaceholder)
			buf.WriteString("/Contents ")
			lay.contents = buf.Len()
			lay.contentLen = o.contents
			buf.WriteByte('<')
			buf.Write(bytes.Repeat([]byte{'0'}, 2*o.contents))
			buf.WriteString(">>>")
		default:
			writeObject(&buf, o)
		}
		buf.WriteString("\nendobj\n")
	}
	xrefAt := base + int64(buf.Len())
	buf.WriteString("xref\n0 1\n0000000000 65535 f \n")
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		fmt.Fprintf(&buf, "%d %d\n", nums[i], j-i+1)
		for k := i; k <= j; k++ {
			fmt.Fprintf(&buf, "%010d %05d n \n", offsets[nums[k]], u.gens[nums[k]])
		}
		i = j + 1
	}
	size := u.next
	if s := u.d.nextObjectNumber(); s > size {
		size = s
	}
	tr := pdfDict{"Size": int64(size), "Root": u.d.trailer.get("Root"), "Prev": u.d.startxref}
	if info := u.d.trailer.get("Info"); info != nil {
		tr["Info"] = info
	}
	if id, ok := u.d.trailer.get("ID").([]any); ok && len(id) == 2 {
		tr["ID"] = id
	} else {
		var a [16]byte
		rand.Read(a[:])
		s := pdfString{b: a[:], hex: true}
		tr["ID"] = []any{s, s}
	}
	buf.WriteString("trailer\n")
	writeDict(&buf, tr)
	buf.WriteString("\nstartxref\n" + strconv.FormatInt(xrefAt, 10) + "\n%%EOF\n")
	lay.buf = buf.Bytes()
	return lay, nil
}

// fillByteRange writes the final ByteRange into the layout for an original of base bytes and
// returns it.
func (lay *layout) fillByteRange(base int64) ([4]int64, error) {
	a := base + int64(lay.contents)
	b := a + 2 + 2*int64(lay.contentLen)
	total := base + int64(len(lay.buf))
	br := [4]int64{0, a, b, total - b}
	s := fmt.Sprintf("[0 %d %d %d]", br[1], br[2], br[3])
	if len(s) > len(byteRangePlaceholder) {
		return br, fmt.Errorf("file too large for the ByteRange placeholder")
	}
	for len(s) < len(byteRangePlaceholder) {
		s += " "
	}
	copy(lay.buf[lay.byteRange:], s)
	return br, nil
}

// hashRanges hashes the original (streamed from r) followed by the update, skipping the
// /Contents hex string.
func (lay *layout) hashRanges(h hash.Hash, r io.ReaderAt, base int64) error {
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, base)); err != nil {
		return fmt.Errorf("reading the input PDF: %w", err)
	}
	h.Write(lay.buf[:lay.contents])
	h.Write(lay.buf[lay.contents+2+2*lay.contentLen:])
	return nil
}

// fillContents writes der, hex encoded and zero padded, into /Contents.
func (lay *layout) fillContents(der []byte) error {
	if len(der) > lay.contentLen {
		return fmt.Errorf("the signature is %d bytes but only %d were reserved; raise the reserved size", len(der), lay.contentLen)
	}
	const digits = "0123456789ABCDEF"
	p := lay.contents + 1
	for _, c := range der {
		lay.buf[p] = digits[c>>4]
		lay.buf[p+1] = digits[c&15]
		p += 2
	}
	return nil
}

// writeOut copies the original and the update to w.
func (lay *layout) writeOut(w io.Writer, r io.ReaderAt, base int64) error {
	if _, err := io.Copy(w, io.NewSectionReader(r, 0, base)); err != nil {
		return fmt.Errorf("writing the output PDF: %w", err)
	}
	if _, err := w.Write(lay.buf); err != nil {
		return fmt.Errorf("writing the output PDF: %w", err)
	}
	return nil
}
