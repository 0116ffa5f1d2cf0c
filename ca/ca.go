// Package ca is Paraphe's certificate authority: it issues a short-lived certificate to each
// signer whose one-time code was verified, issues the appliance's own TLS certificates, and
// publishes revocation status by CRL and by an RFC 6960 OCSP responder.
//
// Guarantees:
//   - A signer certificate is issued only for a validated identity (non-empty name, an e-mail
//     address, a supported public key) and carries, in a non-critical extension, the ledger leaf
//     (index and RFC 6962 leaf hash) of the signer's otp.verified event; ParseBinding reads it
//     back with no other state, for verifiers.
//   - Every issued certificate is recorded in the state database (serial, SHA-256 of the
//     subject, validity, status, revocation) before it is returned. No personal data is
//     recorded: only the subject's digest.
//   - Serial numbers are 159-bit, 158 of them random.
//   - Revocation is durable before Revoke returns; the next CRL and every later OCSP response
//     reflect it. CRL numbers never decrease, across restarts.
//   - The HTTP handler never panics on its input: malformed OCSP requests get an OCSP
//     malformedRequest response, oversized bodies 413, wrong methods 405, unknown routes 404.
//
// Storage keys live under the "ca/" prefix of the shared Badger database.
package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.step.sm/crypto/x509util"

	"github.com/paraphe/paraphe/ca/keys"
)

// Options configure a CA.
type Options struct {
	Keys    *keys.Set  // the loaded hierarchy (issuing CA and OCSP responder keys are used)
	DB      *badger.DB // shared state database; this package writes only keys under "ca/"
	BaseURL string     // public base URL, e.g. http://127.0.0.1:8080 (CRL DP, OCSP and caIssuers URLs)

	SignerValidity time.Duration // lifetime of signer certificates; default 1h
	ServerValidity time.Duration // default lifetime of server (TLS) certificates; default 7 days
	CRLValidity    time.Duration // CRL nextUpdate − thisUpdate; default 24h (a new CRL is made after half of it)
	OCSPValidity   time.Duration // OCSP nextUpdate − thisUpdate; default 1h

	// Policies are the certificate policies of signer certificates; default
	// [OIDSignerPolicy] (see docs/OIDS.md).
	Policies []asn1.ObjectIdentifier

	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics are kept but not registered
	Now        func() time.Time
}

// CA issues and revokes certificates under the issuing CA of a key Set.
type CA struct {
	keys     *keys.Set
	db       *badger.DB
	log      *slog.Logger
	now      func() time.Time
	base     string
	signerV  time.Duration
	serverV  time.Duration
	crlV     time.Duration
	ocspV    time.Duration
	policies []x509.OID
	m        *metrics

	chainPEM, rootPEM []byte
	issuerHashes      map[crypto.Hash]issuerHash // for matching OCSP CertIDs
	responder         responder

	gen   atomic.Uint64 // bumped after every revocation: the cached CRL is stale
	crlMu sync.Mutex
	crl   cachedCRL

	rootCRL atomic.Pointer[x509.RevocationList] // nil: the hierarchy has none
}

// SignerRequest is a verified identity and the public key to certify.
type SignerRequest struct {
	Name         string // subject commonName: the signer's name as verified
	Email        string // subjectAltName rfc822Name
	Organization string // optional subject O
	PublicKey    crypto.PublicKey
	Binding      Binding
}

// New checks the options, prepares the OCSP responder and returns the CA.
func New(ctx context.Context, o Options) (*CA, error) {
	var errs []error
	if o.Keys == nil || o.Keys.Issuing == nil || o.Keys.IssuingSigner == nil || o.Keys.OCSP == nil || o.Keys.OCSPSigner == nil || o.Keys.Root == nil {
		errs = append(errs, errors.New("ca: Keys must be a loaded key set"))
	}
	if o.DB == nil {
		errs = append(errs, errors.New("ca: DB is required"))
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		errs = append(errs, fmt.Errorf("ca: BaseURL %q must be an absolute http(s) URL without query, fragment or credentials", o.BaseURL))
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"SignerValidity", &o.SignerValidity, time.Hour}, {"ServerValidity", &o.ServerValidity, 7 * 24 * time.Hour}, {"CRLValidity", &o.CRLValidity, 24 * time.Hour}, {"OCSPValidity", &o.OCSPValidity, time.Hour}} {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < time.Minute {
			errs = append(errs, fmt.Errorf("ca: %s %v is shorter than a minute", d.name, *d.v))
		}
	}
	if len(o.Policies) == 0 {
		o.Policies = []asn1.ObjectIdentifier{OIDSignerPolicy}
	}
	var policies []x509.OID
	for _, p := range o.Policies {
		ints := make([]uint64, len(p))
		for i, v := range p {
			ints[i] = uint64(v)
		}
		oid, err := x509.OIDFromInts(ints)
		if err != nil || len(p) < 2 {
			errs = append(errs, fmt.Errorf("ca: policy %v is not a valid OID", p))
			continue
		}
		policies = append(policies, oid)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	c := &CA{
		keys: o.Keys, db: o.DB, log: log, now: now,
		base:    strings.TrimRight(o.BaseURL, "/"),
		signerV: o.SignerValidity, serverV: o.ServerValidity, crlV: o.CRLValidity, ocspV: o.OCSPValidity,
		policies: policies,
	}
	if c.m, err = newMetrics(o.Registerer); err != nil {
		return nil, err
	}
	c.chainPEM = append(pemCert(o.Keys.Issuing), pemCert(o.Keys.Root)...)
	c.rootPEM = pemCert(o.Keys.Root)
	if c.issuerHashes, err = issuerHashes(o.Keys.Issuing); err != nil {
		return nil, err
	}
	if c.responder, err = newResponder(o.Keys.OCSP, o.Keys.OCSPSigner); err != nil {
		return nil, err
	}
	if err := o.Keys.OCSP.CheckSignatureFrom(o.Keys.Issuing); err != nil {
		return nil, fmt.Errorf("ca: the OCSP responder certificate is not issued by the issuing CA: %w", err)
	}
	if o.Keys.RootCRL != nil {
		crl, err := x509.ParseRevocationList(o.Keys.RootCRL)
		if err != nil {
			return nil, fmt.Errorf("ca: the key set's root CRL: %w", err)
		}
		if _, err := c.UpdateRootCRL(crl); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// RootCRL returns the root CRL the CA publishes, or nil when the hierarchy has none.
func (c *CA) RootCRL() *x509.RevocationList { return c.rootCRL.Load() }

// UpdateRootCRL publishes crl as the root CRL (at /ca/root.crl and in revocation data) if it
// is newer than the current one: it must be signed by the root and carry a CRL number; a
// higher number replaces the current CRL (true), the same CRL again changes nothing (false),
// and a lower number or another CRL with the same number is an error.
func (c *CA) UpdateRootCRL(crl *x509.RevocationList) (bool, error) {
	if err := crl.CheckSignatureFrom(c.keys.Root); err != nil {
		return false, fmt.Errorf("ca: root CRL not signed by the root CA: %w", err)
	}
	if crl.Number == nil || crl.Number.Sign() <= 0 {
		return false, errors.New("ca: root CRL without a CRL number")
	}
	for {
		cur := c.rootCRL.Load()
		if cur != nil {
			switch n := crl.Number.Cmp(cur.Number); {
			case n == 0 && bytes.Equal(crl.Raw, cur.Raw):
				return false, nil
			case n <= 0:
				return false, fmt.Errorf("ca: root CRL number %v is not above the published one, %v", crl.Number, cur.Number)
			}
		}
		if c.rootCRL.CompareAndSwap(cur, crl) {
			c.log.Info("ca: publishing the root CRL", "number", crl.Number.String(), "next_update", crl.NextUpdate, "revoked", len(crl.RevokedCertificateEntries))
			return true, nil
		}
	}
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Issuing returns the issuing CA certificate.
func (c *CA) Issuing() *x509.Certificate { return c.keys.Issuing }

// Root returns the root CA certificate.
func (c *CA) Root() *x509.Certificate { return c.keys.Root }

// Certificate kinds recorded in the store.
const (
	KindSigner = "signer"
	KindServer = "server"
)

// IssueSigner issues a signer certificate for a verified identity.
func (c *CA) IssueSigner(ctx context.Context, r SignerRequest) (*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var errs []error
	name := strings.TrimSpace(r.Name)
	if err := checkText("name", name, true); err != nil {
		errs = append(errs, err)
	}
	org := strings.TrimSpace(r.Organization)
	if err := checkText("organization", org, false); err != nil {
		errs = append(errs, err)
	}
	if err := checkEmail(r.Email); err != nil {
		errs = append(errs, err)
	}
	if err := checkPublicKey(r.PublicKey); err != nil {
		errs = append(errs, err)
	}
	ext, err := r.Binding.extension()
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: name}
	if org != "" {
		subject.Organization = []string{org}
	}
	t := &x509.Certificate{
		Subject:            subject,
		EmailAddresses:     []string{r.Email},
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{keys.OIDDocumentSigning},
		Policies:           c.policies,
		ExtraExtensions:    []pkix.Extension{ext},
	}
	return c.issue(ctx, KindSigner, t, r.PublicKey, c.signerV)
}

// IssueServer issues a TLS server certificate for the appliance's own hostnames (DNS names or
// IP addresses). validity ≤ 0 means Options.ServerValidity.
func (c *CA) IssueServer(ctx context.Context, hostnames []string, pub crypto.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if validity <= 0 {
		validity = c.serverV
	}
	if len(hostnames) == 0 || len(hostnames) > 100 {
		return nil, errors.New("ca: a server certificate needs 1 to 100 hostnames")
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		t.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	seen := map[string]bool{}
	for _, h := range hostnames {
		h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
		if seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			t.IPAddresses = append(t.IPAddresses, ip)
			continue
		}
		if !validHostname(h) {
			return nil, fmt.Errorf("ca: %q is not a valid hostname", h)
		}
		t.DNSNames = append(t.DNSNames, h)
	}
	if len(t.DNSNames) > 0 && len(t.DNSNames[0]) <= 64 {
		t.Subject.CommonName = t.DNSNames[0]
	}
	return c.issue(ctx, KindServer, t, pub, validity)
}

// issue completes the template (serial, validity, key identifiers, revocation pointers), signs
// it with the issuing CA and records it.
func (c *CA) issue(ctx context.Context, kind string, t *x509.Certificate, pub crypto.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	issuing := c.keys.Issuing
	now := c.now().UTC().Truncate(time.Second)
	t.NotBefore, t.NotAfter = now, now.Add(validity)
	if t.NotAfter.After(issuing.NotAfter) {
		t.NotAfter = issuing.NotAfter
	}
	if !now.Before(t.NotAfter) || now.Before(issuing.NotBefore) {
		return nil, errors.New("ca: the issuing CA certificate is not valid now")
	}
	var err error
	if t.SerialNumber, err = keys.RandomSerial(); err != nil {
		return nil, err
	}
	if t.SubjectKeyId, err = x509util.GenerateSubjectKeyID(pub); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	t.CRLDistributionPoints = []string{c.base + "/ca/crl"}
	t.OCSPServer = []string{c.base + "/ocsp"}
	t.IssuingCertificateURL = []string{c.base + "/ca/issuing.crt"}
	der, err := x509.CreateCertificate(rand.Reader, t, issuing, pub, c.keys.IssuingSigner)
	if err != nil {
		return nil, fmt.Errorf("ca: signing the certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing the new certificate: %w", err)
	}
	if err := c.record(ctx, kind, cert); err != nil {
		return nil, err
	}
	c.m.issued.WithLabelValues(kind).Inc()
	c.log.LogAttrs(ctx, slog.LevelInfo, "certificate issued", slog.String("kind", kind), slog.String("serial", serialHex(cert.SerialNumber)), slog.Time("not_after", cert.NotAfter))
	return cert, nil
}

func checkText(field, s string, required bool) error {
	switch {
	case s == "" && required:
		return fmt.Errorf("ca: %s is required", field)
	case !utf8.ValidString(s):
		return fmt.Errorf("ca: %s is not valid UTF-8", field)
	case utf8.RuneCountInString(s) > 64: // ub-common-name, ub-organization-name (RFC 5280)
		return fmt.Errorf("ca: %s is longer than 64 characters", field)
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("ca: %s contains a control character", field)
		}
	}
	return nil
}

func checkEmail(e string) error {
	if e == "" {
		return errors.New("ca: email is required")
	}
	if len(e) > 254 {
		return errors.New("ca: email is longer than 254 characters")
	}
	for i := 0; i < len(e); i++ {
		if e[i] <= 0x20 || e[i] >= 0x7f {
			return errors.New("ca: email must be printable ASCII (an rfc822Name is an IA5String)")
		}
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return fmt.Errorf("ca: %q is not a bare e-mail address", e)
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(domain, "@[]") {
		return fmt.Errorf("ca: %q is not a bare e-mail address", e)
	}
	return nil
}

func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return errors.New("ca: public key is nil")
		}
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return errors.New("ca: ECDSA keys must be on P-256, P-384 or P-521")
		}
		if _, err := k.ECDH(); err != nil {
			return errors.New("ca: ECDSA public key is not a valid point")
		}
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return errors.New("ca: public key is nil")
		}
		if k.N.BitLen() < 2048 || k.N.BitLen() > 8192 {
			return errors.New("ca: RSA keys must have 2048 to 8192 bits")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return errors.New("ca: Ed25519 public key has the wrong size")
		}
	case nil:
		return errors.New("ca: public key is required")
	default:
		return fmt.Errorf("ca: unsupported public key type %T", pub)
	}
	return nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}

func serialHex(s *big.Int) string { return s.Text(16) }
