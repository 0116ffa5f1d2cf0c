package ceremonytest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/paraphe/paraphe/ceremony"
)

// PDF is a ceremony.PDFEngine for tests. Inspect is the real one (pdfcpu). Prepare returns the
// PDF unchanged. Sign appends a comment line holding the signer's certificate and an ECDSA
// signature over every byte before it and the field values; Finalize appends a final marker.
// VerifySignatures checks what Sign wrote. It stands in for pades until that is wired in.
type PDF struct{}

const sigMarker = "\n%ParapheTestSignature "

// Inspect implements ceremony.PDFEngine.
func (PDF) Inspect(_ context.Context, b []byte) (ceremony.PDFInfo, error) {
	return ceremony.InspectPDF(b, 1000)
}

// Prepare implements ceremony.PDFEngine.
func (PDF) Prepare(_ context.Context, b []byte, _ []ceremony.Field, _ []string, _ []ceremony.SignatureBox) ([]byte, error) {
	return bytes.Clone(b), nil
}

type sigLine struct {
	Signer string            `json:"signer"`
	Values map[string]string `json:"values"`
	Cert   []byte            `json:"cert"`
	Sig    []byte            `json:"sig"`
}

func signedDigest(prefix []byte, signer string, values map[string]string) []byte {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	h.Write(prefix)
	h.Write([]byte(signer))
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s\x00%s", k, values[k])
	}
	return h.Sum(nil)
}

// Sign implements ceremony.PDFEngine.
func (PDF) Sign(_ context.Context, b []byte, req ceremony.SignRequest) ([]byte, error) {
	sig, err := req.Key.Sign(rand.Reader, signedDigest(b, req.Signer, req.Values), crypto.SHA256)
	if err != nil {
		return nil, err
	}
	line, _ := json.Marshal(sigLine{Signer: req.Signer, Values: req.Values, Cert: req.Certificate.Raw, Sig: sig})
	out := append(bytes.Clone(b), sigMarker...)
	out = append(out, base64.StdEncoding.EncodeToString(line)...)
	return append(out, '\n'), nil
}

// Finalize implements ceremony.PDFEngine.
func (PDF) Finalize(_ context.Context, b []byte) ([]byte, error) {
	return append(bytes.Clone(b), "\n%ParapheTestFinal\n"...), nil
}

// Signature is one signature found by VerifySignatures.
type Signature struct {
	Signer string
	Values map[string]string
	Cert   *x509.Certificate
}

// VerifySignatures checks every signature Sign appended, in order, against the bytes before it
// and the CA's issuing certificate.
func VerifySignatures(b []byte, ca *CA) ([]Signature, bool, error) {
	final := bytes.HasSuffix(b, []byte("\n%ParapheTestFinal\n"))
	parts := strings.Split(string(b), sigMarker)
	var out []Signature
	prefix := parts[0]
	for _, p := range parts[1:] {
		enc, _, _ := strings.Cut(p, "\n")
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, false, fmt.Errorf("signature %d: %w", len(out)+1, err)
		}
		var sl sigLine
		if err := json.Unmarshal(raw, &sl); err != nil {
			return nil, false, err
		}
		cert, err := x509.ParseCertificate(sl.Cert)
		if err != nil {
			return nil, false, err
		}
		if err := cert.CheckSignatureFrom(ca.Issuing); err != nil {
			return nil, false, fmt.Errorf("signature %d: certificate not from the CA: %w", len(out)+1, err)
		}
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || !ecdsa.VerifyASN1(pub, signedDigest([]byte(prefix), sl.Signer, sl.Values), sl.Sig) {
			return nil, false, fmt.Errorf("signature %d of %s does not verify", len(out)+1, sl.Signer)
		}
		out = append(out, Signature{Signer: sl.Signer, Values: sl.Values, Cert: cert})
		prefix += sigMarker + enc + "\n"
		if strings.HasPrefix(p[len(enc)+1:], "\n%ParapheTestFinal") {
			break
		}
	}
	return out, final, nil
}

// MinimalPDF returns a valid PDF with n A4 pages, each showing a line of text.
func MinimalPDF(n int, text string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	kids := make([]string, n)
	for i := range n {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i := range n {
		content := fmt.Sprintf("BT /F1 14 Tf 72 770 Td (%s - page %d) Tj ET", text, i+1)
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}
