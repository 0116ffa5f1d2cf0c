package evidence

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
	"github.com/paraphe/paraphe/pades"
	"github.com/paraphe/paraphe/tsa"
)

// Options configure Verify.
type Options struct {
	// Roots are the trust anchors of signer certificates, the TSA and the platform seal.
	// Required.
	Roots *x509.CertPool
	// LedgerKey, when set, is the pinned checkpoint verifier key; the bundle's must equal it.
	// When empty the bundle's key is used and the report says so.
	LedgerKey string
	// LedgerURL, when set, is the base address of a live ledger (an appliance, or any server of
	// its read API): its latest checkpoint must be consistent with the bundle's.
	LedgerURL  string
	HTTPClient *http.Client // for LedgerURL; default: 30 s timeout
	Limits     Limits
}

// Report is the outcome of Verify.
type Report struct {
	Valid      bool             `json:"valid"`
	Envelope   string           `json:"envelope"`
	Title      string           `json:"title"`
	Status     string           `json:"status"`
	Scope      string           `json:"scope"`
	Checkpoint CheckpointReport `json:"checkpoint"`
	Leaves     int              `json:"leaves"`
	Documents  []DocumentReport `json:"documents"`
	Signers    []SignerReport   `json:"signers"`
	Commitment CommitmentReport `json:"commitments"`
	Report     *pades.Report    `json:"report,omitempty"`
	Live       *LiveReport      `json:"live,omitempty"`
	// Failures and Warnings are in English; FailureCodes and WarningCodes are their stable
	// codes (see messages.go), in the same order. FailuresIn and WarningsIn translate them.
	Failures     []string           `json:"failures,omitempty"`
	FailureCodes []string           `json:"failure_codes,omitempty"`
	Warnings     []string           `json:"warnings,omitempty"`
	WarningCodes []string           `json:"warning_codes,omitempty"`
	Revocation   []RevocationReport `json:"revocation,omitempty"`

	failures, warnings []finding
}

// CheckpointReport describes the bundle's checkpoint.
type CheckpointReport struct {
	Origin    string    `json:"origin"`
	Size      uint64    `json:"size"`
	Root      string    `json:"root"`
	Key       string    `json:"key"`
	KeySource string    `json:"key_source"` // "pinned" or "bundle"
	Time      time.Time `json:"time,omitzero"`
	Valid     bool      `json:"valid"`
}

// DocumentReport is the outcome for one document.
type DocumentReport struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	File   string        `json:"file,omitempty"`
	Final  string        `json:"final,omitempty"`
	Level  string        `json:"level,omitempty"`
	Valid  bool          `json:"valid"`
	PAdES  *pades.Report `json:"pades,omitempty"`
	Issues []string      `json:"problems,omitempty"`
}

// SignerReport is the outcome for one signer's ceremony.
type SignerReport struct {
	ID      string   `json:"id"`
	Name    string   `json:"name,omitempty"`
	Outcome string   `json:"outcome"` // signed, refused, incomplete, not invited
	Valid   bool     `json:"valid"`
	Issues  []string `json:"problems,omitempty"`
}

// CommitmentReport counts the commitments of the leaves.
type CommitmentReport struct {
	Opened      int `json:"opened"`
	Undisclosed int `json:"undisclosed"` // no clear value in the bundle (IP addresses, other parties' data)
	Superseded  int `json:"superseded"`  // an earlier value of a field changed later
	Failed      int `json:"failed"`
}

// RevocationReport is the outcome for one CRL or OCSP response.
type RevocationReport struct {
	File   string `json:"file"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
}

// LiveReport is the comparison with a live ledger.
type LiveReport struct {
	URL        string `json:"url"`
	Size       uint64 `json:"size"`
	Consistent bool   `json:"consistent"`
}

// verifier carries one verification.
type verifier struct {
	ctx    context.Context
	opt    Options
	b      *Bundle
	m      *Manifest
	r      *Report
	cp     verify.Checkpoint
	events []indexedEvent // leaves that parse and are included in the checkpoint
	byIdx  map[uint64]*indexedEvent
	certs  map[string]*x509.Certificate // signer id → certificate
	inter  *x509.CertPool
	chain  []*x509.Certificate
	// prefixes[doc id] are the SHA-256 digests of every revision of the document's final PDF.
	prefixes map[string]map[string]int64
}

// Verify checks an evidence bundle. The error is non-nil only when data is not a readable
// bundle (or opt lacks Roots); every other problem is a named failure in the report, and
// Report.Valid is true only when there is none.
func Verify(ctx context.Context, data []byte, opt Options) (*Report, error) {
	if opt.Roots == nil {
		return nil, errors.New("evidence: Options.Roots is required")
	}
	b, err := Parse(data, opt.Limits)
	if err != nil {
		return nil, err
	}
	return VerifyBundle(ctx, b, opt)
}

// VerifyBundle is Verify for a parsed bundle.
func VerifyBundle(ctx context.Context, b *Bundle, opt Options) (*Report, error) {
	if opt.Roots == nil {
		return nil, errors.New("evidence: Options.Roots is required")
	}
	m := &b.Manifest
	v := &verifier{ctx: ctx, opt: opt, b: b, m: m, byIdx: map[uint64]*indexedEvent{}, certs: map[string]*x509.Certificate{},
		prefixes: map[string]map[string]int64{},
		r:        &Report{Envelope: m.Envelope.ID, Title: m.Envelope.Title, Status: m.Envelope.Status, Scope: m.Scope}}
	v.pki()
	if v.checkpoint() {
		v.leaves()
	}
	v.commitments()
	v.certificates()
	v.revocation()
	v.documents()
	v.ceremonies()
	v.envelope()
	v.report()
	v.live()
	v.r.Valid = len(v.r.Failures) == 0
	return v.r, nil
}

// pki reads the certificate files.
func (v *verifier) pki() {
	v.inter = x509.NewCertPool()
	for _, name := range []string{ChainPath, TSAPath, SealPath} {
		content, ok := v.b.Files[name]
		if !ok {
			v.fail("bundle.file_missing", name)
			continue
		}
		cs, err := parsePEM(content)
		if err != nil {
			v.fail("pki.unreadable", name, err)
			continue
		}
		if name == ChainPath {
			v.chain = cs
		}
		for _, c := range cs {
			v.inter.AddCert(c)
		}
	}
}

// checkpoint verifies the checkpoint's signature and timestamp; it reports whether the leaves
// can be checked against it.
func (v *verifier) checkpoint() bool {
	m := v.m
	cr := &v.r.Checkpoint
	key := m.Ledger.Key
	cr.KeySource = "bundle"
	if v.opt.LedgerKey != "" {
		cr.KeySource = "pinned"
		if strings.TrimSpace(v.opt.LedgerKey) != strings.TrimSpace(key) {
			v.fail("ledger.key_not_pinned", key, v.opt.LedgerKey)
		}
		key = v.opt.LedgerKey
	} else {
		v.warn("ledger.key_from_bundle")
	}
	cr.Key = key
	if f := strings.TrimSpace(string(v.b.Files[LedgerKeyPath])); f != strings.TrimSpace(m.Ledger.Key) {
		v.fail("ledger.key_file_mismatch", LedgerKeyPath, f, m.Ledger.Key)
	}
	nv, err := verify.NewVerifier(key)
	if err != nil {
		v.fail("ledger.key_invalid", err)
		return false
	}
	cp, err := verify.OpenCheckpoint(v.b.Files[CheckpointPath], nv, m.Ledger.Origin)
	if err != nil {
		v.fail("checkpoint.invalid", CheckpointPath, err)
		return false
	}
	v.cp = cp
	cr.Origin, cr.Size, cr.Root = cp.Origin, cp.Size, hex.EncodeToString(cp.Hash)
	ok := true
	if m.Ledger.Size != cp.Size || m.Ledger.Root != cr.Root {
		v.fail("checkpoint.manifest_mismatch", CheckpointPath, m.Ledger.Size, m.Ledger.Root, cp.Size, cr.Root)
		ok = false
	}
	text := sha256.Sum256([]byte(cp.Text()))
	tok, err := tsa.VerifyToken(v.b.Files[CheckpointTokenPath], text[:], crypto.SHA256, v.opt.Roots, v.inter)
	if err != nil {
		v.fail("checkpoint.timestamp_invalid", CheckpointTokenPath, err)
		ok = false
	} else {
		cr.Time = tok.Time.UTC()
		found := false
		for _, t := range m.Timestamps {
			if t.Kind == "checkpoint" {
				found = true
				if !t.Time.Equal(cr.Time) || t.TSA != tsaName(tok.Certificates) {
					v.fail("checkpoint.timestamp_mismatch", fmtTime(t.Time), t.TSA, fmtTime(cr.Time), tsaName(tok.Certificates))
				}
			}
		}
		if !found {
			v.fail("checkpoint.timestamp_unlisted")
		}
	}
	cr.Valid = ok
	return true
}

// leaves checks that every leaf is an event of the envelope included in the checkpoint.
func (v *verifier) leaves() {
	v.r.Leaves = len(v.m.Leaves)
	seenID := map[string]uint64{}
	for i, l := range v.m.Leaves {
		if i > 0 && l.Index <= v.m.Leaves[i-1].Index {
			v.fail("leaf.order", l.Index, v.m.Leaves[i-1].Index)
		}
		ev, err := event.Parse([]byte(l.Leaf))
		if err != nil {
			v.fail("leaf.invalid", l.Index, err)
			continue
		}
		name := leafName(l.Index, ev)
		if ev.Envelope != v.m.Envelope.ID {
			v.fail("leaf.other_envelope", name, ev.Envelope, v.m.Envelope.ID)
			continue
		}
		proof := make([][]byte, len(l.Proof))
		bad := false
		for j, h := range l.Proof {
			if proof[j], err = hex.DecodeString(h); err != nil {
				v.fail("leaf.proof_not_hex", name, j)
				bad = true
			}
		}
		if bad {
			continue
		}
		if err := verify.Inclusion(v.cp, l.Index, verify.LeafHash([]byte(l.Leaf)), proof); err != nil {
			v.fail("leaf.not_included", name, err)
			continue
		}
		if prev, dup := seenID[ev.ID]; dup {
			v.fail("leaf.duplicate_id", name, prev)
			continue
		}
		seenID[ev.ID] = l.Index
		v.events = append(v.events, indexedEvent{Event: ev, index: l.Index, leaf: []byte(l.Leaf)})
	}
	for i := range v.events {
		v.byIdx[v.events[i].index] = &v.events[i]
	}
}

func leafName(index uint64, ev event.Event) leafRef {
	return leafRef{index: index, typ: string(ev.Type), signer: ev.Signer}
}

func (v *verifier) signer(id string) *SignerInfo {
	for i := range v.m.Signers {
		if v.m.Signers[i].ID == id {
			return &v.m.Signers[i]
		}
	}
	return nil
}

func (v *verifier) document(id string) (int, *DocumentInfo) {
	for i := range v.m.Documents {
		if v.m.Documents[i].ID == id {
			return i, &v.m.Documents[i]
		}
	}
	return -1, nil
}

// commitments opens every commitment for which the bundle holds the clear value.
func (v *verifier) commitments() {
	salt, err := hex.DecodeString(v.m.Salt)
	if err != nil || len(salt) == 0 {
		v.fail("manifest.salt")
		return
	}
	// The last field.completed of each field carries the value kept; earlier ones were changed.
	lastField := map[string]uint64{}
	for _, ev := range v.events {
		if ev.Type == event.FieldCompleted {
			lastField[ev.Signer+"\x00"+fmt.Sprint(ev.Data["field"])] = ev.index
		}
	}
	cr := &v.r.Commitment
	for _, ev := range v.events {
		spec, _ := event.Lookup(ev.Type)
		for _, f := range spec.Fields {
			if f.Kind != event.KindCommitment {
				continue
			}
			c, ok := ev.Data[f.Name].(string)
			if !ok {
				continue
			}
			label, value := v.clearValue(ev, f.Name)
			if ev.Type == event.FieldCompleted && lastField[ev.Signer+"\x00"+fmt.Sprint(ev.Data["field"])] != ev.index {
				cr.Superseded++
				continue
			}
			if value == "" {
				cr.Undisclosed++
				continue
			}
			if !event.OpenCommitment(salt, label, value, c) {
				cr.Failed++
				v.fail("commitment.mismatch", leafName(ev.index, ev.Event), f.Name)
				continue
			}
			cr.Opened++
		}
	}
}

// clearValue returns the commitment label and the clear value the bundle discloses for the
// commitment field name of ev ("" when it discloses none).
func (v *verifier) clearValue(ev indexedEvent, name string) (string, string) {
	s := v.signer(ev.Signer)
	if s == nil {
		s = &SignerInfo{}
	}
	switch {
	case ev.Type == event.EnvelopeCreated && name == "sender":
		return "sender", v.m.Envelope.Sender
	case ev.Type == event.EnvelopeVoided && name == "reason":
		return "void_reason", v.m.Envelope.Reason
	case (ev.Type == event.InvitationSent || ev.Type == event.ReminderSent) && name == "email":
		return "email", s.Email
	case ev.Type == event.InvitationSent && name == "name":
		return "name", s.Name
	case ev.Type == event.OTPSent && name == "phone":
		return "phone", s.Phone
	case ev.Type == event.FieldCompleted && name == "value":
		id := fmt.Sprint(ev.Data["field"])
		return "field:" + id, s.Values[id]
	case ev.Type == event.SignerRefused && name == "reason":
		return "reason", s.Refusal
	}
	return name, "" // IP addresses and user agents are not kept in clear
}

// certificates checks each signer certificate: its chain, its binding to the signer's
// otp.verified leaf and its certificate.issued event.
func (v *verifier) certificates() {
	for _, s := range v.m.Signers {
		if s.Certificate == "" {
			continue
		}
		cert, err := bundleCertificate(v.b, s.Certificate)
		if err != nil {
			v.fail("certificate.unreadable", s.ID, err)
			continue
		}
		v.certs[s.ID] = cert
		at := cert.NotBefore.Add(time.Second)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: v.opt.Roots, Intermediates: v.inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			v.fail("certificate.untrusted", s.ID, cert.SerialNumber.Text(16), err)
		}
		b, ok, err := ca.ParseBinding(cert)
		switch {
		case err != nil:
			v.fail("certificate.binding_invalid", s.ID, cert.SerialNumber.Text(16), err)
		case !ok:
			v.fail("certificate.no_binding", s.ID, cert.SerialNumber.Text(16))
		default:
			ev := v.byIdx[b.LeafIndex]
			switch {
			case ev == nil:
				v.fail("certificate.binding_unknown_leaf", s.ID, cert.SerialNumber.Text(16), b.LeafIndex)
			case ev.Type != event.OTPVerified || ev.Signer != s.ID:
				v.fail("certificate.binding_wrong_leaf", s.ID, cert.SerialNumber.Text(16), leafName(ev.index, ev.Event))
			case !bytes.Equal(verify.LeafHash(ev.leaf), b.LeafHash):
				v.fail("certificate.binding_hash", s.ID, cert.SerialNumber.Text(16), b.LeafIndex, b.LeafHash, verify.LeafHash(ev.leaf))
			}
		}
		d := sha256.Sum256(cert.Raw)
		issued := false
		for _, ev := range v.events {
			if ev.Type != event.CertificateIssued || ev.Signer != s.ID || ev.Data["certificate"] != hex.EncodeToString(d[:]) {
				continue
			}
			issued = true
			if ev.Data["serial"] != cert.SerialNumber.Text(16) {
				v.fail("certificate.serial_mismatch", leafName(ev.index, ev.Event), ev.Data["serial"], cert.SerialNumber.Text(16))
			}
			if ok && fmt.Sprint(ev.Data["otp_leaf"]) != fmt.Sprint(b.LeafIndex) {
				v.fail("certificate.otp_leaf_mismatch", leafName(ev.index, ev.Event), ev.Data["otp_leaf"], b.LeafIndex)
			}
		}
		if !issued {
			v.fail("certificate.not_issued", s.ID, cert.SerialNumber.Text(16), d[:])
		}
	}
}

// revocation checks the CRLs and OCSP responses against the signer certificates.
func (v *verifier) revocation() {
	if len(v.chain) == 0 {
		return
	}
	issuer := v.chain[0]
	for _, ri := range v.m.Revocation {
		content, ok := v.b.Files[ri.File]
		rr := RevocationReport{File: ri.File, Kind: ri.Kind, Status: "good"}
		if !ok {
			v.fail("bundle.file_missing", ri.File)
			continue
		}
		switch ri.Kind {
		case "crl":
			crl, err := x509.ParseRevocationList(content)
			if err == nil {
				err = crl.CheckSignatureFrom(issuer)
			}
			if err != nil {
				v.fail("revocation.crl_invalid", ri.File, err)
				rr.Status = "invalid"
				break
			}
			for id, c := range v.certs {
				for _, e := range crl.RevokedCertificateEntries {
					if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
						v.fail("revocation.crl_revoked", ri.File, id, fmtTime(e.RevocationTime))
						rr.Status = "revoked"
					}
				}
			}
		case "ocsp":
			c := v.certs[ri.Signer]
			if c == nil {
				v.fail("revocation.ocsp_unknown_signer", ri.File, ri.Signer)
				continue
			}
			resp, err := ocsp.ParseResponseForCert(content, c, issuer)
			if err != nil {
				v.fail("revocation.ocsp_invalid", ri.File, ri.Signer, err)
				rr.Status = "invalid"
				break
			}
			switch resp.Status {
			case ocsp.Good:
			case ocsp.Revoked:
				v.fail("revocation.ocsp_revoked", ri.File, ri.Signer, fmtTime(resp.RevokedAt))
				rr.Status = "revoked"
			default:
				v.warn("revocation.ocsp_status_unknown", ri.File, ri.Signer)
				rr.Status = "unknown"
			}
		default:
			v.fail("revocation.unknown_kind", ri.File, ri.Kind)
			continue
		}
		v.r.Revocation = append(v.r.Revocation, rr)
	}
}

// revisionDigests returns the SHA-256 of every prefix of pdf that ends a revision (after an
// %%EOF marker and its end of line), with the prefix length.
func revisionDigests(pdf []byte) map[string]int64 {
	out := map[string]int64{}
	marker := []byte("%%EOF")
	for off := 0; ; {
		i := bytes.Index(pdf[off:], marker)
		if i < 0 {
			break
		}
		end := off + i + len(marker)
		ends := []int{end}
		e := end
		if e < len(pdf) && pdf[e] == '\r' {
			e++
			ends = append(ends, e)
		}
		if e < len(pdf) && pdf[e] == '\n' {
			e++
			ends = append(ends, e)
		}
		for _, n := range ends {
			out[digest(pdf[:n])] = int64(n)
		}
		off = end
	}
	return out
}

// documents verifies each final PDF and ties its revisions to the ledger.
func (v *verifier) documents() {
	created := map[string]string{}
	for _, ev := range v.events {
		if ev.Type == event.EnvelopeCreated {
			if docs, ok := ev.Data["documents"].(map[string]string); ok {
				created = docs
			}
		}
	}
	for di := range v.m.Documents {
		d := &v.m.Documents[di]
		dr := DocumentReport{ID: d.ID, Name: d.Name, File: d.File, Final: d.Final}
		subject := &finding{code: "document", args: []any{d.ID, d.Name}}
		issue := func(code string, a ...any) {
			f := finding{code: code, args: a}
			dr.Issues = append(dr.Issues, f.text("en"))
			v.failIn(subject, f)
		}
		if created[d.ID] != d.Prepared {
			issue("document.prepared_not_created", d.Prepared, created[d.ID])
		}
		if d.File == "" {
			if v.m.Envelope.Status == "completed" {
				issue("document.final_missing")
			}
			dr.Valid = len(dr.Issues) == 0
			v.r.Documents = append(v.r.Documents, dr)
			continue
		}
		pdf, ok := v.b.Files[d.File]
		if !ok {
			issue("document.file_missing", d.File)
			v.r.Documents = append(v.r.Documents, dr)
			continue
		}
		if got := digest(pdf); got != d.Final {
			issue("document.digest_mismatch", d.File, got, d.Final)
		}
		rep, err := pades.Verify(v.ctx, bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{Roots: v.opt.Roots})
		if err != nil {
			issue("document.unreadable", d.File, err)
			v.r.Documents = append(v.r.Documents, dr)
			continue
		}
		dr.PAdES, dr.Level = rep, rep.Level
		if !rep.Valid {
			var probs []string
			probs = append(probs, rep.Problems...)
			for i, s := range rep.Signatures {
				for _, p := range s.Problems {
					probs = append(probs, fmt.Sprintf("signature #%d (%s): %s", i+1, s.Field, p))
				}
			}
			issue("document.signatures_invalid", d.File, strings.Join(probs, "; "))
		}
		if rep.Pages != d.Pages {
			issue("document.pages_mismatch", d.File, rep.Pages, d.Pages)
		}
		revs := revisionDigests(pdf)
		v.prefixes[d.ID] = revs
		if _, ok := revs[d.Prepared]; !ok {
			issue("document.prepared_not_revision", d.Prepared, d.File)
		}
		for _, ev := range v.events {
			switch ev.Type {
			case event.DocumentSigned:
				if ev.Data["document"] != d.ID {
					continue
				}
				if _, ok := revs[fmt.Sprint(ev.Data["digest"])]; !ok {
					issue("document.signed_not_revision", leafName(ev.index, ev.Event), ev.Data["digest"], d.File)
				}
			case event.ConsentGiven:
				docs, _ := ev.Data["documents"].(map[string]string)
				if dg, ok := docs[d.ID]; ok {
					if _, ok := revs[dg]; !ok {
						issue("document.consented_not_revision", leafName(ev.index, ev.Event), dg, d.File)
					}
				}
			}
		}
		// Each signer's signature is the revision that signer's document.signed records.
		for id, c := range v.certs {
			var signed string
			for _, ev := range v.events {
				if ev.Type == event.DocumentSigned && ev.Signer == id && ev.Data["document"] == d.ID {
					signed = fmt.Sprint(ev.Data["digest"])
				}
			}
			var sig *pades.SignatureReport
			for i := range rep.Signatures {
				if s := &rep.Signatures[i]; s.Kind == "signature" && s.Signer != nil && s.Signer.Serial == c.SerialNumber.Text(16) {
					sig = s
				}
			}
			switch {
			case sig == nil && signed != "":
				issue("document.signature_missing", id, c.SerialNumber.Text(16))
			case sig != nil && signed == "":
				issue("document.signature_unrecorded", id, c.SerialNumber.Text(16))
			case sig != nil:
				if n, ok := revs[signed]; !ok || n != sig.RevisionEnd {
					issue("document.signature_revision", id, sig.RevisionEnd, signed)
				}
				if sig.Timestamp != nil {
					v.checkSignatureTime(d.ID, id, sig.Timestamp)
				}
			}
		}
		dr.Valid = len(dr.Issues) == 0
		v.r.Documents = append(v.r.Documents, dr)
	}
}

func (v *verifier) checkSignatureTime(doc, signer string, ts *pades.TimestampReport) {
	for _, t := range v.m.Timestamps {
		if t.Kind == "signature" && t.Document == doc && t.Signer == signer {
			if !t.Time.Equal(ts.Time.UTC()) || t.TSA != ts.TSA {
				v.fail("timestamp.mismatch", signer, doc, fmtTime(t.Time), fmtTime(ts.Time))
			}
			return
		}
	}
	v.fail("timestamp.unlisted", signer, doc)
}

// report checks the sealed evidence report: its seal, and that it is the rendering of the
// bundle.
func (v *verifier) report() {
	pdf, ok := v.b.Files[ReportPath]
	if !ok {
		v.fail("bundle.file_missing", ReportPath)
		return
	}
	rep, err := pades.Verify(v.ctx, bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{Roots: v.opt.Roots})
	if err != nil {
		v.fail("report.unreadable", ReportPath, err)
		return
	}
	v.r.Report = rep
	if !rep.Valid {
		v.fail("report.seal_invalid", ReportPath, strings.Join(rep.Problems, "; "))
	}
	if len(rep.Signatures) == 0 || rep.Signatures[0].Field != SealField || rep.Signatures[0].Signer == nil {
		v.fail("report.not_sealed", ReportPath, SealField)
	} else if seal, err := parsePEM(v.b.Files[SealPath]); err == nil && rep.Signatures[0].Signer.Serial != seal[0].SerialNumber.Text(16) {
		v.fail("report.wrong_seal", ReportPath, rep.Signatures[0].Signer.Serial, seal[0].SerialNumber.Text(16))
	}
	if rep.Level != "B-LTA" {
		v.fail("report.seal_level", ReportPath, level(rep.Level))
	}
	if v.m.ReportFormat != ReportFormat {
		v.warn("report.unknown_format", ReportPath, v.m.ReportFormat)
		return
	}
	want, err := RenderReport(v.b)
	if err != nil {
		v.fail("report.render", ReportPath, err)
		return
	}
	if !bytes.HasPrefix(pdf, want) {
		v.fail("report.content_mismatch", ReportPath)
	}
}
