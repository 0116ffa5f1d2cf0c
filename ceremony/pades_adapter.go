package ceremony

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/pades"
)

// PAdES is the PDFEngine of the appliance: package pades for validation, preparation,
// B-T signatures and B-LTA, with pdfcpu for page sizes.
type PAdES struct {
	Timestamper pades.Timestamper      // the appliance's TSA
	Revocation  pades.RevocationSource // nil: pades.HTTPRevocation (CRL distribution points, OCSP); the appliance passes its CA's in-process source
	Certs       []*x509.Certificate    // added to the DSS to complete chains (the root)
	Limits      pades.Limits           // zero: pades.DefaultLimits
	Logger      *slog.Logger
	MaxPages    int // zero: 1000
}

// Inspect implements PDFEngine: pades validates the file and digests each page's content;
// pdfcpu reads the page sizes.
func (p PAdES) Inspect(ctx context.Context, pdf []byte) (PDFInfo, error) {
	doc, err := pades.Prepare(ctx, bytes.NewReader(pdf), int64(len(pdf)), io.Discard, pades.PrepareOptions{Limits: p.Limits})
	if err != nil {
		return PDFInfo{}, err
	}
	max := p.MaxPages
	if max == 0 {
		max = 1000
	}
	info, err := InspectPDF(pdf, max)
	if err != nil {
		return PDFInfo{}, err
	}
	if len(info.Pages) != doc.Pages || len(doc.PageDigests) != doc.Pages {
		return PDFInfo{}, fmt.Errorf("the PDF's page count is ambiguous (%d or %d)", doc.Pages, len(info.Pages))
	}
	for i := range info.Pages {
		info.Pages[i].Digest = hex.EncodeToString(doc.PageDigests[i])
	}
	return info, nil
}

// SignatureFieldName is the name of a signer's signature field.
func SignatureFieldName(signer string) string { return "sig-" + signer }

// Prepare implements PDFEngine: every text field, plus one visible signature field per signer,
// in its box when the sender placed one, else in a row at the bottom of the last page.
func (p PAdES) Prepare(ctx context.Context, pdf []byte, fields []Field, signers []string, boxes []SignatureBox) ([]byte, error) {
	info, err := InspectPDF(pdf, 1<<20)
	if err != nil {
		return nil, err
	}
	last := info.Pages[len(info.Pages)-1]
	var pf []pades.Field
	for _, f := range fields {
		pf = append(pf, pades.Field{Name: f.ID, Kind: pades.FieldText, Page: f.Page, Rect: [4]float64{f.Rect.X, f.Rect.Y, f.Rect.X + f.Rect.W, f.Rect.Y + f.Rect.H},
			Required: f.Required, MaxLen: f.MaxLength})
	}
	const w, h, margin = 170.0, 48.0, 24.0
	perRow := max(1, int((last.Width-margin)/(w+8)))
	placed := map[string]SignatureBox{}
	for _, b := range boxes {
		placed[b.Signer] = b
	}
	i := 0 // position in the automatic row, among the signers without a box
	for _, s := range signers {
		if b, ok := placed[s]; ok {
			r := b.Rect
			pf = append(pf, pades.Field{Name: SignatureFieldName(s), Kind: pades.FieldSignature, Page: b.Page, Rect: [4]float64{r.X, r.Y, r.X + r.W, r.Y + r.H}})
			continue
		}
		x := margin + float64(i%perRow)*(w+8)
		y := margin + float64(i/perRow)*(h+8)
		i++
		pf = append(pf, pades.Field{Name: SignatureFieldName(s), Kind: pades.FieldSignature, Page: len(info.Pages), Rect: [4]float64{x, y, x + w, y + h}})
	}
	var out bytes.Buffer
	if _, err := pades.Prepare(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, pades.PrepareOptions{Fields: pf, Limits: p.Limits}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Sign implements PDFEngine.
func (p PAdES) Sign(ctx context.Context, pdf []byte, req SignRequest) ([]byte, error) {
	locale := pades.LocaleFR
	if req.Locale == "en" {
		locale = pades.LocaleEN
	}
	var out bytes.Buffer
	err := pades.Sign(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, pades.SignOptions{
		FieldValues: req.Values, SignatureField: SignatureFieldName(req.Signer), Signer: req.Key,
		Chain: append([]*x509.Certificate{req.Certificate}, req.Chain...), Timestamper: p.Timestamper,
		Appearance: pades.Appearance{Name: req.Name, Reason: req.Reason, Locale: locale}, Limits: p.Limits, Logger: p.Logger})
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Finalize implements PDFEngine: B-LT then B-LTA. The DSS gets revocation data for every
// certificate of every signature and timestamp, from p.Revocation.
func (p PAdES) Finalize(ctx context.Context, pdf []byte) ([]byte, error) {
	var out bytes.Buffer
	err := pades.Extend(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, pades.ExtendOptions{Revocation: p.Revocation, Certs: p.Certs, Timestamper: p.Timestamper, Limits: p.Limits, Logger: p.Logger})
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// CAIssuer adapts the appliance's CA (*ca.CA) to CertificateIssuer. Chain is the issuing CA
// certificate then the root.
type CAIssuer struct {
	CA    *ca.CA
	Chain []*x509.Certificate
}

// IssueSigner implements CertificateIssuer.
func (c CAIssuer) IssueSigner(ctx context.Context, req CertificateRequest) (*x509.Certificate, []*x509.Certificate, error) {
	cert, err := c.CA.IssueSigner(ctx, ca.SignerRequest{Name: req.Name, Email: req.Email, Organization: req.Organization, PublicKey: req.PublicKey,
		Binding: ca.Binding{LeafIndex: req.LeafIndex, LeafHash: req.LeafHash}})
	if err != nil {
		return nil, nil, err
	}
	return cert, c.Chain, nil
}
