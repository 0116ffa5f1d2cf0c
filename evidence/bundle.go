package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// Format is the value of Manifest.Format for bundles this package writes and reads.
const Format = "paraphe-evidence/1"

// ReportFormat is the version of the evidence report's layout (RenderReport). Verify checks
// that the sealed report begins with the rendering of the bundle only for this version.
const ReportFormat = 1

// Fixed paths inside a bundle.
const (
	ManifestPath        = "manifest.json"
	ReportPath          = "report.pdf"
	CheckpointPath      = "ledger/checkpoint"     // the signed note (C2SP tlog-checkpoint)
	CheckpointTokenPath = "ledger/checkpoint.tst" // RFC 3161 TimeStampToken (DER) over SHA-256 of the checkpoint text
	LedgerKeyPath       = "ledger/key"            // the note verifier key, one line
	ChainPath           = "pki/chain.pem"         // issuing CA and root (PEM)
	SealPath            = "pki/seal.pem"          // the platform seal certificate and its issuers (PEM)
	TSAPath             = "pki/tsa.pem"           // the TSA certificate and its issuers (PEM)
	documentDir         = "documents/"            // documents/<id>.pdf
	certificateDir      = "pki/signers/"          // pki/signers/<signer>.pem
	revocationDir       = "pki/revocation/"       // pki/revocation/<name>.crl | .ocsp
)

// Scopes of a bundle.
const (
	ScopeEnvelope = "envelope" // every party's clear values
	ScopeSigner   = "signer"   // one signer's clear values; the others' names and emails only
)

// Manifest is manifest.json: what the bundle holds and the data that is not a file.
type Manifest struct {
	Format       string    `json:"format"`
	ReportFormat int       `json:"report_format"`
	GeneratedAt  time.Time `json:"generated_at"`
	Scope        string    `json:"scope"`
	ScopeSigner  string    `json:"scope_signer,omitempty"`

	Envelope  EnvelopeInfo   `json:"envelope"`
	Documents []DocumentInfo `json:"documents"`
	Signers   []SignerInfo   `json:"signers"`
	// Salt is the envelope's commitment salt (hex): with the clear values it opens the
	// commitments of the leaves.
	Salt   string     `json:"salt"`
	Ledger LedgerInfo `json:"ledger"`
	// Leaves are the envelope's ledger leaves, in index order, each with its inclusion proof to
	// the bundle's checkpoint.
	Leaves []Leaf `json:"leaves"`
	// Timestamps are the timestamps the report shows, each checked by Verify against the token
	// it comes from.
	Timestamps []TimestampInfo `json:"timestamps"`
	// Revocation lists the CRLs and OCSP responses of the bundle.
	Revocation []RevocationInfo `json:"revocation,omitempty"`
	// Files maps every file of the archive except manifest.json to its SHA-256 (hex).
	Files map[string]string `json:"files"`
}

// EnvelopeInfo describes the envelope.
type EnvelopeInfo struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Sender    string    `json:"sender,omitempty"` // the sender's account, opens envelope.created's commitment
	Status    string    `json:"status"`
	Order     string    `json:"order"`
	CreatedAt time.Time `json:"created_at"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	Reason    string    `json:"void_reason,omitempty"`
}

// DocumentInfo describes one document and its digests.
type DocumentInfo struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	File     string      `json:"file,omitempty"` // path of the final PDF in the bundle; empty when not signed
	Pages    int         `json:"pages"`
	Original string      `json:"original"` // SHA-256 of the PDF as uploaded
	Prepared string      `json:"prepared"` // SHA-256 of the PDF the signers read (envelope.created)
	Final    string      `json:"final,omitempty"`
	Fields   []FieldInfo `json:"fields,omitempty"`
}

// FieldInfo is a form field of a document.
type FieldInfo struct {
	ID       string `json:"id"`
	Label    string `json:"label"`
	Signer   string `json:"signer"`
	Page     int    `json:"page"`
	Required bool   `json:"required"`
}

// SignerInfo is a party. Clear values absent from a bundle of another signer's scope are empty.
type SignerInfo struct {
	ID          string            `json:"id"`
	Order       int               `json:"order"`
	Status      string            `json:"status"`
	Name        string            `json:"name,omitempty"`
	Email       string            `json:"email,omitempty"`
	Phone       string            `json:"phone,omitempty"`
	Locale      string            `json:"locale,omitempty"`
	Values      map[string]string `json:"values,omitempty"`      // field id → value
	Refusal     string            `json:"refusal,omitempty"`     // the reason of a refusal
	Certificate string            `json:"certificate,omitempty"` // path of the signer's certificate (PEM)
}

// LedgerInfo locates the checkpoint and says who signs it.
type LedgerInfo struct {
	Origin string `json:"origin"`
	Key    string `json:"key"` // the note verifier key, also in ledger/key
	Size   uint64 `json:"size"`
	Root   string `json:"root"` // hex root hash of the checkpoint
}

// Leaf is one ledger leaf of the envelope.
type Leaf struct {
	Index uint64   `json:"index"`
	Leaf  string   `json:"leaf"`  // the leaf's exact bytes: canonical JSON of the event
	Proof []string `json:"proof"` // inclusion proof to the checkpoint, hex hashes
}

// TimestampInfo is a timestamp the report shows.
type TimestampInfo struct {
	Kind     string    `json:"kind"` // "checkpoint" or "signature"
	Document string    `json:"document,omitempty"`
	Signer   string    `json:"signer,omitempty"`
	Time     time.Time `json:"time"`
	TSA      string    `json:"tsa,omitempty"`
}

// RevocationInfo is one CRL or OCSP response in the bundle.
type RevocationInfo struct {
	Kind   string `json:"kind"`             // "crl" or "ocsp"
	File   string `json:"file"`             // its path in the bundle
	Signer string `json:"signer,omitempty"` // for OCSP: the signer whose certificate it is about
}

// Bundle is a parsed evidence bundle.
type Bundle struct {
	Manifest Manifest
	Files    map[string][]byte // every file but manifest.json
}

// Limits bound what Parse accepts.
type Limits struct {
	MaxSize    int64 // the whole archive
	MaxFiles   int
	MaxFile    int64 // one uncompressed file
	MaxTotal   int64 // all uncompressed files
	MaxLeaves  int
	MaxSigners int
}

// DefaultLimits are generous for real envelopes and small enough for a public upload form.
func DefaultLimits() Limits {
	return Limits{MaxSize: 256 << 20, MaxFiles: 1024, MaxFile: 128 << 20, MaxTotal: 512 << 20, MaxLeaves: 100000, MaxSigners: 100}
}

// IsBundle reports whether data starts like a ZIP archive (the only container of bundles).
func IsBundle(head []byte) bool { return bytes.HasPrefix(head, []byte("PK\x03\x04")) }

// Parse reads a bundle. It refuses anything that is not exactly a bundle: a damaged archive,
// an unsafe or duplicate path, a file the manifest does not list or whose digest differs, a
// missing listed file, a manifest of another format, and anything beyond the limits.
func Parse(data []byte, lim Limits) (*Bundle, error) {
	if lim == (Limits{}) {
		lim = DefaultLimits()
	}
	if int64(len(data)) > lim.MaxSize {
		return nil, fmt.Errorf("evidence: the bundle is %d bytes, more than the limit of %d", len(data), lim.MaxSize)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("evidence: not a ZIP archive: %w", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return nil, fmt.Errorf("evidence: %d files in the bundle, more than the limit of %d", len(zr.File), lim.MaxFiles)
	}
	b := &Bundle{Files: map[string][]byte{}}
	var manifest []byte
	var total int64
	for _, f := range zr.File {
		name := f.Name
		if err := checkPath(name); err != nil {
			return nil, fmt.Errorf("evidence: file %q: %w", name, err)
		}
		if _, dup := b.Files[name]; dup || (name == ManifestPath && manifest != nil) {
			return nil, fmt.Errorf("evidence: file %q appears twice", name)
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, fmt.Errorf("evidence: file %q: compression method %d is not supported", name, f.Method)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("evidence: file %q: %w", name, err)
		}
		content, err := io.ReadAll(io.LimitReader(rc, lim.MaxFile+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("evidence: file %q: %w", name, err)
		}
		if int64(len(content)) > lim.MaxFile {
			return nil, fmt.Errorf("evidence: file %q is larger than the limit of %d bytes", name, lim.MaxFile)
		}
		if total += int64(len(content)); total > lim.MaxTotal {
			return nil, fmt.Errorf("evidence: the files of the bundle exceed %d bytes uncompressed", lim.MaxTotal)
		}
		if name == ManifestPath {
			manifest = content
			continue
		}
		b.Files[name] = content
	}
	if manifest == nil {
		return nil, fmt.Errorf("evidence: no %s in the archive", ManifestPath)
	}
	d := json.NewDecoder(bytes.NewReader(manifest))
	d.DisallowUnknownFields()
	if err := d.Decode(&b.Manifest); err != nil {
		return nil, fmt.Errorf("evidence: %s: %w", ManifestPath, err)
	}
	if d.More() {
		return nil, fmt.Errorf("evidence: %s: data after the JSON object", ManifestPath)
	}
	m := &b.Manifest
	if m.Format != Format {
		return nil, fmt.Errorf("evidence: %s: format %q, this verifier reads %q", ManifestPath, m.Format, Format)
	}
	if len(m.Leaves) > lim.MaxLeaves {
		return nil, fmt.Errorf("evidence: %d leaves, more than the limit of %d", len(m.Leaves), lim.MaxLeaves)
	}
	if len(m.Signers) > lim.MaxSigners {
		return nil, fmt.Errorf("evidence: %d signers, more than the limit of %d", len(m.Signers), lim.MaxSigners)
	}
	for name, content := range b.Files {
		want, ok := m.Files[name]
		if !ok {
			return nil, fmt.Errorf("evidence: file %q is not listed in the manifest", name)
		}
		if got := digest(content); got != want {
			return nil, fmt.Errorf("evidence: file %q has SHA-256 %s, the manifest says %s", name, got, want)
		}
	}
	for name := range m.Files {
		if _, ok := b.Files[name]; !ok {
			return nil, fmt.Errorf("evidence: file %q listed in the manifest is missing from the archive", name)
		}
	}
	return b, nil
}

// checkPath accepts only clean, relative, slash-separated paths of printable ASCII.
func checkPath(name string) error {
	if name == "" || len(name) > 200 {
		return errors.New("empty or overlong path")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= 0x20 || c >= 0x7f || c == '\\' || c == ':' {
			return errors.New("path has a character outside printable ASCII or a separator other than /")
		}
	}
	if strings.HasPrefix(name, "/") || path.Clean(name) != name || name == "." || strings.HasPrefix(name, "../") || name == ".." {
		return errors.New("path is not a clean relative path")
	}
	if strings.HasSuffix(name, "/") {
		return errors.New("directories are not allowed")
	}
	return nil
}

// Marshal writes the bundle as a ZIP archive: manifest.json first, then the files in path
// order, with the manifest's file digests recomputed. Entries carry no timestamps other than
// the manifest's generation time, so the same bundle always gives the same bytes.
func (b *Bundle) Marshal() ([]byte, error) {
	m := b.Manifest
	m.Files = make(map[string]string, len(b.Files))
	names := make([]string, 0, len(b.Files))
	for name, content := range b.Files {
		if err := checkPath(name); err != nil || name == ManifestPath {
			return nil, fmt.Errorf("evidence: cannot store file %q in a bundle", name)
		}
		m.Files[name] = digest(content)
		names = append(names, name)
	}
	sort.Strings(names)
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("evidence: encoding the manifest: %w", err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	mod := m.GeneratedAt.UTC()
	if mod.IsZero() || mod.Year() < 1980 {
		mod = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	put := func(name string, content []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
		if err != nil {
			return err
		}
		_, err = w.Write(content)
		return err
	}
	if err := put(ManifestPath, append(mj, '\n')); err != nil {
		return nil, fmt.Errorf("evidence: writing the bundle: %w", err)
	}
	for _, name := range names {
		if err := put(name, b.Files[name]); err != nil {
			return nil, fmt.Errorf("evidence: writing the bundle: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("evidence: writing the bundle: %w", err)
	}
	b.Manifest.Files = m.Files
	return buf.Bytes(), nil
}

func digest(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// DocumentPath is where the final PDF of the document at position i (0-based) is stored.
// Positions, not identifiers, name files: identifiers may hold characters paths must not.
func DocumentPath(i int) string { return fmt.Sprintf("%s%d.pdf", documentDir, i+1) }

// CertificatePath is where the certificate of the signer at position i (0-based) is stored.
func CertificatePath(i int) string { return fmt.Sprintf("%s%d.pem", certificateDir, i+1) }
