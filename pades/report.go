package pades

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the result of Verify for one PDF.
type Report struct {
	Size       int64             `json:"size"`
	Version    string            `json:"pdf_version"`
	Pages      int               `json:"pages"`
	Revisions  int               `json:"revisions"`
	Signatures []SignatureReport `json:"signatures"`
	DSS        *DSSReport        `json:"dss,omitempty"`
	// Level is the PAdES baseline level that every signature reaches: B-B, B-T, B-LT or B-LTA
	// (empty when there is no valid signature).
	Level    string   `json:"level"`
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems,omitempty"`
}

// SignatureReport describes one signature or document timestamp.
type SignatureReport struct {
	Field     string  `json:"field"`
	Kind      string  `json:"kind"` // "signature" or "document-timestamp"
	SubFilter string  `json:"sub_filter"`
	ByteRange []int64 `json:"byte_range"`
	// RevisionEnd is the end of the revision the signature covers; CoversWholeDocument says
	// whether that is the end of the file.
	RevisionEnd         int64 `json:"revision_end"`
	CoversWholeDocument bool  `json:"covers_whole_document"`
	DigestValid         bool  `json:"digest_valid"`
	SignatureValid      bool  `json:"signature_valid"`
	// SigningCertificateBound says that signingCertificateV2 names the certificate that
	// produced the signature.
	SigningCertificateBound bool             `json:"signing_certificate_bound"`
	Signer                  *CertificateInfo `json:"signer,omitempty"`
	ChainTrusted            bool             `json:"chain_trusted"`
	Chain                   []string         `json:"chain,omitempty"`
	Timestamp               *TimestampReport `json:"timestamp,omitempty"`
	Revocation              string           `json:"revocation,omitempty"`
	Changes                 []Change         `json:"changes_after,omitempty"`
	DisallowedChanges       int              `json:"disallowed_changes"`
	Valid                   bool             `json:"valid"`
	Problems                []string         `json:"problems,omitempty"`
}

// CertificateInfo identifies a certificate.
type CertificateInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// TimestampReport describes a signature timestamp or a document timestamp token.
type TimestampReport struct {
	Time     time.Time `json:"time"`
	TSA      string    `json:"tsa,omitempty"`
	Valid    bool      `json:"valid"`
	Trusted  bool      `json:"trusted"`
	Problems []string  `json:"problems,omitempty"`
}

// Change is one object changed by a revision appended after a signature.
type Change struct {
	Object  int    `json:"object"`
	What    string `json:"what"`
	Allowed bool   `json:"allowed"`
}

// DSSReport counts the validation data of the document security store.
type DSSReport struct {
	Certs int `json:"certs"`
	CRLs  int `json:"crls"`
	OCSPs int `json:"ocsps"`
}

// WriteText writes a human-readable form of r, naming the file as name.
func (r *Report) WriteText(w io.Writer, name string) {
	status := "INVALID"
	if r.Valid {
		status = "VALID"
	}
	fmt.Fprintf(w, "%s: %s", name, status)
	if r.Level != "" {
		fmt.Fprintf(w, " (PAdES %s)", r.Level)
	}
	fmt.Fprintf(w, "\n  PDF %s, %d pages, %d bytes, %d revisions\n", r.Version, r.Pages, r.Size, r.Revisions)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	if r.DSS != nil {
		fmt.Fprintf(w, "  DSS: %d certificates, %d CRLs, %d OCSP responses\n", r.DSS.Certs, r.DSS.CRLs, r.DSS.OCSPs)
	}
	for i, s := range r.Signatures {
		v := "invalid"
		if s.Valid {
			v = "valid"
		}
		fmt.Fprintf(w, "  #%d %s %q (%s): %s\n", i+1, s.Kind, s.Field, s.SubFilter, v)
		if s.Signer != nil {
			fmt.Fprintf(w, "     signer: %s (issuer %s)\n", s.Signer.Subject, s.Signer.Issuer)
		}
		cover := "part of the document"
		if s.CoversWholeDocument {
			cover = "the whole document"
		}
		fmt.Fprintf(w, "     covers %s: ByteRange %v\n", cover, s.ByteRange)
		if s.Kind == "document-timestamp" {
			fmt.Fprintf(w, "     digest %s, token signature %s, TSA chain %s\n", yes(s.DigestValid), yes(s.SignatureValid), yes(s.ChainTrusted))
		} else {
			fmt.Fprintf(w, "     digest %s, signature %s, signing certificate bound %s, chain %s\n",
				yes(s.DigestValid), yes(s.SignatureValid), yes(s.SigningCertificateBound), yes(s.ChainTrusted))
		}
		if len(s.Chain) > 0 {
			fmt.Fprintf(w, "     chain: %s\n", strings.Join(s.Chain, " <- "))
		}
		if t := s.Timestamp; t != nil {
			fmt.Fprintf(w, "     timestamp: %s by %s, valid %s, trusted %s\n", t.Time.UTC().Format(time.RFC3339), t.TSA, yes(t.Valid), yes(t.Trusted))
			for _, p := range t.Problems {
				fmt.Fprintf(w, "       problem: %s\n", p)
			}
		}
		if s.Revocation != "" {
			fmt.Fprintf(w, "     revocation: %s\n", s.Revocation)
		}
		if n := len(s.Changes); n > 0 {
			fmt.Fprintf(w, "     later changes: %d objects, %d disallowed\n", n, s.DisallowedChanges)
			for _, c := range s.Changes {
				if !c.Allowed {
					fmt.Fprintf(w, "       DISALLOWED object %d: %s\n", c.Object, c.What)
				}
			}
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "     problem: %s\n", p)
		}
	}
}

func yes(b bool) string {
	if b {
		return "ok"
	}
	return "FAILED"
}
