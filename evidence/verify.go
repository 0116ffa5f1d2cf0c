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
	Valid      bool               `json:"valid"`
	Envelope   string             `json:"envelope"`
	Title      string             `json:"title"`
	Status     string             `json:"status"`
	Scope      string             `json:"scope"`
	Checkpoint CheckpointReport   `json:"checkpoint"`
	Leaves     int                `json:"leaves"`
	Documents  []DocumentReport   `json:"documents"`
	Signers    []SignerReport     `json:"signers"`
	Commitment CommitmentReport   `json:"commitments"`
	Report     *pades.Report      `json:"report,omitempty"`
	Live       *LiveReport        `json:"live,omitempty"`
	Failures   []string           `json:"failures,omitempty"`
	Warnings   []string           `json:"warnings,omitempty"`
	Revocation []RevocationReport `json:"revocation,omitempty"`
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

func (v *verifier) fail(format string, a ...any) {
	v.r.Failures = append(v.r.Failures, fmt.Sprintf(format, a...))
}

func (v *verifier) warn(format string, a ...any) {
	v.r.Warnings = append(v.r.Warnings, fmt.Sprintf(format, a...))
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
			v.fail("%s: missing from the bundle", name)
			continue
		}
		cs, err := parsePEM(content)
		if err != nil {
			v.fail("%s: %v", name, err)
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
			v.fail("ledger key: the bundle's key %q is not the pinned key %q", key, v.opt.LedgerKey)
		}
		key = v.opt.LedgerKey
	} else {
		v.warn("ledger key taken from the bundle; pin it with the appliance's published key (--ledger-key) or check it against the live ledger (--ledger)")
	}
	cr.Key = key
	if f := strings.TrimSpace(string(v.b.Files[LedgerKeyPath])); f != strings.TrimSpace(m.Ledger.Key) {
		v.fail("%s: %q differs from the manifest's key %q", LedgerKeyPath, f, m.Ledger.Key)
	}
	nv, err := verify.NewVerifier(key)
	if err != nil {
		v.fail("ledger key: %v", err)
		return false
	}
	cp, err := verify.OpenCheckpoint(v.b.Files[CheckpointPath], nv, m.Ledger.Origin)
	if err != nil {
		v.fail("%s: %v", CheckpointPath, err)
		return false
	}
	v.cp = cp
	cr.Origin, cr.Size, cr.Root = cp.Origin, cp.Size, hex.EncodeToString(cp.Hash)
	ok := true
	if m.Ledger.Size != cp.Size || m.Ledger.Root != cr.Root {
		v.fail("%s: the manifest says size %d root %s, the signed checkpoint size %d root %s", CheckpointPath, m.Ledger.Size, m.Ledger.Root, cp.Size, cr.Root)
		ok = false
	}
	text := sha256.Sum256([]byte(cp.Text()))
	tok, err := tsa.VerifyToken(v.b.Files[CheckpointTokenPath], text[:], crypto.SHA256, v.opt.Roots, v.inter)
	if err != nil {
		v.fail("%s: the checkpoint's timestamp does not verify: %v", CheckpointTokenPath, err)
		ok = false
	} else {
		cr.Time = tok.Time.UTC()
		found := false
		for _, t := range m.Timestamps {
			if t.Kind == "checkpoint" {
				found = true
				if !t.Time.Equal(cr.Time) || t.TSA != tsaName(tok.Certificates) {
					v.fail("manifest: the checkpoint timestamp is given as %s (%s), the token says %s (%s)", fmtTime(t.Time), t.TSA, fmtTime(cr.Time), tsaName(tok.Certificates))
				}
			}
		}
		if !found {
			v.fail("manifest: the checkpoint's timestamp is not listed")
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
			v.fail("leaf #%d: leaves are not in increasing index order (after #%d)", l.Index, v.m.Leaves[i-1].Index)
		}
		ev, err := event.Parse([]byte(l.Leaf))
		if err != nil {
			v.fail("leaf #%d: not a valid ledger event: %v", l.Index, err)
			continue
		}
		name := leafName(l.Index, ev)
		if ev.Envelope != v.m.Envelope.ID {
			v.fail("%s: belongs to envelope %q, not %q", name, ev.Envelope, v.m.Envelope.ID)
			continue
		}
		proof := make([][]byte, len(l.Proof))
		bad := false
		for j, h := range l.Proof {
			if proof[j], err = hex.DecodeString(h); err != nil {
				v.fail("%s: proof hash %d is not hexadecimal", name, j)
				bad = true
			}
		}
		if bad {
			continue
		}
		if err := verify.Inclusion(v.cp, l.Index, verify.LeafHash([]byte(l.Leaf)), proof); err != nil {
			v.fail("%s: the inclusion proof does not lead to the checkpoint: %v", name, err)
			continue
		}
		if prev, dup := seenID[ev.ID]; dup {
			v.fail("%s: the same event id as leaf #%d", name, prev)
			continue
		}
		seenID[ev.ID] = l.Index
		v.events = append(v.events, indexedEvent{Event: ev, index: l.Index, leaf: []byte(l.Leaf)})
	}
	for i := range v.events {
		v.byIdx[v.events[i].index] = &v.events[i]
	}
}

func leafName(index uint64, ev event.Event) string {
	s := fmt.Sprintf("leaf #%d (%s", index, ev.Type)
	if ev.Signer != "" {
		s += ", signer " + ev.Signer
	}
	return s + ")"
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
		v.fail("manifest: the salt is not a hexadecimal string")
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
				v.fail("%s: the commitment %q does not open to the bundle's value with the bundle's salt", leafName(ev.index, ev.Event), f.Name)
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
			v.fail("signer %s: certificate: %v", s.ID, err)
			continue
		}
		v.certs[s.ID] = cert
		at := cert.NotBefore.Add(time.Second)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: v.opt.Roots, Intermediates: v.inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			v.fail("signer %s: certificate %s does not chain to the trusted roots: %v", s.ID, cert.SerialNumber.Text(16), err)
		}
		b, ok, err := ca.ParseBinding(cert)
		switch {
		case err != nil:
			v.fail("signer %s: certificate %s: %v", s.ID, cert.SerialNumber.Text(16), err)
		case !ok:
			v.fail("signer %s: certificate %s carries no binding to an otp.verified leaf", s.ID, cert.SerialNumber.Text(16))
		default:
			ev := v.byIdx[b.LeafIndex]
			switch {
			case ev == nil:
				v.fail("signer %s: certificate %s is bound to leaf #%d, which is not a verified leaf of this envelope", s.ID, cert.SerialNumber.Text(16), b.LeafIndex)
			case ev.Type != event.OTPVerified || ev.Signer != s.ID:
				v.fail("signer %s: certificate %s is bound to %s, not to this signer's otp.verified event", s.ID, cert.SerialNumber.Text(16), leafName(ev.index, ev.Event))
			case !bytes.Equal(verify.LeafHash(ev.leaf), b.LeafHash):
				v.fail("signer %s: certificate %s is bound to leaf #%d with hash %x, the leaf's hash is %x", s.ID, cert.SerialNumber.Text(16), b.LeafIndex, b.LeafHash, verify.LeafHash(ev.leaf))
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
				v.fail("%s: serial %v, the certificate's is %s", leafName(ev.index, ev.Event), ev.Data["serial"], cert.SerialNumber.Text(16))
			}
			if ok && fmt.Sprint(ev.Data["otp_leaf"]) != fmt.Sprint(b.LeafIndex) {
				v.fail("%s: otp_leaf %v, the certificate is bound to leaf #%d", leafName(ev.index, ev.Event), ev.Data["otp_leaf"], b.LeafIndex)
			}
		}
		if !issued {
			v.fail("signer %s: no certificate.issued leaf records certificate %s (SHA-256 %x)", s.ID, cert.SerialNumber.Text(16), d[:])
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
			v.fail("%s: missing from the bundle", ri.File)
			continue
		}
		switch ri.Kind {
		case "crl":
			crl, err := x509.ParseRevocationList(content)
			if err == nil {
				err = crl.CheckSignatureFrom(issuer)
			}
			if err != nil {
				v.fail("%s: the CRL does not verify against the issuing CA: %v", ri.File, err)
				rr.Status = "invalid"
				break
			}
			for id, c := range v.certs {
				for _, e := range crl.RevokedCertificateEntries {
					if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
						v.fail("%s: the certificate of signer %s is revoked (since %s)", ri.File, id, fmtTime(e.RevocationTime))
						rr.Status = "revoked"
					}
				}
			}
		case "ocsp":
			c := v.certs[ri.Signer]
			if c == nil {
				v.fail("%s: OCSP response for signer %q, who has no certificate in the bundle", ri.File, ri.Signer)
				continue
			}
			resp, err := ocsp.ParseResponseForCert(content, c, issuer)
			if err != nil {
				v.fail("%s: the OCSP response for signer %s does not verify: %v", ri.File, ri.Signer, err)
				rr.Status = "invalid"
				break
			}
			switch resp.Status {
			case ocsp.Good:
			case ocsp.Revoked:
				v.fail("%s: OCSP says the certificate of signer %s is revoked (since %s)", ri.File, ri.Signer, fmtTime(resp.RevokedAt))
				rr.Status = "revoked"
			default:
				v.warn("%s: OCSP status of signer %s's certificate is unknown", ri.File, ri.Signer)
				rr.Status = "unknown"
			}
		default:
			v.fail("%s: unknown revocation kind %q", ri.File, ri.Kind)
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
		issue := func(format string, a ...any) {
			msg := fmt.Sprintf(format, a...)
			dr.Issues = append(dr.Issues, msg)
			v.fail("document %s (%s): %s", d.ID, d.Name, msg)
		}
		if created[d.ID] != d.Prepared {
			issue("the prepared digest %s is not the one envelope.created records (%q)", d.Prepared, created[d.ID])
		}
		if d.File == "" {
			if v.m.Envelope.Status == "completed" {
				issue("the envelope is completed but the bundle holds no final PDF")
			}
			dr.Valid = len(dr.Issues) == 0
			v.r.Documents = append(v.r.Documents, dr)
			continue
		}
		pdf, ok := v.b.Files[d.File]
		if !ok {
			issue("%s is missing from the bundle", d.File)
			v.r.Documents = append(v.r.Documents, dr)
			continue
		}
		if got := digest(pdf); got != d.Final {
			issue("%s has SHA-256 %s, the manifest says %s", d.File, got, d.Final)
		}
		rep, err := pades.Verify(v.ctx, bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{Roots: v.opt.Roots})
		if err != nil {
			issue("%s is not a readable PDF: %v", d.File, err)
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
			issue("%s: the PAdES signatures do not verify: %s", d.File, strings.Join(probs, "; "))
		}
		if rep.Pages != d.Pages {
			issue("%s has %d pages, the manifest says %d", d.File, rep.Pages, d.Pages)
		}
		revs := revisionDigests(pdf)
		v.prefixes[d.ID] = revs
		if _, ok := revs[d.Prepared]; !ok {
			issue("the prepared version %s is not a revision of %s", d.Prepared, d.File)
		}
		for _, ev := range v.events {
			switch ev.Type {
			case event.DocumentSigned:
				if ev.Data["document"] != d.ID {
					continue
				}
				if _, ok := revs[fmt.Sprint(ev.Data["digest"])]; !ok {
					issue("%s: the signed version %v is not a revision of %s", leafName(ev.index, ev.Event), ev.Data["digest"], d.File)
				}
			case event.ConsentGiven:
				docs, _ := ev.Data["documents"].(map[string]string)
				if dg, ok := docs[d.ID]; ok {
					if _, ok := revs[dg]; !ok {
						issue("%s: the version consented to (%s) is not a revision of %s", leafName(ev.index, ev.Event), dg, d.File)
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
				issue("no signature by signer %s's certificate %s, though document.signed records one", id, c.SerialNumber.Text(16))
			case sig != nil && signed == "":
				issue("signed by signer %s's certificate %s with no document.signed leaf", id, c.SerialNumber.Text(16))
			case sig != nil:
				if n, ok := revs[signed]; !ok || n != sig.RevisionEnd {
					issue("signer %s's signature ends its revision at byte %d, not at the version %s that document.signed records", id, sig.RevisionEnd, signed)
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
				v.fail("manifest: the timestamp of signer %s on document %s is given as %s, the PDF's token says %s", signer, doc, fmtTime(t.Time), fmtTime(ts.Time))
			}
			return
		}
	}
	v.fail("manifest: the timestamp of signer %s on document %s is not listed", signer, doc)
}

// report checks the sealed evidence report: its seal, and that it is the rendering of the
// bundle.
func (v *verifier) report() {
	pdf, ok := v.b.Files[ReportPath]
	if !ok {
		v.fail("%s: missing from the bundle", ReportPath)
		return
	}
	rep, err := pades.Verify(v.ctx, bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{Roots: v.opt.Roots})
	if err != nil {
		v.fail("%s: not a readable PDF: %v", ReportPath, err)
		return
	}
	v.r.Report = rep
	if !rep.Valid {
		v.fail("%s: the platform seal does not verify: %s", ReportPath, strings.Join(rep.Problems, "; "))
	}
	if len(rep.Signatures) == 0 || rep.Signatures[0].Field != SealField || rep.Signatures[0].Signer == nil {
		v.fail("%s: not sealed in the %s field", ReportPath, SealField)
	} else if seal, err := parsePEM(v.b.Files[SealPath]); err == nil && rep.Signatures[0].Signer.Serial != seal[0].SerialNumber.Text(16) {
		v.fail("%s: sealed by certificate %s, not by the platform seal %s", ReportPath, rep.Signatures[0].Signer.Serial, seal[0].SerialNumber.Text(16))
	}
	if rep.Level != "B-LTA" {
		v.fail("%s: the platform seal reaches PAdES %s, not B-LTA (no document timestamp over its validation data)", ReportPath, orNone(rep.Level))
	}
	if v.m.ReportFormat != ReportFormat {
		v.warn("%s: report format %d is unknown to this verifier; its content was not compared with the bundle", ReportPath, v.m.ReportFormat)
		return
	}
	want, err := RenderReport(v.b)
	if err != nil {
		v.fail("%s: %v", ReportPath, err)
		return
	}
	if !bytes.HasPrefix(pdf, want) {
		v.fail("%s: its content is not the rendering of this bundle (the report says something the bundle does not back)", ReportPath)
	}
}

func orNone(s string) string {
	if s == "" {
		return "no level"
	}
	return s
}
