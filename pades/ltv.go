package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"golang.org/x/crypto/ocsp"
)

// RevocationSource provides revocation data for a certificate issued by issuer: DER CRLs and
// DER OCSP responses. An error means no usable data could be obtained.
type RevocationSource interface {
	Revocation(ctx context.Context, cert, issuer *x509.Certificate) (crls, ocsps [][]byte, err error)
}

// HTTPRevocation fetches CRLs from the certificate's CRL distribution points and OCSP
// responses from its OCSP servers. It succeeds when at least one of them answers, and returns
// nothing (and no error) for a certificate that names no location, such as a CA certificate
// under a root that publishes no CRL.
type HTTPRevocation struct {
	Client *http.Client // http.DefaultClient if nil; the context bounds each request
}

const maxRevocationBytes = 16 << 20

// Revocation implements RevocationSource.
func (h HTTPRevocation) Revocation(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, [][]byte, error) {
	c := h.Client
	if c == nil {
		c = http.DefaultClient
	}
	var crls, ocsps [][]byte
	var errs []error
	for _, u := range cert.CRLDistributionPoints {
		b, err := httpFetch(ctx, c, http.MethodGet, u, "", nil)
		if err == nil {
			if _, err = x509.ParseRevocationList(b); err == nil {
				crls = append(crls, b)
				continue
			}
		}
		errs = append(errs, fmt.Errorf("CRL %s: %w", u, err))
	}
	if len(cert.OCSPServer) > 0 {
		req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
		if err != nil {
			return nil, nil, fmt.Errorf("building the OCSP request for %s: %w", cert.Subject, err)
		}
		for _, u := range cert.OCSPServer {
			b, err := httpFetch(ctx, c, http.MethodPost, u, "application/ocsp-request", req)
			if err == nil {
				if _, err = ocsp.ParseResponseForCert(b, cert, issuer); err == nil {
					ocsps = append(ocsps, b)
					continue
				}
			}
			errs = append(errs, fmt.Errorf("OCSP %s: %w", u, err))
		}
	}
	if len(crls)+len(ocsps) == 0 && len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return crls, ocsps, nil
}

func httpFetch(ctx context.Context, c *http.Client, method, url, ctype string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRevocationBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRevocationBytes {
		return nil, fmt.Errorf("response larger than %d bytes", maxRevocationBytes)
	}
	return b, nil
}

// LTVOptions configure AddLTV.
type LTVOptions struct {
	Revocation RevocationSource // HTTPRevocation{} if nil
	// Certs are added to the DSS and used to complete chains (typically the root).
	Certs  []*x509.Certificate
	Limits Limits
	Logger *slog.Logger
}

// AddLTV appends a DSS (PAdES B-LT) with the certificates, CRLs and OCSP responses needed to
// validate every signature and timestamp in the PDF, and writes the whole document to out.
func AddLTV(ctx context.Context, pdf io.ReaderAt, size int64, out io.Writer, opts LTVOptions) error {
	lay, err := ltvUpdate(ctx, pdf, size, opts)
	if err != nil {
		return err
	}
	return lay.writeOut(out, pdf, size)
}

// signatureRef is a signed signature field and its signature dictionary.
type signatureRef struct {
	field formField
	ref   pdfRef
	dict  pdfDict
}

func (d *document) signatures() ([]signatureRef, error) {
	fs, err := d.formFields()
	if err != nil {
		return nil, err
	}
	var out []signatureRef
	for _, f := range fs {
		if f.ft != "Sig" {
			continue
		}
		v := f.dict.get("V")
		if v == nil {
			continue
		}
		r, ok := v.(pdfRef)
		if !ok {
			return nil, fmt.Errorf("%w: signature field %q has a direct /V (signature dictionaries must be indirect)", errSyntax, f.name)
		}
		sd := d.dict(r)
		if sd == nil {
			return nil, fmt.Errorf("%w: the /V of signature field %q is not a dictionary", errSyntax, f.name)
		}
		out = append(out, signatureRef{field: f, ref: r, dict: sd})
	}
	return out, nil
}

// certsOfSignature returns the certificates of a signature and of its timestamp tokens.
func certsOfSignature(sd pdfDict) ([]*x509.Certificate, error) {
	c, ok := sd.get("Contents").(pdfString)
	if !ok {
		return nil, errors.New("no /Contents")
	}
	cms, err := parseSignedData(c.b)
	if err != nil {
		return nil, err
	}
	certs := append([]*x509.Certificate(nil), cms.certs...)
	for _, tok := range cms.signer.unsigned[oidAttrTimeStampToken.String()] {
		if t, err := parseSignedData(tok); err == nil {
			certs = append(certs, t.certs...)
		}
	}
	return certs, nil
}

func ltvUpdate(ctx context.Context, pdf io.ReaderAt, size int64, opts LTVOptions) (*layout, error) {
	d, err := openDocument(pdf, size, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading the PDF to extend: %w", err)
	}
	sigs, err := d.signatures()
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, errors.New("the PDF has no signature to extend")
	}
	src := opts.Revocation
	if src == nil {
		src = HTTPRevocation{}
	}
	var certs []*x509.Certificate
	seen := map[[32]byte]bool{}
	addCert := func(c *x509.Certificate) {
		k := sha256.Sum256(c.Raw)
		if !seen[k] {
			seen[k] = true
			certs = append(certs, c)
		}
	}
	for _, s := range sigs {
		cs, err := certsOfSignature(s.dict)
		if err != nil {
			return nil, fmt.Errorf("signature %q: %w", s.field.name, err)
		}
		for _, c := range cs {
			addCert(c)
		}
	}
	for _, c := range opts.Certs {
		addCert(c)
	}
	dss := newDSSBuilder(d)
	for _, c := range certs {
		dss.addCert(c.Raw)
		if isSelfSigned(c) {
			continue
		}
		issuer := findIssuer(c, certs)
		if issuer == nil {
			return nil, fmt.Errorf("no issuer found for %s: pass it in LTVOptions.Certs", c.Subject)
		}
		crls, ocsps, err := src.Revocation(ctx, c, issuer)
		if err != nil {
			return nil, fmt.Errorf("revocation data for %s: %w", c.Subject, err)
		}
		for _, b := range crls {
			dss.addCRL(b)
		}
		for _, b := range ocsps {
			dss.addOCSP(b)
		}
	}
	u := newUpdate(d)
	if err := dss.write(u); err != nil {
		return nil, err
	}
	logger(opts.Logger).LogAttrs(ctx, slog.LevelInfo, "pades: added DSS",
		slog.Int("certs", len(dss.certs)), slog.Int("crls", len(dss.crls)), slog.Int("ocsps", len(dss.ocsps)))
	return u.serialise(size)
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func findIssuer(c *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	for _, p := range pool {
		if bytes.Equal(p.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

// dssBuilder merges new validation data into the existing DSS, without duplicates.
type dssBuilder struct {
	d                  *document
	certs, crls, ocsps []any
	seen               map[[32]byte]bool
	fresh              [][3]any // kind, data
}

func newDSSBuilder(d *document) *dssBuilder {
	b := &dssBuilder{d: d, seen: map[[32]byte]bool{}}
	cat, _ := d.catalog()
	old := d.dict(cat.get("DSS"))
	load := func(key pdfName) []any {
		var out []any
		for _, r := range d.array(old.get(key)) {
			out = append(out, r)
			if o, err := d.resolve(r); err == nil {
				if s, ok := o.(*pdfStream); ok {
					if data, err := d.decodeStream(s); err == nil {
						b.seen[sha256.Sum256(data)] = true
					}
				}
			}
		}
		return out
	}
	b.certs, b.crls, b.ocsps = load("Certs"), load("CRLs"), load("OCSPs")
	return b
}

func (b *dssBuilder) add(kind string, data []byte) {
	k := sha256.Sum256(data)
	if b.seen[k] {
		return
	}
	b.seen[k] = true
	b.fresh = append(b.fresh, [3]any{kind, data})
}

func (b *dssBuilder) addCert(der []byte) { b.add("Certs", der) }
func (b *dssBuilder) addCRL(der []byte)  { b.add("CRLs", der) }
func (b *dssBuilder) addOCSP(der []byte) { b.add("OCSPs", der) }

// write adds the streams, the DSS dictionary and the catalog entries to u.
func (b *dssBuilder) write(u *update) error {
	for _, f := range b.fresh {
		data := f[1].([]byte)
		ref := u.add(&pdfStream{dict: pdfDict{}, data: data})
		switch f[0].(string) {
		case "Certs":
			b.certs = append(b.certs, ref)
		case "CRLs":
			b.crls = append(b.crls, ref)
		case "OCSPs":
			b.ocsps = append(b.ocsps, ref)
		}
	}
	dss := pdfDict{"Type": pdfName("DSS")}
	if len(b.certs) > 0 {
		dss["Certs"] = b.certs
	}
	if len(b.crls) > 0 {
		dss["CRLs"] = b.crls
	}
	if len(b.ocsps) > 0 {
		dss["OCSPs"] = b.ocsps
	}
	dssRef := u.add(dss)
	cat, err := b.d.catalog()
	if err != nil {
		return err
	}
	c := cat.clone()
	c["DSS"] = dssRef
	ext := b.d.dict(c.get("Extensions")).clone()
	ext["ESIC"] = pdfDict{"BaseVersion": pdfName("1.7"), "ExtensionLevel": int64(2)}
	c["Extensions"] = ext
	u.set(b.d.rootRef(), c)
	return nil
}
