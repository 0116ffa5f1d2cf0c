package pades

import (
	"bytes"
	"fmt"
	"io"
	"sort"
)

// changesAfter classifies every object whose cross-reference entry differs between the
// revision that ends at end and the whole document. Allowed: filling existing form fields,
// signing existing signature fields, adding signature fields and their widgets, the DSS and
// document timestamps. Everything else — page content, resources, page tree, annotations
// other than signature widgets, deleted objects, objects revealed from the signed revision's
// unreachable objects (shadow attacks) — is disallowed.
func (v *verifier) changesAfter(end int64) ([]Change, error) {
	old, err := openDocument(io.NewSectionReader(v.r, 0, end), end, v.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("the signed revision does not read as a PDF: %w", err)
	}
	cur := v.d
	var changes []Change
	add := func(n int, allowed bool, format string, a ...any) {
		changes = append(changes, Change{Object: n, Allowed: allowed, What: fmt.Sprintf(format, a...)})
	}
	if old.rootRef() != cur.rootRef() {
		add(cur.rootRef().num, false, "the trailer points at another catalog")
	}
	// Trailing bytes that belong to no revision.
	if cur.startxref < end {
		tail := make([]byte, min(v.size-end, 4096))
		n, _ := v.r.ReadAt(tail, end)
		if len(bytes.TrimSpace(tail[:n])) > 0 {
			add(0, false, "%d bytes appended after the signed revision outside any revision", v.size-end)
		}
	}
	nums := map[int]bool{}
	for n, e := range cur.xref {
		if oe, ok := old.xref[n]; !ok || oe != e {
			nums[n] = true
		}
	}
	for n, e := range old.xref {
		if ce, ok := cur.xref[n]; e.typ != 0 && (!ok || ce.typ == 0) {
			nums[n] = true
		}
	}
	sorted := make([]int, 0, len(nums))
	for n := range nums {
		sorted = append(sorted, n)
	}
	sort.Ints(sorted)
	if len(sorted) == 0 {
		return changes, nil
	}
	ctx, err := newChangeContext(old, cur)
	if err != nil {
		return nil, err
	}
	for _, n := range sorted {
		allowed, what := ctx.classify(n)
		add(n, allowed, "%s", what)
	}
	return changes, nil
}

// changeContext knows the roles of the objects of the signed revision.
type changeContext struct {
	old, cur   *document
	reachable  map[int]bool // objects reachable from the signed revision's trailer
	pages      map[int]bool
	annotArray map[int]bool // indirect /Annots arrays of pages
	fieldArray int          // indirect /Fields array of the AcroForm (0 when direct)
	acroForm   int          // indirect AcroForm dictionary (0 when direct)
	fields     map[int]pdfName
}

func newChangeContext(old, cur *document) (*changeContext, error) {
	c := &changeContext{old: old, cur: cur, reachable: map[int]bool{}, pages: map[int]bool{}, annotArray: map[int]bool{}, fields: map[int]pdfName{}}
	// Reachability from the trailer of the signed revision.
	queue := refsOf(old.trailer.get("Root"), nil)
	queue = refsOf(old.trailer.get("Info"), queue)
	for len(queue) > 0 {
		r := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if c.reachable[r.num] {
			continue
		}
		c.reachable[r.num] = true
		if len(c.reachable) > old.lim.MaxObjects {
			return nil, fmt.Errorf("%w: too many objects", ErrLimit)
		}
		o, err := old.object(r.num)
		if err != nil {
			continue // unreadable objects are simply not reachable
		}
		queue = refsOf(o, queue)
	}
	pages, err := old.pages()
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		c.pages[p.ref.num] = true
		if r, ok := p.dict.get("Annots").(pdfRef); ok {
			c.annotArray[r.num] = true
		}
	}
	cat, err := old.catalog()
	if err != nil {
		return nil, err
	}
	if r, ok := cat.get("AcroForm").(pdfRef); ok {
		c.acroForm = r.num
	}
	if r, ok := old.dict(cat.get("AcroForm")).get("Fields").(pdfRef); ok {
		c.fieldArray = r.num
	}
	fs, err := old.formFields()
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		c.fields[f.ref.num] = f.ft
		for _, w := range f.widgets {
			c.fields[w.num] = f.ft
		}
	}
	return c, nil
}

func (c *changeContext) classify(n int) (bool, string) {
	oldObj, errOld := c.old.object(n)
	newObj, errNew := c.cur.object(n)
	if errNew != nil {
		return false, "unreadable object: " + errNew.Error()
	}
	if errOld != nil {
		oldObj = nil
	}
	if newObj == nil && oldObj != nil {
		return false, "object deleted"
	}
	if oldObj == nil {
		if _, existed := c.old.xref[n]; existed && c.old.xref[n].typ != 0 {
			return false, "object replaced by an unreadable one"
		}
		if bad := c.shadowRefs(newObj); bad != "" {
			return false, "new object " + bad
		}
		return true, "new " + describe(newObj)
	}
	if c.equal(oldObj, newObj) {
		return true, "rewritten unchanged"
	}
	od, oldIsDict := oldObj.(pdfDict)
	nd, newIsDict := newObj.(pdfDict)
	switch {
	case n == c.old.rootRef().num && oldIsDict && newIsDict:
		if ok, why := c.onlyKeys(od, nd, "catalog", "AcroForm", "DSS", "Extensions"); !ok {
			return ok, why
		}
		if bytes.Equal(canonical(od.get("AcroForm")), canonical(nd.get("AcroForm"))) {
			return true, "catalog: DSS or extensions"
		}
		// The AcroForm moved or changed: compare its contents.
		return c.acroFormChange(c.old.dict(od.get("AcroForm")), c.cur.dict(nd.get("AcroForm")))
	case n == c.acroForm && oldIsDict && newIsDict:
		return c.acroFormChange(od, nd)
	case n == c.fieldArray:
		oa, _ := oldObj.([]any)
		na, _ := newObj.([]any)
		return c.grownArray(nil, na, "AcroForm /Fields", oa)
	case c.annotArray[n]:
		oa, _ := oldObj.([]any)
		na, _ := newObj.([]any)
		return c.grownArray(nil, na, "page /Annots", oa)
	case c.pages[n] && oldIsDict && newIsDict:
		if ok, why := c.onlyKeys(od, nd, "page", "Annots"); !ok {
			return ok, why
		}
		if _, ok := nd.get("Annots").(pdfRef); ok {
			if or, _ := od.get("Annots").(pdfRef); or != nd.get("Annots") {
				return false, "page /Annots replaced by another array"
			}
			return true, "page /Annots unchanged"
		}
		return c.grownArray(nil, c.cur.array(nd.get("Annots")), "page /Annots", c.old.array(od.get("Annots")))
	case c.fields[n] != "" && oldIsDict && newIsDict:
		ft := c.fields[n]
		if ft == "Sig" {
			if od.get("V") != nil {
				return false, "a signed signature field was modified"
			}
			return c.onlyKeys(od, nd, "signature field signed", "V", "AP")
		}
		return c.onlyKeys(od, nd, "form field filled", "V", "AP", "AS")
	}
	return false, "modified " + describe(oldObj)
}

func (c *changeContext) acroFormChange(od, nd pdfDict) (bool, string) {
	if nd == nil {
		return false, "AcroForm removed"
	}
	if ok, why := c.onlyKeys(od, nd, "AcroForm", "Fields", "SigFlags"); !ok {
		return ok, why
	}
	return c.grownArray(nil, c.cur.array(nd.get("Fields")), "AcroForm /Fields", c.old.array(od.get("Fields")))
}

// onlyKeys allows a change of dictionary od into nd that touches only the given keys, and
// whose new values reference nothing hidden in the signed revision.
func (c *changeContext) onlyKeys(od, nd pdfDict, what string, keys ...pdfName) (bool, string) {
	allowed := map[pdfName]bool{}
	for _, k := range keys {
		allowed[k] = true
	}
	for _, k := range unionKeys(od, nd) {
		if allowed[k] {
			if bad := c.shadowRefs(nd.get(k)); bad != "" {
				return false, fmt.Sprintf("%s: /%s %s", what, k, bad)
			}
			continue
		}
		if !bytes.Equal(canonical(od.get(k)), canonical(nd.get(k))) {
			return false, fmt.Sprintf("%s: /%s changed", what, k)
		}
	}
	return true, what
}

// grownArray allows an array that keeps every old element in order and only adds signature
// field widgets.
func (c *changeContext) grownArray(_ []any, na []any, what string, oa []any) (bool, string) {
	if len(na) < len(oa) {
		return false, what + ": elements removed"
	}
	for i := range oa {
		if !bytes.Equal(canonical(oa[i]), canonical(na[i])) {
			return false, what + ": elements replaced"
		}
	}
	for _, e := range na[len(oa):] {
		d := c.cur.dict(e)
		if d == nil || nameOf(d.get("FT")) != "Sig" {
			return false, what + ": a non-signature element was added"
		}
		if bad := c.shadowRefs(e); bad != "" {
			return false, what + ": " + bad
		}
	}
	return true, what + ": signature field added"
}

// shadowRefs reports a reference from o to an object that existed in the signed revision but
// was not reachable there: revealing it would change what the signed document shows.
func (c *changeContext) shadowRefs(o any) string {
	for _, r := range refsOf(o, nil) {
		if e, ok := c.old.xref[r.num]; ok && e.typ != 0 && !c.reachable[r.num] {
			return fmt.Sprintf("references object %d, which was hidden (unreachable) in the signed revision", r.num)
		}
	}
	return ""
}

func (c *changeContext) equal(a, b any) bool {
	sa, okA := a.(*pdfStream)
	sb, okB := b.(*pdfStream)
	if okA != okB {
		return false
	}
	if okA {
		ra, errA := c.old.raw(sa)
		rb, errB := c.cur.raw(sb)
		return errA == nil && errB == nil && bytes.Equal(ra, rb) && bytes.Equal(canonical(sa.dict), canonical(sb.dict))
	}
	return bytes.Equal(canonical(a), canonical(b))
}

func unionKeys(a, b pdfDict) []pdfName {
	m := map[pdfName]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	out := make([]pdfName, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func describe(o any) string {
	switch v := o.(type) {
	case pdfDict:
		if t := nameOf(v.get("Type")); t != "" {
			if st := nameOf(v.get("Subtype")); st != "" {
				return fmt.Sprintf("/%s /%s dictionary", t, st)
			}
			return fmt.Sprintf("/%s dictionary", t)
		}
		if ft := nameOf(v.get("FT")); ft != "" {
			return fmt.Sprintf("/%s form field", ft)
		}
		return "dictionary"
	case *pdfStream:
		if t := nameOf(v.dict.get("Type")); t != "" {
			return fmt.Sprintf("/%s stream", t)
		}
		return "stream"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T value", o)
}
