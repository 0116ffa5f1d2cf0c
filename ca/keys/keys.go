// Package keys is Paraphe's key ceremony: it creates, once, the appliance's key hierarchy and
// loads it on every start.
//
// Guarantees:
//   - Init creates a complete hierarchy or refuses: it never overwrites a key file, a
//     certificate or an HSM object, and refuses with ErrInitialized when the directory already
//     holds a hierarchy (or part of one).
//   - Load creates no key but one: the data key (see DataKey) of a hierarchy made before data
//     keys existed, once, after the other keys have proved the passphrase, and without ever
//     replacing a file (Set.DataKeyCreated reports it). A wrong passphrase is reported as
//     ErrWrongPassphrase; every loaded private key is checked against its certificate, and
//     every certificate against its issuer, before Load returns.
//   - Software keys are stored only as encrypted PKCS#8 (PBES2: PBKDF2-HMAC-SHA256 with 600,000
//     iterations, AES-256-CBC) in files of mode 0600 under a directory of mode 0700; Load refuses
//     a plaintext key file. With a pkcs11: KMS URI the five ECDSA keys are generated inside the
//     token and never leave it. The Ed25519 ledger key is always an encrypted file, because the
//     PKCS#11 backend of go.step.sm/crypto has no Ed25519; so is the AES-256 data key, which
//     seals the secrets kept in the state store, because that backend has no symmetric AEAD
//     (see datakey.go).
//   - No key material and no passphrase or PIN appears in an error message.
//
// The hierarchy (see docs/OIDS.md for the profiles):
//
//	root CA (P-384, 20 y) ─┬─ issuing CA (P-256, 10 y, pathlen 0) ─┬─ signer certificates (package ca)
//	                       │                                        ├─ OCSP responder (P-256, 5 y)
//	                       │                                        └─ server TLS certificates
//	                       ├─ TSA unit (P-256, 10 y; private key usable 5 y)
//	                       └─ platform seal (P-256, 10 y)
//	ledger checkpoint key (Ed25519, signed-note signer; no certificate)
//	data key (AES-256-GCM; seals stored secrets: webhook signing keys, TOTP secrets)
//
// The root signs a long-lived CRL (root.crl in the key directory; see RenewRootCRL), published
// at BaseURL/ca/root.crl, which every certificate it issues names as its CRL distribution point:
// PAdES B-LT validation data then covers the whole chain.
//
// The TSA unit and the seal hang off the root, not off the online issuing CA, and the issuing CA
// carries an extended-key-usage list without timeStamping: a compromise of the issuing CA key
// cannot mint a timestamp authority.
package keys

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Errors reported by Init and Load. Test them with errors.Is.
var (
	// ErrInitialized: Init was asked to create a hierarchy where one (or part of one) exists.
	ErrInitialized = errors.New("keys: a key hierarchy already exists")
	// ErrNotInitialized: Load found no hierarchy in the directory.
	ErrNotInitialized = errors.New("keys: no key hierarchy (run the key ceremony first)")
	// ErrWrongPassphrase: a key file could not be decrypted with the passphrase given.
	ErrWrongPassphrase = errors.New("keys: wrong passphrase")
)

// Options configure Init and Load.
type Options struct {
	Dir              string // where key files / certificates live (e.g. DATA/keys); created 0700
	Passphrase       []byte // encrypts the software key files; required (also with an HSM: the ledger key is a file)
	KMS              string // "" = encrypted files in Dir; "pkcs11:module-path=…;token=…?pin-value=…" = HSM
	Organization     string // subject O of every certificate
	Country          string // subject C (ISO 3166 two letters)
	CommonNamePrefix string // optional, e.g. "Paraphe" (the default)
	LedgerKeyName    string // signed-note key name, e.g. the checkpoint origin host; recorded at Init

	// BaseURL is the appliance's public base URL, e.g. https://sign.example.org; required by
	// Init. It is baked into the certificates the root issues (issuing CA, TSA unit, platform
	// seal): CRL distribution point BaseURL/ca/root.crl, caIssuers BaseURL/ca/root.crt. It must
	// therefore be the production address before the key ceremony runs.
	BaseURL string
	// RootCRLValidity is nextUpdate − thisUpdate of the CRLs the root signs (Init and
	// RenewRootCRL); default DefaultRootCRLValidity. Long, because the root key is offline and
	// each new CRL is a key ceremony.
	RootCRLValidity time.Duration

	Now func() time.Time
}

// Set is a loaded hierarchy: certificates, the online signers, and the ledger note signer.
// The root CA private key is not loaded: nothing online signs with it.
type Set struct {
	Root, Issuing, TSA, OCSP, Seal                   *x509.Certificate
	IssuingSigner, TSASigner, OCSPSigner, SealSigner crypto.Signer

	LedgerSigner      note.Signer
	LedgerVerifierKey string           // "name+hash+base64", for note.NewVerifier
	LedgerPublicKey   crypto.PublicKey // ed25519.PublicKey

	// RootCRL is the root's current CRL (DER), as published at BaseURL/ca/root.crl; nil when the
	// key directory holds none (a hierarchy made before root CRLs existed). RootCRLNextUpdate is
	// its nextUpdate. See RootCRLStatus.
	RootCRL           []byte
	RootCRLNextUpdate time.Time

	// TSAKeyUsageEnd is the end of the TSA unit's private-key usage period (extension
	// 2.5.29.16): the TSA must stop issuing tokens with this key after it.
	TSAKeyUsageEnd time.Time
	// Backend is "files" or "pkcs11".
	Backend string
	// DataKeyCreated is true when Load created the data key, the directory holding a hierarchy
	// made before data keys existed: say so in the log.
	DataKeyCreated bool

	dataKey *DataKey
	close   func() error
}

// DataKey is the key that seals the secrets the appliance stores and must use again (webhook
// signing keys, TOTP secrets). It is loaded with the hierarchy and never exported.
func (s *Set) DataKey() *DataKey { return s.dataKey }

// Digests returns the SHA-256 of the DER of each certificate ("root", "issuing", "tsa", "ocsp",
// "seal") and of the 32-byte Ed25519 ledger public key ("ledger"), for the ledger's
// appliance.initialized event.
func (s *Set) Digests() map[string][32]byte {
	return map[string][32]byte{
		"root":    sha256.Sum256(s.Root.Raw),
		"issuing": sha256.Sum256(s.Issuing.Raw),
		"tsa":     sha256.Sum256(s.TSA.Raw),
		"ocsp":    sha256.Sum256(s.OCSP.Raw),
		"seal":    sha256.Sum256(s.Seal.Raw),
		"ledger":  sha256.Sum256(ledgerRaw(s.LedgerPublicKey)),
	}
}

// Close releases the key backend (the PKCS#11 session pool). The signers must not be used after.
func (s *Set) Close() error {
	if s == nil || s.close == nil {
		return nil
	}
	c := s.close
	s.close = nil
	return c()
}

// roles of the certified keys, in creation order. The names are file names and digest names.
const (
	roleRoot    = "root"
	roleIssuing = "issuing"
	roleTSA     = "tsa"
	roleOCSP    = "ocsp"
	roleSeal    = "seal"
	roleLedger  = "ledger"
)

var certRoles = []string{roleRoot, roleIssuing, roleTSA, roleOCSP, roleSeal}

// manifestName is written last by Init: its presence is what "initialised" means.
const manifestName = "hierarchy.json"

type manifest struct {
	Version int               `json:"version"`
	Backend string            `json:"backend"` // "files" or "pkcs11"
	Created time.Time         `json:"created"`
	Keys    map[string]string `json:"keys"`         // role → key reference (file name in Dir, or pkcs11 object URI)
	Certs   map[string]string `json:"certificates"` // role → PEM file name in Dir
	Ledger  struct {
		Key  string `json:"key"`  // encrypted key file name in Dir
		Name string `json:"name"` // signed-note key name
	} `json:"ledger"`
	// DataKey names the data key file made by the key ceremony; empty for hierarchies made
	// before data keys existed, whose data key Load creates once.
	DataKey string `json:"data_key,omitempty"`
}

// files that a hierarchy may own in Dir; Init refuses if any exists.
func ownedFiles() []string {
	out := []string{manifestName, roleLedger + ".key", roleLedger + ".vkey", rootCRLName, dataKeyName}
	for _, r := range certRoles {
		out = append(out, r+".key", r+".pem")
	}
	return out
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

func (o *Options) validate(init bool) error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("keys: Dir is required"))
	}
	if len(o.Passphrase) == 0 {
		errs = append(errs, errors.New("keys: a passphrase is required"))
	}
	if init {
		if strings.TrimSpace(o.Organization) == "" {
			errs = append(errs, errors.New("keys: Organization is required (subject O)"))
		} else if err := checkName("Organization", o.Organization); err != nil {
			errs = append(errs, err)
		}
		if !countryRE.MatchString(o.Country) {
			errs = append(errs, fmt.Errorf("keys: Country must be an ISO 3166 two-letter code in capitals, got %q", o.Country))
		}
		if o.CommonNamePrefix != "" {
			if err := checkName("CommonNamePrefix", o.CommonNamePrefix); err != nil {
				errs = append(errs, err)
			}
		}
		if o.LedgerKeyName == "" {
			errs = append(errs, errors.New("keys: LedgerKeyName is required (the signed-note key name)"))
		}
		if err := checkBaseURL(o.BaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	if o.RootCRLValidity < 0 || (o.RootCRLValidity > 0 && o.RootCRLValidity < 24*time.Hour) {
		errs = append(errs, fmt.Errorf("keys: RootCRLValidity %v is shorter than a day", o.RootCRLValidity))
	}
	if o.LedgerKeyName != "" {
		if !utf8.ValidString(o.LedgerKeyName) || strings.IndexFunc(o.LedgerKeyName, unicode.IsSpace) >= 0 || strings.Contains(o.LedgerKeyName, "+") {
			errs = append(errs, fmt.Errorf("keys: LedgerKeyName %q is not a valid note key name (no spaces, no '+')", o.LedgerKeyName))
		}
	}
	if o.KMS != "" && !strings.HasPrefix(o.KMS, "pkcs11:") {
		errs = append(errs, errors.New("keys: KMS must be empty (encrypted files) or a pkcs11: URI"))
	}
	return errors.Join(errs...)
}

func checkName(field, s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > 40 {
		return fmt.Errorf("keys: %s must be valid UTF-8 of at most 40 characters", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("keys: %s contains a control character", field)
		}
	}
	return nil
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Init runs the key ceremony: it creates every key and certificate of the hierarchy under
// o.Dir (and in the HSM when o.KMS is a pkcs11: URI) and returns the loaded Set. It refuses with
// ErrInitialized when o.Dir already holds a hierarchy or any file a hierarchy would own.
func Init(ctx context.Context, o Options) (*Set, error) {
	if err := o.validate(true); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: creating %s: %w", o.Dir, err)
	}
	if err := os.Chmod(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	for _, f := range ownedFiles() {
		if _, err := os.Lstat(filepath.Join(o.Dir, f)); err == nil {
			if f == manifestName {
				return nil, fmt.Errorf("%w in %s", ErrInitialized, o.Dir)
			}
			return nil, fmt.Errorf("%w: %s already exists in %s (an interrupted ceremony leaves files behind; move them away by hand to start again)", ErrInitialized, f, o.Dir)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("keys: %w", err)
		}
	}

	be, err := openBackend(ctx, &o)
	if err != nil {
		return nil, err
	}
	if err := be.preflight(); err != nil {
		be.close()
		return nil, err
	}
	set, err := ceremony(ctx, &o, be)
	if err != nil {
		be.close()
		return nil, err
	}
	return set, nil
}

// Load opens the hierarchy that Init created in o.Dir. It creates no key, except the data key
// of a hierarchy that has none (see the package documentation). A missing or expired root CRL
// does not fail Load: Set.RootCRLStatus reports it.
func Load(ctx context.Context, o Options) (*Set, error) {
	if err := o.validate(false); err != nil {
		return nil, err
	}
	m, err := readManifest(&o)
	if err != nil {
		return nil, err
	}
	be, err := openBackend(ctx, &o)
	if err != nil {
		return nil, err
	}
	set, err := load(&o, be, m)
	if err != nil {
		be.close()
		return nil, err
	}
	return set, nil
}

// readManifest reads the manifest of o.Dir and checks it against the options.
func readManifest(o *Options) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(o.Dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNotInitialized, o.Dir)
	} else if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("keys: %s is damaged: %w", manifestName, err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("keys: %s has unsupported version %d", manifestName, m.Version)
	}
	switch {
	case m.Backend == backendPKCS11 && o.KMS == "":
		return nil, errors.New("keys: the hierarchy's keys are in an HSM but no pkcs11: KMS URI is configured")
	case m.Backend == backendFiles && o.KMS != "":
		return nil, errors.New("keys: the hierarchy's keys are encrypted files but a KMS URI is configured")
	case m.Backend != backendFiles && m.Backend != backendPKCS11:
		return nil, fmt.Errorf("keys: %s names unknown backend %q", manifestName, m.Backend)
	}
	if o.LedgerKeyName != "" && o.LedgerKeyName != m.Ledger.Name {
		return nil, fmt.Errorf("keys: the ledger key was created with note name %q but %q is configured; the name is part of the verifier key and must not change", m.Ledger.Name, o.LedgerKeyName)
	}
	return &m, nil
}
