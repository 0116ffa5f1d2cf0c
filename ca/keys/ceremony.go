package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.step.sm/crypto/kms/apiv1"
	"go.step.sm/crypto/x509util"
	"golang.org/x/mod/sumdb/note"
)

// Lifetimes of the hierarchy. Each certificate also ends no later than its issuer.
const (
	rootYears     = 20
	issuingYears  = 10
	tsaYears      = 10 // certificate; tokens must stay verifiable after the key is retired
	tsaKeyYears   = 5  // privateKeyUsagePeriod: the TSA signs with this key for 5 years at most
	ocspYears     = 5
	sealYears     = 10
	backdate      = 5 * time.Minute // notBefore slightly in the past, for clock skew
	serialEntropy = 20              // bytes; see RandomSerial
)

// Object identifiers of the profiles.
var (
	// OIDPrivateKeyUsagePeriod is the privateKeyUsagePeriod extension (RFC 3280 §4.2.1.4).
	OIDPrivateKeyUsagePeriod = asn1.ObjectIdentifier{2, 5, 29, 16}
	// OIDDocumentSigning is the id-kp-documentSigning extended key usage (RFC 9336).
	OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
)

// Templates (go.step.sm/crypto/x509util). Go's crypto/x509 always writes extended key usage as
// non-critical; the TSA unit needs it critical (RFC 3161 §2.3), so it is written raw.
const (
	rootTemplate = `{
	"subject": {{ toJson .Subject }},
	"issuer": {{ toJson .Subject }},
	"keyUsage": ["certSign", "crlSign"],
	"basicConstraints": {"isCA": true, "maxPathLen": 1}
}`
	// The issuing CA may certify signers, the OCSP responder and server TLS certificates, and
	// nothing else: its extended key usage excludes timeStamping.
	issuingTemplate = `{
	"subject": {{ toJson .Subject }},
	"keyUsage": ["certSign", "crlSign"],
	"extKeyUsage": ["emailProtection", "ocspSigning", "serverAuth"],
	"unknownExtKeyUsage": ["1.3.6.1.5.5.7.3.36"],
	"basicConstraints": {"isCA": true, "maxPathLen": 0}
}`
	tsaTemplate = `{
	"subject": {{ toJson .Subject }},
	"keyUsage": ["digitalSignature", "contentCommitment"],
	"extensions": [
		{"id": "2.5.29.37", "critical": true, "value": {{ asn1Seq (asn1Enc "oid:1.3.6.1.5.5.7.3.8") | toJson }}},
		{"id": "2.5.29.16", "critical": false, "value": {{ toJson .Insecure.User.privateKeyUsagePeriod }}}
	]
}`
	ocspTemplate = `{
	"subject": {{ toJson .Subject }},
	"keyUsage": ["digitalSignature"],
	"extKeyUsage": ["ocspSigning"],
	"extensions": [
		{"id": "1.3.6.1.5.5.7.48.1.5", "critical": false, "value": "BQA="}
	]
}`
	sealTemplate = `{
	"subject": {{ toJson .Subject }},
	"keyUsage": ["digitalSignature", "contentCommitment"],
	"unknownExtKeyUsage": ["1.3.6.1.5.5.7.3.36"]
}`
)

// RandomSerial returns a positive serial number of 159 bits, 158 of them random: within RFC
// 5280's 20 octets, never with a leading zero octet.
func RandomSerial() (*big.Int, error) {
	b := make([]byte, serialEntropy)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	b[0] = b[0]&0x3f | 0x40
	return new(big.Int).SetBytes(b), nil
}

type privateKeyUsagePeriod struct {
	NotBefore time.Time `asn1:"optional,tag:0,generalized"`
	NotAfter  time.Time `asn1:"optional,tag:1,generalized"`
}

func (o *Options) subject(role string) x509util.Subject {
	prefix := o.CommonNamePrefix
	if prefix == "" {
		prefix = "Paraphe"
	}
	cn := map[string]string{
		roleRoot:    "Root CA",
		roleIssuing: "Signer CA",
		roleTSA:     "Timestamping Unit 1",
		roleOCSP:    "OCSP Responder",
		roleSeal:    "Platform Seal",
	}[role]
	return x509util.Subject{
		Country:      []string{o.Country},
		Organization: []string{o.Organization},
		CommonName:   prefix + " " + cn,
	}
}

// issue builds a certificate from an x509util template and signs it. A certificate issued by
// the root (parent != nil) names the root's CRL and certificate at base (o.BaseURL).
func issue(tmpl string, data x509util.TemplateData, pub crypto.PublicKey, notBefore, notAfter time.Time, parent *x509.Certificate, signer crypto.Signer, base string) (*x509.Certificate, error) {
	c, err := x509util.NewCertificateFromX509(&x509.Certificate{PublicKey: pub}, x509util.WithTemplate(tmpl, data))
	if err != nil {
		return nil, err
	}
	t := c.GetCertificate()
	if parent != nil && notAfter.After(parent.NotAfter) {
		notAfter = parent.NotAfter
	}
	t.NotBefore, t.NotAfter = notBefore.UTC(), notAfter.UTC()
	if t.SerialNumber, err = RandomSerial(); err != nil {
		return nil, err
	}
	if parent == nil { // self-signed
		if t.SubjectKeyId, err = x509util.GenerateSubjectKeyID(pub); err != nil {
			return nil, err
		}
		parent = t
	} else if base != "" {
		t.CRLDistributionPoints = []string{base + RootCRLPath}
		t.IssuingCertificateURL = []string{base + RootCertPath}
	}
	return x509util.CreateCertificate(t, parent, pub, signer)
}

type keyed struct {
	signer crypto.Signer
	ref    string
}

// ceremony creates the keys and certificates and records them. Any file it creates is
// written exclusively; the manifest is written last.
func ceremony(ctx context.Context, o *Options, be *backend) (*Set, error) {
	algs := map[string]apiv1.SignatureAlgorithm{
		roleRoot:    apiv1.ECDSAWithSHA384,
		roleIssuing: apiv1.ECDSAWithSHA256,
		roleTSA:     apiv1.ECDSAWithSHA256,
		roleOCSP:    apiv1.ECDSAWithSHA256,
		roleSeal:    apiv1.ECDSAWithSHA256,
		roleLedger:  apiv1.PureEd25519,
	}
	// Encrypting a key file costs a 600,000-round PBKDF2: generate the keys in parallel.
	keys := map[string]keyed{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 0)
	var dataKey *DataKey
	wg.Go(func() {
		dk, err := createDataKey(o.Dir, o.Passphrase)
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%w: %s already exists in %s", ErrInitialized, dataKeyName, o.Dir)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		dataKey = dk
	})
	for role, alg := range algs {
		wg.Go(func() {
			var s crypto.Signer
			var ref string
			var err error
			if role == roleLedger {
				s, ref, err = be.createFile(role, alg)
			} else {
				s, ref, err = be.createCertified(role, alg)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			keys[role] = keyed{s, ref}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	now := o.now().UTC().Truncate(time.Second)
	nb := now.Add(-backdate)
	certs := map[string]*x509.Certificate{}
	mk := func(role, tmpl string, data x509util.TemplateData, years int, parentRole string) error {
		if data == nil {
			data = x509util.TemplateData{}
		}
		data.SetSubject(o.subject(role))
		var parent *x509.Certificate
		signer := keys[role].signer
		if parentRole != "" {
			parent, signer = certs[parentRole], keys[parentRole].signer
		}
		base := ""
		if parentRole == roleRoot {
			base = strings.TrimRight(o.BaseURL, "/")
		}
		c, err := issue(tmpl, data, keys[role].signer.Public(), nb, now.AddDate(years, 0, 0), parent, signer, base)
		if err != nil {
			return fmt.Errorf("keys: making the %s certificate: %w", role, err)
		}
		certs[role] = c
		return nil
	}
	pkup, err := asn1.Marshal(privateKeyUsagePeriod{NotBefore: nb, NotAfter: now.AddDate(tsaKeyYears, 0, 0)})
	if err != nil {
		return nil, err
	}
	tsaData := x509util.TemplateData{}
	tsaData.SetUserData(map[string]any{"privateKeyUsagePeriod": base64.StdEncoding.EncodeToString(pkup)})
	for _, step := range []struct {
		role, tmpl string
		data       x509util.TemplateData
		years      int
		parent     string
	}{
		{roleRoot, rootTemplate, nil, rootYears, ""},
		{roleIssuing, issuingTemplate, nil, issuingYears, roleRoot},
		{roleTSA, tsaTemplate, tsaData, tsaYears, roleRoot},
		{roleOCSP, ocspTemplate, nil, ocspYears, roleIssuing},
		{roleSeal, sealTemplate, nil, sealYears, roleRoot},
	} {
		if err := mk(step.role, step.tmpl, step.data, step.years, step.parent); err != nil {
			return nil, err
		}
	}

	// The root's first CRL: nothing is revoked yet.
	crl, err := signRootCRL(o, certs[roleRoot], keys[roleRoot].signer, big.NewInt(1), now, nil)
	if err != nil {
		return nil, err
	}
	if err := writeNew(filepath.Join(o.Dir, rootCRLName), crl.Raw, 0o644); err != nil {
		return nil, err
	}

	m := manifest{Version: 1, Backend: be.kind(), Created: now, Keys: map[string]string{}, Certs: map[string]string{}, DataKey: dataKeyName}
	m.Ledger.Key = keys[roleLedger].ref
	m.Ledger.Name = o.LedgerKeyName
	for _, role := range certRoles {
		name := role + ".pem"
		if err := writeNew(filepath.Join(o.Dir, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[role].Raw}), 0o644); err != nil {
			return nil, err
		}
		m.Keys[role] = keys[role].ref
		m.Certs[role] = name
	}
	set, err := assemble(o, &m, certs, map[string]crypto.Signer{
		roleIssuing: keys[roleIssuing].signer,
		roleTSA:     keys[roleTSA].signer,
		roleOCSP:    keys[roleOCSP].signer,
		roleSeal:    keys[roleSeal].signer,
	}, keys[roleLedger].signer)
	if err != nil {
		return nil, err
	}
	set.RootCRL, set.RootCRLNextUpdate = crl.Raw, crl.NextUpdate
	set.dataKey = dataKey
	if err := writeNew(filepath.Join(o.Dir, roleLedger+".vkey"), []byte(set.LedgerVerifierKey+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := syncDir(o.Dir); err != nil {
		return nil, err
	}
	if err := writeManifest(o.Dir, &m); err != nil {
		return nil, err
	}
	set.close = be.close
	return set, nil
}

// writeManifest publishes the manifest atomically and without ever replacing one: it is
// written to a temporary name, synced, then hard-linked to its final name (which fails if
// the name exists).
func writeManifest(dir string, m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%x.tmp", manifestName, rnd))
	if err := writeNew(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, filepath.Join(dir, manifestName)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w in %s", ErrInitialized, dir)
		}
		return fmt.Errorf("keys: %w", err)
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return syncDir(dir)
}

// load reads the certificates and opens the online keys named by the manifest.
func load(o *Options, be *backend, m *manifest) (*Set, error) {
	certs := map[string]*x509.Certificate{}
	for _, role := range certRoles {
		c, err := readCert(o.Dir, m.Certs[role])
		if err != nil {
			return nil, err
		}
		certs[role] = c
	}
	roles := []string{roleIssuing, roleTSA, roleOCSP, roleSeal, roleLedger}
	signers := make([]crypto.Signer, len(roles))
	errs := make([]error, len(roles))
	var wg sync.WaitGroup
	for i, role := range roles {
		wg.Go(func() {
			if role == roleLedger {
				signers[i], errs[i] = be.loadFile(m.Ledger.Key)
			} else {
				signers[i], errs[i] = be.loadCertified(m.Keys[role])
			}
		})
	}
	var dataKey *DataKey
	var dataErr error
	wg.Go(func() { dataKey, dataErr = readDataKey(o.Dir, o.Passphrase) })
	wg.Wait()
	dataMissing := errors.Is(dataErr, os.ErrNotExist)
	if !dataMissing {
		errs = append(errs, dataErr)
	}
	// A wrong passphrase fails every file alike: report it once.
	for _, err := range errs {
		if errors.Is(err, ErrWrongPassphrase) {
			return nil, err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	created := false
	if dataMissing && m.DataKey != "" {
		// The key ceremony made this data key: a new one could not open what the old one
		// sealed, so its loss is an error to repair from backup, never silently papered over.
		return nil, fmt.Errorf("%w: %s, made by the key ceremony, is missing from %s; restore it from the backup of the key files", ErrDataKeyMissing, m.DataKey, o.Dir)
	}
	if dataMissing {
		// A hierarchy made before data keys existed. The other keys have just proved the
		// passphrase, so the new file is encrypted under the right one. Creating a missing file
		// replaces nothing; if another process created it meanwhile, its key is used.
		dataKey, dataErr = createDataKey(o.Dir, o.Passphrase)
		if errors.Is(dataErr, os.ErrExist) {
			dataKey, dataErr = readDataKey(o.Dir, o.Passphrase)
		} else {
			created = dataErr == nil
		}
		if dataErr != nil {
			return nil, dataErr
		}
	}
	sm := map[string]crypto.Signer{}
	for i, role := range roles[:4] {
		sm[role] = signers[i]
	}
	set, err := assemble(o, m, certs, sm, signers[4])
	if err != nil {
		return nil, err
	}
	if vk, err := os.ReadFile(filepath.Join(o.Dir, roleLedger+".vkey")); err == nil && string(vk) != set.LedgerVerifierKey+"\n" {
		return nil, fmt.Errorf("keys: %s.vkey does not match the ledger key", roleLedger)
	}
	crl, err := readRootCRL(o.Dir, set.Root)
	if err != nil {
		return nil, err
	}
	if crl != nil {
		set.RootCRL, set.RootCRLNextUpdate = crl.Raw, crl.NextUpdate
	}
	set.dataKey, set.DataKeyCreated = dataKey, created
	set.close = be.close
	return set, nil
}

func readCert(dir, name string) (*x509.Certificate, error) {
	if name == "" || name != filepath.Base(name) {
		return nil, fmt.Errorf("keys: certificate reference %q is not a file name in the key directory", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("keys: %s is not a single PEM certificate", name)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", name, err)
	}
	return c, nil
}

type publicKey interface{ Equal(crypto.PublicKey) bool }

// assemble checks that the pieces form the hierarchy (keys match certificates, certificates
// chain as designed) and builds the Set.
func assemble(o *Options, m *manifest, certs map[string]*x509.Certificate, signers map[string]crypto.Signer, ledger crypto.Signer) (*Set, error) {
	for role, s := range signers {
		if pk, ok := s.Public().(publicKey); !ok || !pk.Equal(certs[role].PublicKey) {
			return nil, fmt.Errorf("keys: the %s key does not match the %s certificate", role, role)
		}
	}
	for role, parent := range map[string]string{roleRoot: roleRoot, roleIssuing: roleRoot, roleTSA: roleRoot, roleSeal: roleRoot, roleOCSP: roleIssuing} {
		if err := certs[role].CheckSignatureFrom(certs[parent]); err != nil {
			return nil, fmt.Errorf("keys: the %s certificate is not signed by the %s CA: %w", role, parent, err)
		}
	}
	pub, ok := ledger.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("keys: the ledger key is a %T, not Ed25519", ledger.Public())
	}
	ns, vkey, err := newNoteSigner(m.Ledger.Name, ledger)
	if err != nil {
		return nil, err
	}
	end, err := keyUsageEnd(certs[roleTSA])
	if err != nil {
		return nil, err
	}
	return &Set{
		Root: certs[roleRoot], Issuing: certs[roleIssuing], TSA: certs[roleTSA], OCSP: certs[roleOCSP], Seal: certs[roleSeal],
		IssuingSigner: signers[roleIssuing], TSASigner: signers[roleTSA], OCSPSigner: signers[roleOCSP], SealSigner: signers[roleSeal],
		LedgerSigner: ns, LedgerVerifierKey: vkey, LedgerPublicKey: pub,
		TSAKeyUsageEnd: end,
		Backend:        m.Backend,
	}, nil
}

func keyUsageEnd(c *x509.Certificate) (time.Time, error) {
	for _, e := range c.Extensions {
		if e.Id.Equal(OIDPrivateKeyUsagePeriod) {
			var p privateKeyUsagePeriod
			if rest, err := asn1.Unmarshal(e.Value, &p); err != nil || len(rest) != 0 || p.NotAfter.IsZero() {
				return time.Time{}, errors.New("keys: the TSA certificate has a malformed privateKeyUsagePeriod")
			}
			return p.NotAfter, nil
		}
	}
	return time.Time{}, errors.New("keys: the TSA certificate has no privateKeyUsagePeriod")
}

func ledgerRaw(pub crypto.PublicKey) []byte {
	if k, ok := pub.(ed25519.PublicKey); ok {
		return k
	}
	return nil
}

// noteSigner signs C2SP signed notes with an Ed25519 crypto.Signer.
type noteSigner struct {
	name string
	hash uint32
	key  crypto.Signer
}

func newNoteSigner(name string, key crypto.Signer) (note.Signer, string, error) {
	pub, _ := key.Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, "", fmt.Errorf("keys: ledger verifier key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("keys: ledger verifier key: %w", err)
	}
	return &noteSigner{name: name, hash: v.KeyHash(), key: key}, vkey, nil
}

func (s *noteSigner) Name() string    { return s.name }
func (s *noteSigner) KeyHash() uint32 { return s.hash }
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	return s.key.Sign(rand.Reader, msg, crypto.Hash(0))
}
