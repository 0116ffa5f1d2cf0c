package evidence

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/paraphe/paraphe/ledger/verify"
	"github.com/paraphe/paraphe/pades"
	"github.com/paraphe/paraphe/tsa"
)

// Ledger is what the builder needs from the ledger: its latest checkpoint and inclusion
// proofs against it.
type Ledger interface {
	// Checkpoint returns the latest signed checkpoint note and its RFC 3161 token over the
	// SHA-256 of the note's text (nil when the ledger has no timestamper).
	Checkpoint(ctx context.Context) (note, token []byte, err error)
	// InclusionProof returns the inclusion proof of index in the tree of the given size.
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	// VerifierKey is the checkpoint verifier key; Origin the checkpoint origin.
	VerifierKey() string
	Origin() string
}

// Timestamper obtains an RFC 3161 token over a digest (the appliance's TSA).
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error)
}

// Builder assembles bundles. Every field but Revocation and Now is required.
type Builder struct {
	Ledger Ledger
	// Chain is the signers' issuing CA then the root; TSAChain the TSA certificate then its
	// issuers; SealChain the platform seal certificate then its issuers.
	Chain, TSAChain, SealChain []*x509.Certificate
	// Seal applies the platform seal (PAdES B-LTA) to the rendered report.
	Seal func(ctx context.Context, pdf []byte) ([]byte, error)
	// Timestamper stamps the checkpoint when the ledger published it without a token.
	Timestamper Timestamper
	// Revocation fetches CRLs and OCSP responses for each signer certificate; nil: none are
	// added (the signed PDFs' DSS still carries them).
	Revocation pades.RevocationSource
	Now        func() time.Time
}

// Input is an envelope as the ceremony knows it.
type Input struct {
	Scope       string // ScopeEnvelope or ScopeSigner
	ScopeSigner string
	Envelope    EnvelopeInfo
	Documents   []InputDocument
	Signers     []InputSigner
	Salt        []byte
	// Leaves are the envelope's ledger leaves with their indexes, in any order.
	Leaves []InputLeaf
}

// InputDocument is a document and, once signed, its final PDF.
type InputDocument struct {
	Info DocumentInfo // File and Final are filled by Build
	PDF  []byte
}

// InputSigner is a party and the certificate issued to them, if any.
type InputSigner struct {
	Info        SignerInfo // Certificate is filled by Build
	Certificate []byte     // DER
}

// InputLeaf is one leaf and its index.
type InputLeaf struct {
	Index uint64
	Leaf  []byte
}

// Build assembles, seals and encodes the bundle of in.
func (bl *Builder) Build(ctx context.Context, in *Input) ([]byte, error) {
	switch {
	case bl.Ledger == nil || bl.Seal == nil || len(bl.Chain) == 0 || len(bl.TSAChain) == 0 || len(bl.SealChain) == 0:
		return nil, errors.New("evidence: builder lacks its ledger, seal or certificate chains")
	case in.Scope != ScopeEnvelope && in.Scope != ScopeSigner:
		return nil, fmt.Errorf("evidence: unknown scope %q", in.Scope)
	}
	now := time.Now
	if bl.Now != nil {
		now = bl.Now
	}
	b := &Bundle{Files: map[string][]byte{}}
	m := &b.Manifest
	m.Format, m.ReportFormat, m.GeneratedAt = Format, ReportFormat, now().UTC().Truncate(time.Second)
	m.Scope, m.ScopeSigner = in.Scope, in.ScopeSigner
	m.Envelope = in.Envelope
	m.Salt = hex.EncodeToString(in.Salt)

	if err := bl.addLedger(ctx, b, in.Leaves); err != nil {
		return nil, err
	}
	b.Files[ChainPath] = pemChain(bl.Chain)
	b.Files[TSAPath] = pemChain(bl.TSAChain)
	b.Files[SealPath] = pemChain(bl.SealChain)
	roots := x509.NewCertPool()
	roots.AddCert(bl.Chain[len(bl.Chain)-1])

	certs := map[string]*x509.Certificate{}
	for i, s := range in.Signers {
		info := s.Info
		if s.Certificate != nil {
			cert, err := x509.ParseCertificate(s.Certificate)
			if err != nil {
				return nil, fmt.Errorf("evidence: certificate of signer %s: %w", info.ID, err)
			}
			certs[info.ID] = cert
			info.Certificate = CertificatePath(i)
			b.Files[info.Certificate] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate})
			if err := bl.addRevocation(ctx, b, info.ID, cert); err != nil {
				return nil, err
			}
		}
		m.Signers = append(m.Signers, info)
	}
	for i, d := range in.Documents {
		info := d.Info
		if d.PDF != nil {
			info.File = DocumentPath(i)
			info.Final = digest(d.PDF)
			b.Files[info.File] = d.PDF
			ts, err := signatureTimes(ctx, d.PDF, roots, info.ID, certs)
			if err != nil {
				return nil, fmt.Errorf("evidence: document %s: %w", info.ID, err)
			}
			m.Timestamps = append(m.Timestamps, ts...)
		}
		m.Documents = append(m.Documents, info)
	}

	report, err := RenderReport(b)
	if err != nil {
		return nil, err
	}
	sealed, err := bl.Seal(ctx, report)
	if err != nil {
		return nil, fmt.Errorf("evidence: sealing the report: %w", err)
	}
	if !bytes.HasPrefix(sealed, report) {
		return nil, errors.New("evidence: the seal rewrote the report instead of appending to it")
	}
	b.Files[ReportPath] = sealed
	return b.Marshal()
}

// addLedger adds the checkpoint (stamped if the ledger did not), its key and every leaf with
// its inclusion proof to that one checkpoint.
func (bl *Builder) addLedger(ctx context.Context, b *Bundle, leaves []InputLeaf) error {
	m := &b.Manifest
	signed, token, err := bl.Ledger.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("evidence: ledger checkpoint: %w", err)
	}
	v, err := verify.NewVerifier(bl.Ledger.VerifierKey())
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	cp, err := verify.OpenCheckpoint(signed, v, bl.Ledger.Origin())
	if err != nil {
		return fmt.Errorf("evidence: ledger checkpoint: %w", err)
	}
	text := sha256.Sum256([]byte(cp.Text()))
	if len(token) == 0 {
		if bl.Timestamper == nil {
			return errors.New("evidence: the checkpoint has no timestamp and the builder no timestamper")
		}
		if token, err = bl.Timestamper.Timestamp(ctx, text[:], crypto.SHA256); err != nil {
			return fmt.Errorf("evidence: timestamping the checkpoint: %w", err)
		}
	}
	tsaRoots := x509.NewCertPool()
	tsaRoots.AddCert(bl.TSAChain[len(bl.TSAChain)-1])
	tok, err := tsa.VerifyToken(token, text[:], crypto.SHA256, tsaRoots, certPool(bl.TSAChain))
	if err != nil {
		return fmt.Errorf("evidence: the checkpoint's timestamp: %w", err)
	}
	m.Timestamps = append(m.Timestamps, TimestampInfo{Kind: "checkpoint", Time: tok.Time.UTC(), TSA: tsaName(tok.Certificates)})
	m.Ledger = LedgerInfo{Origin: cp.Origin, Key: bl.Ledger.VerifierKey(), Size: cp.Size, Root: hex.EncodeToString(cp.Hash)}
	b.Files[CheckpointPath] = signed
	b.Files[CheckpointTokenPath] = token
	b.Files[LedgerKeyPath] = []byte(bl.Ledger.VerifierKey() + "\n")
	sorted := append([]InputLeaf(nil), leaves...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Index < sorted[j].Index })
	for _, l := range sorted {
		if l.Index >= cp.Size {
			return fmt.Errorf("evidence: leaf %d is not covered by the latest checkpoint (size %d) yet", l.Index, cp.Size)
		}
		proof, err := bl.Ledger.InclusionProof(ctx, l.Index, cp.Size)
		if err != nil {
			return fmt.Errorf("evidence: inclusion proof of leaf %d: %w", l.Index, err)
		}
		if err := verify.Inclusion(cp, l.Index, verify.LeafHash(l.Leaf), proof); err != nil {
			return fmt.Errorf("evidence: leaf %d does not match the ledger: %w", l.Index, err)
		}
		hs := make([]string, len(proof))
		for i, h := range proof {
			hs[i] = hex.EncodeToString(h)
		}
		m.Leaves = append(m.Leaves, Leaf{Index: l.Index, Leaf: string(l.Leaf), Proof: hs})
	}
	return nil
}

func (bl *Builder) addRevocation(ctx context.Context, b *Bundle, signer string, cert *x509.Certificate) error {
	if bl.Revocation == nil {
		return nil
	}
	crls, ocsps, err := bl.Revocation.Revocation(ctx, cert, bl.Chain[0])
	if err != nil {
		return fmt.Errorf("evidence: revocation data of signer %s: %w", signer, err)
	}
	m := &b.Manifest
	for _, c := range crls {
		name := revocationDir + digest(c)[:16] + ".crl"
		if _, dup := b.Files[name]; !dup {
			b.Files[name] = c
			m.Revocation = append(m.Revocation, RevocationInfo{Kind: "crl", File: name})
		}
	}
	for _, o := range ocsps {
		name := revocationDir + digest(o)[:16] + ".ocsp"
		b.Files[name] = o
		m.Revocation = append(m.Revocation, RevocationInfo{Kind: "ocsp", File: name, Signer: signer})
	}
	return nil
}

// signatureTimes lists the signature timestamps of a signed PDF, attributed to signers by
// their certificates' serial numbers.
func signatureTimes(ctx context.Context, pdf []byte, roots *x509.CertPool, doc string, certs map[string]*x509.Certificate) ([]TimestampInfo, error) {
	rep, err := pades.Verify(ctx, bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{Roots: roots})
	if err != nil {
		return nil, err
	}
	var out []TimestampInfo
	for _, s := range rep.Signatures {
		if s.Kind != "signature" || s.Signer == nil || s.Timestamp == nil {
			continue
		}
		for id, c := range certs {
			if c.SerialNumber.Text(16) == s.Signer.Serial {
				out = append(out, TimestampInfo{Kind: "signature", Document: doc, Signer: id, Time: s.Timestamp.Time.UTC(), TSA: s.Timestamp.TSA})
			}
		}
	}
	return out, nil
}

func pemChain(cs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range cs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func certPool(cs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c)
	}
	return p
}

func tsaName(cs []*x509.Certificate) string {
	for _, c := range cs {
		if !c.IsCA {
			return c.Subject.CommonName
		}
	}
	return ""
}
