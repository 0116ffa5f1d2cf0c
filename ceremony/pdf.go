package ceremony

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// PDFInfo describes a valid PDF: one entry per page.
type PDFInfo struct {
	Pages []Page
}

// SignRequest is one signer's signature over one document: the values of the signer's fields
// and the key and certificate that exist only for this signing act.
type SignRequest struct {
	Signer      string            // signer id; the signature field is named "sig-" + Signer
	Name        string            // signer's name, for the signature dictionary
	Locale      string            // fr or en, for the visible signature
	Reason      string            // a line shown in the signature, e.g. the otp.verified leaf
	Values      map[string]string // field id → value, for this signer's fields in the document
	Key         crypto.Signer
	Certificate *x509.Certificate
	Chain       []*x509.Certificate // issuing CA up to the root
}

// PDFEngine is what the ceremony needs from the PAdES package.
type PDFEngine interface {
	// Inspect validates pdf and describes its pages. It fails on anything that is not a
	// readable PDF.
	Inspect(ctx context.Context, pdf []byte) (PDFInfo, error)
	// Prepare adds every signer's text fields and one signature field per signer ("sig-"+id) in
	// one rewrite, before any signature: where boxes places it, else in an automatic row at the
	// bottom of the last page.
	Prepare(ctx context.Context, pdf []byte, fields []Field, signers []string, boxes []SignatureBox) ([]byte, error)
	// Sign adds one incremental update: field values, a CAdES signature and its timestamp.
	Sign(ctx context.Context, pdf []byte, req SignRequest) ([]byte, error)
	// Finalize adds validation data and an archive timestamp (B-LT then B-LTA) after the last
	// signature.
	Finalize(ctx context.Context, pdf []byte) ([]byte, error)
}

// InspectPDF validates pdf with pdfcpu and returns its pages: the media box size and a digest
// of each page (SHA-256 over the page number, its size and its decoded content streams). It
// refuses files with more than maxPages pages.
func InspectPDF(pdf []byte, maxPages int) (info PDFInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("not a readable PDF: %v", r)
		}
	}()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return PDFInfo{}, fmt.Errorf("not a PDF: the file does not start with %%PDF-")
	}
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := api.ReadAndValidate(bytes.NewReader(pdf), conf)
	if err != nil {
		return PDFInfo{}, fmt.Errorf("not a readable PDF: %w", err)
	}
	if ctx.PageCount < 1 {
		return PDFInfo{}, fmt.Errorf("the PDF has no pages")
	}
	if ctx.PageCount > maxPages {
		return PDFInfo{}, fmt.Errorf("the PDF has %d pages; at most %d are accepted", ctx.PageCount, maxPages)
	}
	if ctx.Encrypt != nil {
		return PDFInfo{}, fmt.Errorf("the PDF is encrypted")
	}
	dims, err := ctx.PageDims()
	if err != nil || len(dims) != ctx.PageCount {
		return PDFInfo{}, fmt.Errorf("the PDF's page sizes cannot be read: %v", err)
	}
	for i := 1; i <= ctx.PageCount; i++ {
		d, _, _, err := ctx.PageDict(i, false)
		if err != nil || d == nil {
			return PDFInfo{}, fmt.Errorf("page %d cannot be read: %v", i, err)
		}
		content, err := ctx.PageContent(d, i)
		if err != nil {
			content = nil // a page without content streams is blank, not invalid
		}
		h := sha256.New()
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(i))
		h.Write(buf[:])
		binary.BigEndian.PutUint64(buf[:], math.Float64bits(dims[i-1].Width))
		h.Write(buf[:])
		binary.BigEndian.PutUint64(buf[:], math.Float64bits(dims[i-1].Height))
		h.Write(buf[:])
		h.Write(content)
		info.Pages = append(info.Pages, Page{Width: dims[i-1].Width, Height: dims[i-1].Height, Digest: hex.EncodeToString(h.Sum(nil))})
	}
	return info, nil
}
