package pades

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"time"

	pdfcpuapi "github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// FieldKind is the type of a form field that Prepare adds.
type FieldKind int

// Field kinds.
const (
	FieldText FieldKind = iota + 1
	FieldSignature
)

func (k FieldKind) String() string {
	switch k {
	case FieldText:
		return "text"
	case FieldSignature:
		return "signature"
	}
	return fmt.Sprintf("FieldKind(%d)", int(k))
}

// Field is a form field to add. Rect is [llx lly urx ury] in default user space units of Page
// (1-based).
type Field struct {
	Name     string
	Kind     FieldKind
	Page     int
	Rect     [4]float64
	Required bool
	MaxLen   int // text fields only; 0 means no limit
}

// PrepareOptions configure Prepare.
type PrepareOptions struct {
	Fields []Field
	Limits Limits
}

// PreparedDocument describes the document Prepare wrote.
type PreparedDocument struct {
	Version string `json:"version"` // PDF version of the input
	Pages   int    `json:"pages"`
	// PageDigests holds, per page, the SHA-256 of its decoded content streams in order.
	PageDigests [][]byte `json:"page_digests"`
	Size        int64    `json:"size"` // bytes written to out
}

// ErrAlreadySigned is returned by Prepare for input that already has signatures: rewriting
// it would invalidate them.
var ErrAlreadySigned = errors.New("the PDF is already signed")

var fieldNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Prepare validates the PDF in in[0:size], counts its pages, digests each page's content and
// writes to out a rewritten document (pdfcpu) that contains every given field, with no
// signature yet. Nothing is written to out on error.
func Prepare(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, opts PrepareOptions) (*PreparedDocument, error) {
	d, err := openDocument(in, size, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading the uploaded PDF: %w", err)
	}
	pages, err := d.pages()
	if err != nil {
		return nil, fmt.Errorf("reading the page tree: %w", err)
	}
	if err := d.scanAll(ctx); err != nil {
		return nil, err
	}
	existing, err := d.formFields()
	if err != nil {
		return nil, fmt.Errorf("reading the existing form: %w", err)
	}
	names := map[string]bool{}
	for _, f := range existing {
		if f.ft == "Sig" && f.dict.get("V") != nil {
			return nil, fmt.Errorf("%w: signature field %q has a value", ErrAlreadySigned, f.name)
		}
		names[f.name] = true
	}
	if len(existing)+len(opts.Fields) > d.lim.MaxFields {
		return nil, fmt.Errorf("%w: %d fields in all, more than %d", ErrLimit, len(existing)+len(opts.Fields), d.lim.MaxFields)
	}
	for _, f := range opts.Fields {
		if err := checkField(f, len(pages), names); err != nil {
			return nil, err
		}
		names[f.Name] = true
	}
	res := &PreparedDocument{Version: d.version, Pages: len(pages)}
	for i, p := range pages {
		sum, err := d.pageDigest(p.dict)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", i+1, err)
		}
		res.PageDigests = append(res.PageDigests, sum)
	}
	var buf bytes.Buffer
	if err := addFieldsWithPdfcpu(ctx, io.NewSectionReader(in, 0, size), &buf, opts.Fields); err != nil {
		return nil, err
	}
	// Check our own output before handing it out.
	check, err := openDocument(bytes.NewReader(buf.Bytes()), int64(buf.Len()), opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("internal error: the prepared PDF does not read back: %w", err)
	}
	if got, err := check.formFields(); err != nil || len(got) != len(existing)+len(opts.Fields) {
		return nil, fmt.Errorf("internal error: the prepared PDF has %d form fields, want %d (%v)", len(got), len(existing)+len(opts.Fields), err)
	}
	n, err := out.Write(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("writing the prepared PDF: %w", err)
	}
	res.Size = int64(n)
	return res, nil
}

func checkField(f Field, pages int, names map[string]bool) error {
	if !fieldNameRE.MatchString(f.Name) {
		return fmt.Errorf("field name %q must be 1 to 64 characters among A-Z a-z 0-9 _ -", f.Name)
	}
	if names[f.Name] {
		return fmt.Errorf("field name %q is used twice", f.Name)
	}
	if f.Kind != FieldText && f.Kind != FieldSignature {
		return fmt.Errorf("field %q has unknown kind %v", f.Name, f.Kind)
	}
	if f.Page < 1 || f.Page > pages {
		return fmt.Errorf("field %q is on page %d but the document has %d pages", f.Name, f.Page, pages)
	}
	r := f.Rect
	for _, v := range r {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 14400 {
			return fmt.Errorf("field %q has an invalid rectangle %v", f.Name, r)
		}
	}
	if f.Kind == FieldText && (r[2]-r[0] < 4 || r[3]-r[1] < 4) {
		return fmt.Errorf("field %q: rectangle %v is smaller than 4×4 points", f.Name, r)
	}
	if f.Kind == FieldSignature && (r[2] < r[0] || r[3] < r[1]) {
		return fmt.Errorf("field %q: rectangle %v is inverted", f.Name, r)
	}
	if f.MaxLen < 0 || (f.MaxLen > 0 && f.Kind != FieldText) {
		return fmt.Errorf("field %q: MaxLen applies to text fields only and must be positive", f.Name)
	}
	return nil
}

// scanAll loads every in-use object and decodes every Flate stream within the limits, so that
// malformed objects and decompression bombs are refused before anything else reads them.
func (d *document) scanAll(ctx context.Context) error {
	for n, e := range d.xref {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.typ == 0 {
			continue
		}
		o, err := d.object(n)
		if err != nil {
			return err
		}
		s, ok := o.(*pdfStream)
		if !ok {
			continue
		}
		if fs, _ := streamFilters(s.dict); len(fs) == 0 || (fs[0] != "FlateDecode" && fs[0] != "Fl") {
			if s.length > d.lim.MaxStreamBytes {
				return fmt.Errorf("%w: object %d is a stream of %d bytes", ErrLimit, n, s.length)
			}
			continue
		}
		if _, err := d.decodeStream(s); err != nil && !isUnsupportedFilter(err) {
			return fmt.Errorf("object %d: %w", n, err)
		}
	}
	return nil
}

func isUnsupportedFilter(err error) bool {
	return err != nil && errors.Is(err, errSyntax) && bytes.Contains([]byte(err.Error()), []byte("unsupported stream filter"))
}

// pageDigest hashes the decoded content streams of a page.
func (d *document) pageDigest(page pdfDict) ([]byte, error) {
	h := sha256.New()
	var streams []any
	switch c := page.get("Contents").(type) {
	case nil:
	case []any:
		streams = c
	default:
		if a := d.array(c); a != nil {
			streams = a
		} else {
			streams = []any{c}
		}
	}
	for _, c := range streams {
		o, err := d.resolve(c)
		if err != nil {
			return nil, err
		}
		s, ok := o.(*pdfStream)
		if !ok {
			return nil, fmt.Errorf("%w: page content is not a stream", errSyntax)
		}
		data, err := d.decodeStream(s)
		if err != nil {
			if !isUnsupportedFilter(err) {
				return nil, err
			}
			if data, err = d.raw(s); err != nil {
				return nil, err
			}
		}
		h.Write(data)
		h.Write([]byte{'\n'})
	}
	return h.Sum(nil), nil
}

// pdfcpuConfig is pdfcpu's default configuration, built here so that pdfcpu never reads or
// creates a configuration directory.
func pdfcpuConfig() *model.Configuration {
	return &model.Configuration{
		CreationDate:              time.Now().Format("2006-01-02 15:04"),
		Version:                   model.VersionStr,
		Reader15:                  true,
		ValidationMode:            model.ValidationRelaxed,
		UnsupportedResourcePolicy: model.UnsupportedResourceSkip,
		Eol:                       types.EolLF,
		WriteObjectStream:         true,
		WriteXRefStream:           true,
		EncryptUsingAES:           true,
		EncryptKeyLength:          256,
		Permissions:               model.PermissionsPrint,
		TimestampFormat:           "2006-01-02 15:04",
		DateFormat:                "2006-01-02",
		Optimize:                  true,
		OptimizeBeforeWriting:     true,
		OptimizeResourceDicts:     true,
		Offline:                   true,
		Timeout:                   5,
		Limits:                    model.DefaultResourceLimits(),
	}
}

func addFieldsWithPdfcpu(c context.Context, rs io.ReadSeeker, w io.Writer, fields []Field) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pdfcpu failed on this PDF: %v", r)
		}
	}()
	ctx, err := pdfcpu.ReadWithContext(c, rs, pdfcpuConfig())
	if err != nil {
		return fmt.Errorf("pdfcpu cannot read the PDF: %w", err)
	}
	if err := ctx.EnsurePageCount(); err != nil {
		return fmt.Errorf("pdfcpu cannot count the pages: %w", err)
	}
	xt := ctx.XRefTable
	root, err := xt.Catalog()
	if err != nil {
		return fmt.Errorf("pdfcpu: %w", err)
	}
	var af types.Dict
	if o, ok := root.Find("AcroForm"); ok {
		if af, err = xt.DereferenceDict(o); err != nil {
			return fmt.Errorf("pdfcpu: reading /AcroForm: %w", err)
		}
	}
	if af == nil {
		af = types.Dict{}
		ref, err := xt.IndRefForNewObject(af)
		if err != nil {
			return fmt.Errorf("pdfcpu: %w", err)
		}
		root["AcroForm"] = *ref
	}
	var list types.Array
	if o, ok := af.Find("Fields"); ok {
		if list, err = xt.DereferenceArray(o); err != nil {
			return fmt.Errorf("pdfcpu: reading /AcroForm /Fields: %w", err)
		}
	}
	// Appearances must never be regenerated by viewers once signed.
	delete(af, "NeedAppearances")
	helv := types.Dict{"Type": types.Name("Font"), "Subtype": types.Name("Type1"), "BaseFont": types.Name("Helvetica"), "Encoding": types.Name("WinAnsiEncoding")}
	dr, _ := xt.DereferenceDict(af["DR"])
	if dr == nil {
		dr = types.Dict{}
	}
	fonts, _ := xt.DereferenceDict(dr["Font"])
	if fonts == nil {
		fonts = types.Dict{}
	}
	if _, ok := fonts["Helv"]; !ok {
		hr, err := xt.IndRefForNewObject(helv)
		if err != nil {
			return fmt.Errorf("pdfcpu: %w", err)
		}
		fonts["Helv"] = *hr
	}
	dr["Font"] = fonts
	af["DR"] = dr
	if _, ok := af["DA"]; !ok {
		af["DA"] = types.StringLiteral("/Helv 0 Tf 0 g")
	}
	for _, f := range fields {
		pd, pref, _, err := xt.PageDict(f.Page, false)
		if err != nil || pd == nil || pref == nil {
			return fmt.Errorf("pdfcpu: page %d: %v", f.Page, err)
		}
		wd := types.Dict{
			"Type":    types.Name("Annot"),
			"Subtype": types.Name("Widget"),
			"T":       types.StringLiteral(f.Name),
			"Rect":    types.NewNumberArray(f.Rect[0], f.Rect[1], f.Rect[2], f.Rect[3]),
			"P":       *pref,
			"F":       types.Integer(4),
		}
		switch f.Kind {
		case FieldText:
			wd["FT"] = types.Name("Tx")
			wd["DA"] = types.StringLiteral("/Helv 10 Tf 0 g")
			wd["MK"] = types.Dict{"BC": types.NewNumberArray(0.4, 0.4, 0.4)}
			if f.Required {
				wd["Ff"] = types.Integer(2)
			}
			if f.MaxLen > 0 {
				wd["MaxLen"] = types.Integer(f.MaxLen)
			}
		case FieldSignature:
			wd["FT"] = types.Name("Sig")
			if f.Required {
				wd["Ff"] = types.Integer(2)
			}
		}
		ref, err := xt.IndRefForNewObject(wd)
		if err != nil {
			return fmt.Errorf("pdfcpu: %w", err)
		}
		list = append(list, *ref)
		annots, err := xt.DereferenceArray(pd["Annots"])
		if err != nil {
			return fmt.Errorf("pdfcpu: page %d /Annots: %w", f.Page, err)
		}
		pd["Annots"] = append(annots, *ref)
	}
	af["Fields"] = list
	if err := pdfcpuapi.WriteContext(ctx, w); err != nil {
		return fmt.Errorf("pdfcpu cannot write the prepared PDF: %w", err)
	}
	return nil
}
