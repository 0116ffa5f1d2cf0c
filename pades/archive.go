package pades

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// DocTimestampOptions configure AddDocumentTimestamp.
type DocTimestampOptions struct {
	Timestamper  Timestamper
	ReservedSize int // bytes reserved for the token (DefaultReservedSize if zero)
	Limits       Limits
	Logger       *slog.Logger
}

// AddDocumentTimestamp appends a document timestamp (/SubFilter /ETSI.RFC3161) covering the
// whole document in an invisible signature field, making a B-LT document B-LTA, and writes
// the whole document to out.
func AddDocumentTimestamp(ctx context.Context, pdf io.ReaderAt, size int64, out io.Writer, opts DocTimestampOptions) error {
	lay, err := docTimestampUpdate(ctx, pdf, size, opts)
	if err != nil {
		return err
	}
	return lay.writeOut(out, pdf, size)
}

func docTimestampUpdate(ctx context.Context, pdf io.ReaderAt, size int64, opts DocTimestampOptions) (*layout, error) {
	if opts.Timestamper == nil {
		return nil, errors.New("pades: no Timestamper given for the document timestamp")
	}
	d, err := openDocument(pdf, size, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading the PDF to timestamp: %w", err)
	}
	fields, err := d.formFields()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, f := range fields {
		names[f.name] = true
	}
	name := ""
	for i := 1; ; i++ {
		name = fmt.Sprintf("DocTimeStamp%d", i)
		if !names[name] {
			break
		}
	}
	pages, err := d.pages()
	if err != nil {
		return nil, err
	}
	reserved := opts.ReservedSize
	if reserved <= 0 {
		reserved = DefaultReservedSize
	}
	u := newUpdate(d)
	sigRef := u.add(&sigPlaceholder{dict: pdfDict{
		"Type":      pdfName("DocTimeStamp"),
		"Filter":    pdfName("Adobe.PPKLite"),
		"SubFilter": pdfName("ETSI.RFC3161"),
	}, contents: reserved})
	page := pages[0]
	widget := u.add(pdfDict{
		"Type": pdfName("Annot"), "Subtype": pdfName("Widget"), "FT": pdfName("Sig"),
		"T": pdfString{b: []byte(name)}, "V": sigRef, "Rect": []any{int64(0), int64(0), int64(0), int64(0)},
		"F": int64(132), "P": page.ref,
	})
	if err := appendToArray(d, u, page.ref, "Annots", widget); err != nil {
		return nil, fmt.Errorf("adding the timestamp widget to page 1: %w", err)
	}
	cat, err := d.catalog()
	if err != nil {
		return nil, err
	}
	afRef, ok := cat.get("AcroForm").(pdfRef)
	if !ok {
		// A direct AcroForm: move it into its own object.
		af := d.dict(cat.get("AcroForm"))
		if af == nil {
			af = pdfDict{}
		}
		afRef = u.add(af.clone())
		c := cat.clone()
		c["AcroForm"] = afRef
		u.set(d.rootRef(), c)
	}
	if err := appendToArray(d, u, afRef, "Fields", widget); err != nil {
		return nil, fmt.Errorf("adding the timestamp field to the form: %w", err)
	}
	cur, _ := u.current(afRef)
	if ad, ok := cur.(pdfDict); ok {
		ad = ad.clone()
		ad["SigFlags"] = int64(3)
		u.set(afRef, ad)
	}
	lay, err := u.serialise(size)
	if err != nil {
		return nil, err
	}
	if _, err := lay.fillByteRange(size); err != nil {
		return nil, err
	}
	h := crypto.SHA256.New()
	if err := lay.hashRanges(h, pdf, size); err != nil {
		return nil, err
	}
	digest := h.Sum(nil)
	token, err := opts.Timestamper.Timestamp(ctx, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("obtaining the document timestamp: %w", err)
	}
	if err := checkToken(token, digest); err != nil {
		return nil, fmt.Errorf("the timestamper returned an unusable token: %w", err)
	}
	if err := lay.fillContents(token); err != nil {
		return nil, err
	}
	logger(opts.Logger).LogAttrs(ctx, slog.LevelInfo, "pades: added document timestamp", slog.String("field", name), slog.Int("token_bytes", len(token)))
	return lay, nil
}

// appendToArray appends v to the array at key of the dictionary obj (direct or indirect
// array), recording the changed objects in u.
func appendToArray(d *document, u *update, obj pdfRef, key pdfName, v any) error {
	cur, err := u.current(obj)
	if err != nil {
		return err
	}
	od, ok := cur.(pdfDict)
	if !ok {
		return fmt.Errorf("%w: object %v is not a dictionary", errSyntax, obj)
	}
	if ar, ok := od.get(key).(pdfRef); ok {
		ao, err := u.current(ar)
		if err != nil {
			return err
		}
		a, ok := ao.([]any)
		if !ok {
			return fmt.Errorf("%w: /%s of %v is not an array", errSyntax, key, obj)
		}
		u.set(ar, append(append([]any(nil), a...), v))
		return nil
	}
	a, _ := od.get(key).([]any)
	od = od.clone()
	od[key] = append(append([]any(nil), a...), v)
	u.set(obj, od)
	return nil
}

// ExtendOptions configure Extend.
type ExtendOptions struct {
	Revocation  RevocationSource // HTTPRevocation{} if nil
	Certs       []*x509.Certificate
	Timestamper Timestamper
	Limits      Limits
	Logger      *slog.Logger
}

// Extend makes a signed PDF B-LTA: it appends a DSS (B-LT) then a document timestamp, and
// writes the whole document to out.
func Extend(ctx context.Context, pdf io.ReaderAt, size int64, out io.Writer, opts ExtendOptions) error {
	l1, err := ltvUpdate(ctx, pdf, size, LTVOptions{Revocation: opts.Revocation, Certs: opts.Certs, Limits: opts.Limits, Logger: opts.Logger})
	if err != nil {
		return err
	}
	r1 := &appended{base: pdf, baseSize: size, tail: l1.buf}
	l2, err := docTimestampUpdate(ctx, r1, r1.size(), DocTimestampOptions{Timestamper: opts.Timestamper, Limits: opts.Limits, Logger: opts.Logger})
	if err != nil {
		return err
	}
	return (&layout{buf: l2.buf}).writeOut(out, r1, r1.size())
}

// SealOptions configure Seal.
type SealOptions struct {
	Signer      crypto.Signer
	Chain       []*x509.Certificate // the platform seal certificate first
	Timestamper Timestamper
	Revocation  RevocationSource // HTTPRevocation{} if nil
	// Certs complete the chains for the DSS (typically the root).
	Certs      []*x509.Certificate
	Appearance Appearance
	Limits     Limits
	Logger     *slog.Logger
}

// SealFieldName is the signature field that Seal creates.
const SealFieldName = "ParapheSeal"

// Seal applies an electronic seal: it prepares the PDF with an invisible signature field,
// signs it with the seal certificate (B-T), then adds a DSS and a document timestamp
// (B-LTA). in is read fully into memory once (the preparation rewrites it).
func Seal(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, opts SealOptions) error {
	if err := checkSignerOptions(opts.Signer, opts.Chain, opts.Timestamper); err != nil {
		return err
	}
	d, err := openDocument(in, size, opts.Limits)
	if err != nil {
		return fmt.Errorf("reading the PDF to seal: %w", err)
	}
	var base io.ReaderAt = in
	baseSize := size
	if f, err := d.field(SealFieldName); err != nil || f.ft != "Sig" || f.dict.get("V") != nil {
		var buf writerBuffer
		if _, err := Prepare(ctx, in, size, &buf, PrepareOptions{Limits: opts.Limits,
			Fields: []Field{{Name: SealFieldName, Kind: FieldSignature, Page: 1, Rect: [4]float64{0, 0, 0, 0}}}}); err != nil {
			return err
		}
		base, baseSize = buf.readerAt(), int64(len(buf))
	}
	var signed writerBuffer
	if err := Sign(ctx, base, baseSize, &signed, SignOptions{
		SignatureField: SealFieldName, Signer: opts.Signer, Chain: opts.Chain, Timestamper: opts.Timestamper,
		Appearance: opts.Appearance, Limits: opts.Limits, Logger: opts.Logger,
	}); err != nil {
		return err
	}
	return Extend(ctx, signed.readerAt(), int64(len(signed)), out, ExtendOptions{
		Revocation: opts.Revocation, Certs: opts.Certs, Timestamper: opts.Timestamper, Limits: opts.Limits, Logger: opts.Logger,
	})
}

// appended reads base[0:baseSize] followed by tail, without copying base.
type appended struct {
	base     io.ReaderAt
	baseSize int64
	tail     []byte
}

func (a *appended) size() int64 { return a.baseSize + int64(len(a.tail)) }

func (a *appended) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	if off < a.baseSize {
		m := len(p)
		if int64(m) > a.baseSize-off {
			m = int(a.baseSize - off)
		}
		k, err := a.base.ReadAt(p[:m], off)
		n += k
		if k < m {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		off += int64(k)
	}
	if n == len(p) {
		return n, nil
	}
	t := off - a.baseSize
	if t >= int64(len(a.tail)) {
		return n, io.EOF
	}
	k := copy(p[n:], a.tail[t:])
	n += k
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// writerBuffer is an in-memory io.Writer that can be read back as an io.ReaderAt.
type writerBuffer []byte

func (w *writerBuffer) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

func (w writerBuffer) readerAt() io.ReaderAt { return bytesReaderAt(w) }

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
