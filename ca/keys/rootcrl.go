package keys

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// The root CA's CRL. The root key is offline, so its CRL is long-lived: Init signs the first
// one (CRL number 1, nothing revoked), and RenewRootCRL — run in a key ceremony, with the
// passphrase or the HSM — signs each next one, before the previous one expires or whenever a
// certificate issued by the root (issuing CA, TSA unit, platform seal) must be revoked. The
// appliance publishes the current one at BaseURL + RootCRLPath.
const (
	// RootCRLPath and RootCertPath are the paths, under Options.BaseURL, of the root's CRL
	// (DER, the CRL distribution point of the certificates the root issues) and of the root
	// certificate (DER, their caIssuers).
	RootCRLPath  = "/ca/root.crl"
	RootCertPath = "/ca/root.crt"

	// DefaultRootCRLValidity is the default Options.RootCRLValidity.
	DefaultRootCRLValidity = 365 * 24 * time.Hour
	// RootCRLRenewBefore is how long before its nextUpdate RootCRLStatus starts asking for a
	// renewal.
	RootCRLRenewBefore = 30 * 24 * time.Hour

	rootCRLName = "root.crl"
)

// Root CRL conditions reported by Set.RootCRLStatus. Test them with errors.Is.
var (
	ErrRootCRLMissing  = errors.New("keys: the root CA publishes no CRL")
	ErrRootCRLExpired  = errors.New("keys: the root CA's CRL has expired")
	ErrRootCRLExpiring = errors.New("keys: the root CA's CRL expires soon")
)

// RootCRLStatus says whether the root CRL loaded with the Set can be published at now: nil
// while it is valid for more than RootCRLRenewBefore; otherwise an error wrapping
// ErrRootCRLMissing, ErrRootCRLExpired or ErrRootCRLExpiring that says what to do. The Set
// holds the root CRL read by Init or Load; a running appliance serves a renewed one (see
// ReadRootCRL) and reports on it with CheckRootCRL.
func (s *Set) RootCRLStatus(now time.Time) error {
	if s.RootCRL == nil {
		return CheckRootCRL(time.Time{}, now)
	}
	return CheckRootCRL(s.RootCRLNextUpdate, now)
}

// CheckRootCRL is RootCRLStatus for a root CRL whose nextUpdate is given; the zero time means
// there is none.
func CheckRootCRL(nextUpdate, now time.Time) error {
	const fix = "renew it in a key ceremony: paraphe ca renew-root-crl; a running appliance serves the new one within a minute"
	switch {
	case nextUpdate.IsZero():
		return fmt.Errorf("%w (%s)", ErrRootCRLMissing, fix)
	case !now.Before(nextUpdate):
		return fmt.Errorf("%w on %s (%s)", ErrRootCRLExpired, nextUpdate.UTC().Format(time.RFC3339), fix)
	case !now.Before(nextUpdate.Add(-RootCRLRenewBefore)):
		return fmt.Errorf("%w, on %s (%s)", ErrRootCRLExpiring, nextUpdate.UTC().Format(time.RFC3339), fix)
	}
	return nil
}

// ReadRootCRL reads the root CRL from the key directory dir, as RenewRootCRL last wrote it,
// and checks that root signed it and that it has a CRL number. It returns nil, nil when dir
// holds none. It needs no key: the appliance calls it to pick up a CRL renewed while it runs.
func ReadRootCRL(dir string, root *x509.Certificate) (*x509.RevocationList, error) {
	return readRootCRL(dir, root)
}

// RootCRLFile is the path of the root CRL in the key directory dir.
func RootCRLFile(dir string) string { return filepath.Join(dir, rootCRLName) }

// RevokedCert is a certificate issued by the root to put on its CRL.
type RevokedCert struct {
	Serial *big.Int
	// Reason is an RFC 5280 CRLReason: 0 unspecified, 1 keyCompromise, 2 cACompromise,
	// 3 affiliationChanged, 4 superseded, 5 cessationOfOperation, 9 privilegeWithdrawn or
	// 10 aACompromise (certificateHold and removeFromCRL are not supported: a revocation is
	// final).
	Reason int
	// RevokedAt is the revocation date; zero means now.
	RevokedAt time.Time
}

func validReason(r int) bool {
	switch r {
	case 0, 1, 2, 3, 4, 5, 9, 10:
		return true
	}
	return false
}

// RenewRootCRL signs, with the root key, the next CRL of the hierarchy in o.Dir and replaces
// root.crl with it atomically. The new CRL has the next CRL number (1 if the directory holds
// no root CRL yet), thisUpdate now and nextUpdate now + o.RootCRLValidity (at most the root's
// notAfter), and lists every entry of the previous CRL followed by revoke. It refuses a
// serial that is already on the CRL, the root's own serial and an unsupported reason, and
// never rewrites a root.crl it cannot read or verify. The root key is opened (passphrase or
// HSM) only for the time of the signature. Renewals must not run concurrently on one
// directory.
func RenewRootCRL(ctx context.Context, o Options, revoke []RevokedCert) (*x509.RevocationList, error) {
	if err := o.validate(false); err != nil {
		return nil, err
	}
	m, err := readManifest(&o)
	if err != nil {
		return nil, err
	}
	root, err := readCert(o.Dir, m.Certs[roleRoot])
	if err != nil {
		return nil, err
	}
	prev, err := readRootCRL(o.Dir, root)
	if err != nil {
		return nil, err
	}
	now := o.now().UTC().Truncate(time.Second)
	number := big.NewInt(1)
	var entries []x509.RevocationListEntry
	seen := map[string]bool{}
	if prev != nil {
		number.Add(prev.Number, number)
		for _, e := range prev.RevokedCertificateEntries {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: e.SerialNumber, RevocationTime: e.RevocationTime, ReasonCode: e.ReasonCode})
			seen[e.SerialNumber.String()] = true
		}
	}
	var errs []error
	for _, r := range revoke {
		switch {
		case r.Serial == nil || r.Serial.Sign() <= 0:
			errs = append(errs, errors.New("keys: a serial number to revoke must be positive"))
			continue
		case r.Serial.Cmp(root.SerialNumber) == 0:
			errs = append(errs, fmt.Errorf("keys: serial %x is the root's own: a root cannot revoke itself (retire the hierarchy instead)", r.Serial))
			continue
		case seen[r.Serial.String()]:
			errs = append(errs, fmt.Errorf("keys: serial %x is already on the root CRL", r.Serial))
			continue
		case !validReason(r.Reason):
			errs = append(errs, fmt.Errorf("keys: revocation reason %d of serial %x is not supported", r.Reason, r.Serial))
			continue
		}
		seen[r.Serial.String()] = true
		at := r.RevokedAt.UTC().Truncate(time.Second)
		if r.RevokedAt.IsZero() {
			at = now
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: new(big.Int).Set(r.Serial), RevocationTime: at, ReasonCode: r.Reason})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	be, err := openBackend(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer be.close()
	signer, err := be.loadCertified(m.Keys[roleRoot])
	if err != nil {
		return nil, err
	}
	if pk, ok := signer.Public().(publicKey); !ok || !pk.Equal(root.PublicKey) {
		return nil, errors.New("keys: the root key does not match the root certificate")
	}
	crl, err := signRootCRL(&o, root, signer, number, now, entries)
	if err != nil {
		return nil, err
	}
	if err := replaceFile(o.Dir, rootCRLName, crl.Raw, 0o644); err != nil {
		return nil, err
	}
	return crl, nil
}

// signRootCRL signs a root CRL (with the root's authority key identifier, which crypto/x509
// takes from the root's subject key identifier) and parses it back.
func signRootCRL(o *Options, root *x509.Certificate, signer crypto.Signer, number *big.Int, now time.Time, entries []x509.RevocationListEntry) (*x509.RevocationList, error) {
	validity := o.RootCRLValidity
	if validity == 0 {
		validity = DefaultRootCRLValidity
	}
	next := now.Add(validity)
	if next.After(root.NotAfter) {
		next = root.NotAfter
	}
	if !next.After(now) {
		return nil, errors.New("keys: the root certificate has expired: it can sign no CRL")
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                now,
		NextUpdate:                next,
		RevokedCertificateEntries: entries,
	}, root, signer)
	if err != nil {
		return nil, fmt.Errorf("keys: signing the root CRL: %w", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("keys: parsing the new root CRL: %w", err)
	}
	return crl, nil
}

// readRootCRL reads DIR/root.crl and checks that the root signed it. It returns nil and no
// error when there is none.
func readRootCRL(dir string, root *x509.Certificate) (*x509.RevocationList, error) {
	b, err := os.ReadFile(filepath.Join(dir, rootCRLName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	crl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("keys: %s is not a DER CRL: %w", rootCRLName, err)
	}
	if err := crl.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("keys: %s is not signed by the root CA: %w", rootCRLName, err)
	}
	if crl.Number == nil || crl.Number.Sign() <= 0 {
		return nil, fmt.Errorf("keys: %s has no CRL number", rootCRLName)
	}
	return crl, nil
}

// checkBaseURL accepts an absolute http(s) URL without query, fragment or credentials.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("keys: BaseURL %q must be an absolute http(s) URL without query, fragment or credentials (it is baked into the certificates the root issues)", s)
	}
	return nil
}

// replaceFile writes DIR/NAME atomically: a synced temporary file renamed over it, then the
// directory synced.
func replaceFile(dir, name string, data []byte, perm os.FileMode) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%x.tmp", name, rnd))
	if err := writeNew(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keys: replacing %s: %w", name, err)
	}
	return syncDir(dir)
}
