package pades

import (
	"fmt"
)

// formField is a terminal form field with its widgets.
type formField struct {
	name    string
	ref     pdfRef
	dict    pdfDict
	ft      pdfName
	widgets []pdfRef // the field itself when it is merged with its widget
}

// formFields lists every terminal field of the AcroForm, bounded by the field limit and
// protected against loops.
func (d *document) formFields() ([]formField, error) {
	cat, err := d.catalog()
	if err != nil {
		return nil, err
	}
	af := d.dict(cat.get("AcroForm"))
	if af == nil {
		return nil, nil
	}
	var out []formField
	seen := map[int]bool{}
	var walk func(o any, parent string, ft pdfName, depth int) error
	walk = func(o any, parent string, ft pdfName, depth int) error {
		r, ok := o.(pdfRef)
		if !ok {
			return fmt.Errorf("%w: form field entry is not a reference", errSyntax)
		}
		if seen[r.num] {
			return fmt.Errorf("%w: form field %d is reachable twice (reference loop)", errSyntax, r.num)
		}
		seen[r.num] = true
		if depth > maxDepth {
			return fmt.Errorf("%w: form fields nested deeper than %d", ErrLimit, maxDepth)
		}
		if len(seen) > d.lim.MaxFields*4 {
			return fmt.Errorf("%w: more than %d form fields", ErrLimit, d.lim.MaxFields)
		}
		f := d.dict(r)
		if f == nil {
			return fmt.Errorf("%w: form field %v is not a dictionary", errSyntax, r)
		}
		name := parent
		if t := f.get("T"); t != nil {
			if name != "" {
				name += "."
			}
			name += textString(t)
		}
		if v := nameOf(f.get("FT")); v != "" {
			ft = v
		}
		kids := d.array(f.get("Kids"))
		var fieldKids []any
		var widgets []pdfRef
		for _, k := range kids {
			kd := d.dict(k)
			if kd == nil {
				continue
			}
			if kd.get("T") == nil && nameOf(kd.get("Subtype")) == "Widget" {
				if kr, ok := k.(pdfRef); ok {
					widgets = append(widgets, kr)
				}
				continue
			}
			fieldKids = append(fieldKids, k)
		}
		if len(fieldKids) > 0 {
			for _, k := range fieldKids {
				if err := walk(k, name, ft, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		if len(kids) == 0 {
			widgets = []pdfRef{r}
		}
		out = append(out, formField{name: name, ref: r, dict: f, ft: ft, widgets: widgets})
		if len(out) > d.lim.MaxFields {
			return fmt.Errorf("%w: more than %d form fields", ErrLimit, d.lim.MaxFields)
		}
		return nil
	}
	for _, f := range d.array(af.get("Fields")) {
		if err := walk(f, "", "", 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *document) field(name string) (*formField, error) {
	fs, err := d.formFields()
	if err != nil {
		return nil, err
	}
	for i := range fs {
		if fs[i].name == name {
			return &fs[i], nil
		}
	}
	return nil, fmt.Errorf("the document has no form field named %q", name)
}

// rectOf returns the width and height of a widget's /Rect.
func (d *document) rectOf(widget pdfDict) (w, h float64, err error) {
	a := d.array(widget.get("Rect"))
	if len(a) != 4 {
		return 0, 0, fmt.Errorf("%w: widget has no valid /Rect", errSyntax)
	}
	var v [4]float64
	for i := range v {
		x, ok := numOf(a[i])
		if !ok {
			return 0, 0, fmt.Errorf("%w: widget /Rect is not numeric", errSyntax)
		}
		v[i] = x
	}
	w, h = v[2]-v[0], v[3]-v[1]
	if w < 0 {
		w = -w
	}
	if h < 0 {
		h = -h
	}
	return w, h, nil
}
