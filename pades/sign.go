package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
	"unicode/utf8"
)

// DefaultReservedSize is the number of bytes reserved for the CMS in /Contents when
// SignOptions.ReservedSize is zero: enough for a chain of three certificates and a timestamp
// token that carries its own chain.
const DefaultReservedSize = 16384

// SignOptions describe one signer's signature.
type SignOptions struct {
	// FieldValues fills text fields (by fully qualified name) in the same incremental update
	// as the signature. Values are text: they are never interpreted as PDF syntax.
	FieldValues map[string]string
	// SignatureField is the name of the empty signature field to sign (created by Prepare).
	SignatureField string
	// Signer holds the private key of Chain[0].
	Signer crypto.Signer
	// Chain is the signer's certificate first, then its issuers.
	Chain []*x509.Certificate
	// Timestamper obtains the signature timestamp (PAdES B-T). Required.
	Timestamper Timestamper
	// Appearance is drawn in the signature field's widget.
	Appearance Appearance
	// ReservedSize is the number of bytes reserved for the CMS (DefaultReservedSize if zero).
	ReservedSize int
	// Limits bound the parsing of the input (DefaultLimits() if zero).
	Limits Limits
	// Logger receives one record per signature (slog.Default() if nil).
	Logger *slog.Logger
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Sign appends one incremental update to the PDF in pdf[0:size] and writes the whole signed
// document to out: the field values, then a PAdES B-T signature in the named signature field.
// The input bytes are copied unchanged, so earlier signatures stay valid. Nothing is written
// to out unless signing succeeded up to the final copy.
func Sign(ctx context.Context, pdf io.ReaderAt, size int64, out io.Writer, opts SignOptions) error {
	return sign(ctx, pdf, size, out, opts, nil)
}

// sign is Sign with the certificates to embed in the CMS (opts.Chain when bag is nil).
func sign(ctx context.Context, pdf io.ReaderAt, size int64, out io.Writer, opts SignOptions, bag []*x509.Certificate) error {
	if err := checkSignerOptions(opts.Signer, opts.Chain, opts.Timestamper); err != nil {
		return err
	}
	d, err := openDocument(pdf, size, opts.Limits)
	if err != nil {
		return fmt.Errorf("reading the PDF to sign: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	u := newUpdate(d)
	if err := fillFields(d, u, opts.FieldValues); err != nil {
		return err
	}
	sf, err := d.field(opts.SignatureField)
	if err != nil {
		return err
	}
	if sf.ft != "Sig" {
		return fmt.Errorf("form field %q is a /%s field, not a signature field", opts.SignatureField, sf.ft)
	}
	if sf.dict.get("V") != nil {
		return fmt.Errorf("signature field %q is already signed", opts.SignatureField)
	}
	when := now()
	sigDict := pdfDict{
		"Type":      pdfName("Sig"),
		"Filter":    pdfName("Adobe.PPKLite"),
		"SubFilter": pdfName("ETSI.CAdES.detached"),
		"M":         pdfString{b: []byte(pdfDate(when))},
	}
	if opts.Appearance.Name != "" {
		sigDict["Name"] = newTextString(opts.Appearance.Name)
	}
	if opts.Appearance.Reason != "" {
		sigDict["Reason"] = newTextString(opts.Appearance.Reason)
	}
	reserved := opts.ReservedSize
	if reserved <= 0 {
		reserved = DefaultReservedSize
	}
	sigRef := u.add(&sigPlaceholder{dict: sigDict, contents: reserved})
	fd := sf.dict.clone()
	fd["V"] = sigRef
	u.set(sf.ref, fd)
	for _, wr := range sf.widgets {
		wo, err := u.current(wr)
		if err != nil {
			return err
		}
		wd, ok := wo.(pdfDict)
		if !ok {
			return fmt.Errorf("%w: widget %v of %q is not a dictionary", errSyntax, wr, opts.SignatureField)
		}
		wd = wd.clone()
		w, h, err := d.rectOf(wd)
		if err != nil {
			return fmt.Errorf("signature field %q: %w", opts.SignatureField, err)
		}
		if w > 0 && h > 0 {
			ap := u.add(signatureAppearance(opts.Appearance, when, w, h))
			wd["AP"] = pdfDict{"N": ap}
		}
		u.set(wr, wd)
	}
	if err := ensureSigFlags(d, u); err != nil {
		return err
	}
	lay, err := u.serialise(size)
	if err != nil {
		return err
	}
	cms, err := signLayout(ctx, lay, pdf, size, cadesSigner{signer: opts.Signer, chain: opts.Chain, bag: bag, hash: crypto.SHA256}, opts.Timestamper)
	if err != nil {
		return err
	}
	if err := lay.fillContents(cms); err != nil {
		return err
	}
	if err := lay.writeOut(out, pdf, size); err != nil {
		return err
	}
	logger(opts.Logger).LogAttrs(ctx, slog.LevelInfo, "pades: signed",
		slog.String("field", opts.SignatureField), slog.String("subject", opts.Chain[0].Subject.String()),
		slog.Int64("input_bytes", size), slog.Int("cms_bytes", len(cms)))
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

func checkSignerOptions(s crypto.Signer, chain []*x509.Certificate, ts Timestamper) error {
	if s == nil {
		return errors.New("pades: no Signer given")
	}
	if len(chain) == 0 || chain[0] == nil {
		return errors.New("pades: no signer certificate given")
	}
	if ts == nil {
		return errors.New("pades: no Timestamper given (PAdES B-T needs a signature timestamp)")
	}
	if !publicKeysEqual(s.Public(), chain[0].PublicKey) {
		return errors.New("pades: the Signer's key does not match the first certificate of Chain")
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// signLayout fills the ByteRange, hashes it, and returns the CAdES SignedData with its
// signature timestamp.
func signLayout(ctx context.Context, lay *layout, pdf io.ReaderAt, size int64, cs cadesSigner, ts Timestamper) ([]byte, error) {
	if _, err := lay.fillByteRange(size); err != nil {
		return nil, err
	}
	h := cs.hash.New()
	if err := lay.hashRanges(h, pdf, size); err != nil {
		return nil, err
	}
	attrs := cs.signedAttributes(h.Sum(nil))
	sig, err := cs.sign(attrs)
	if err != nil {
		return nil, err
	}
	sh := crypto.SHA256.New()
	sh.Write(sig)
	digest := sh.Sum(nil)
	token, err := ts.Timestamp(ctx, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("obtaining the signature timestamp: %w", err)
	}
	if err := checkToken(token, digest); err != nil {
		return nil, fmt.Errorf("the timestamper returned an unusable token: %w", err)
	}
	return cs.assemble(attrs, sig, token)
}

// fillFields sets /V and a fresh appearance for each named text field.
func fillFields(d *document, u *update, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	fs, err := d.formFields()
	if err != nil {
		return err
	}
	byName := map[string]*formField{}
	for i := range fs {
		byName[fs[i].name] = &fs[i]
	}
	for name, value := range values {
		f, ok := byName[name]
		if !ok {
			return fmt.Errorf("the document has no form field named %q", name)
		}
		if f.ft != "Tx" {
			return fmt.Errorf("form field %q is a /%s field, not a text field", name, f.ft)
		}
		if !utf8.ValidString(value) {
			return fmt.Errorf("the value of field %q is not valid UTF-8", name)
		}
		if ml, ok := intOf(d.dict(f.ref).get("MaxLen")); ok && int64(utf8.RuneCountInString(value)) > ml {
			return fmt.Errorf("the value of field %q has %d characters, more than its maximum of %d", name, utf8.RuneCountInString(value), ml)
		}
		if ff, _ := intOf(f.dict.get("Ff")); ff&1 != 0 {
			return fmt.Errorf("form field %q is read-only", name)
		}
		fd := f.dict.clone()
		fd["V"] = newTextString(value)
		u.set(f.ref, fd)
		for _, wr := range f.widgets {
			wo, err := u.current(wr)
			if err != nil {
				return err
			}
			wd, ok := wo.(pdfDict)
			if !ok {
				return fmt.Errorf("%w: widget %v of %q is not a dictionary", errSyntax, wr, name)
			}
			wd = wd.clone()
			w, h, err := d.rectOf(wd)
			if err != nil {
				return fmt.Errorf("field %q: %w", name, err)
			}
			ap := u.add(textFieldAppearance(value, w, h))
			wd["AP"] = pdfDict{"N": ap}
			u.set(wr, wd)
		}
	}
	return nil
}

// ensureSigFlags sets /SigFlags 3 (signatures exist, append only) on the AcroForm.
func ensureSigFlags(d *document, u *update) error {
	cat, err := d.catalog()
	if err != nil {
		return err
	}
	switch af := cat.get("AcroForm").(type) {
	case pdfRef:
		cur, err := u.current(af)
		if err != nil {
			return err
		}
		ad, ok := cur.(pdfDict)
		if !ok {
			return fmt.Errorf("%w: /AcroForm is not a dictionary", errSyntax)
		}
		if f, _ := intOf(ad.get("SigFlags")); f != 3 {
			ad = ad.clone()
			ad["SigFlags"] = int64(3)
			u.set(af, ad)
		}
	case pdfDict:
		if f, _ := intOf(af.get("SigFlags")); f != 3 {
			c := cat.clone()
			a := af.clone()
			a["SigFlags"] = int64(3)
			c["AcroForm"] = a
			u.set(d.rootRef(), c)
		}
	default:
		return errors.New("the document has no /AcroForm; prepare it first")
	}
	return nil
}

func pdfDate(t time.Time) string {
	return t.UTC().Format("D:20060102150405") + "+00'00'"
}

// checkToken parses a TimeStampToken and checks that it timestamps digest.
func checkToken(token, digest []byte) error {
	sd, err := parseSignedDataCerts(token, false)
	if err != nil {
		return err
	}
	if !sd.eContentType.Equal(oidTSTInfo) || !sd.hasEContent {
		return errors.New("the token does not contain a TSTInfo")
	}
	info, err := parseTSTInfo(sd.eContent)
	if err != nil {
		return err
	}
	if !bytes.Equal(info.imprint, digest) {
		return errors.New("the token's message imprint is not the requested digest")
	}
	return nil
}
