package ceremony

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// otpKeyKey holds, sealed with Options.Secrets, the random seed of the key that codes are hashed
// with. The state store alone does not give it: whoever reads the database without the data key
// cannot test the 10⁶ possible codes against a stored hash.
const otpKeyKey = "ceremony/otp-key"

// otpKeyAD binds the sealed seed to its use.
var otpKeyAD = []byte("paraphe/ceremony/otp-key/v1")

// otpKeyLabel is the HKDF label of the HMAC key derived from the seed.
const otpKeyLabel = "paraphe/ceremony/otp-hmac/v1"

// otpHashVersion marks a code hash keyed with the OTP key (OTP.HashVersion). A hash without it
// was made by an earlier version, unkeyed: it is never verified (the signer asks for a new code).
const otpHashVersion = 2

// loadOTPKey returns the HMAC key of the codes: derived from a random seed made at the first
// start, kept sealed with Options.Secrets in the state store, so that the key is the same after
// a restart. A seed that the Secrets cannot open (the data key was replaced) is replaced: the
// codes sent before are refused and the signers ask for new ones. Without Secrets (tests only:
// the appliance always has its data key) the key lasts as long as the process, and it says so.
func (s *Service) loadOTPKey() ([]byte, error) {
	derive := func(seed []byte) ([]byte, error) {
		k, err := hkdf.Key(sha256.New, seed, nil, otpKeyLabel, 32)
		if err != nil {
			return nil, fmt.Errorf("ceremony: deriving the code key: %w", err)
		}
		return k, nil
	}
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("ceremony: code key: %w", err)
	}
	if s.opt.Secrets == nil {
		s.log.Warn("ceremony: no Secrets configured: codes are hashed with a key that lasts only this process (codes sent before a restart will be refused)")
		return derive(seed)
	}
	var out []byte
	err := s.opt.DB.Update(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(otpKeyKey))
		switch {
		case err == nil:
			sealed, err := it.ValueCopy(nil)
			if err != nil {
				return err
			}
			if stored, oerr := s.opt.Secrets.Open(sealed, otpKeyAD); oerr == nil {
				out = stored
				return nil
			}
			s.log.Warn("ceremony: the stored code key cannot be opened with this data key; a new one replaces it (codes already sent will be refused)")
		case !isNotFound(err):
			return err
		}
		sealed, err := s.opt.Secrets.Seal(seed, otpKeyAD)
		if err != nil {
			return fmt.Errorf("sealing: %w", err)
		}
		out = seed
		return txn.Set([]byte(otpKeyKey), sealed)
	})
	if err != nil {
		return nil, fmt.Errorf("ceremony: code key: %w", err)
	}
	return derive(out)
}

// codeHash binds a code to its envelope, signer and issuance, so that it is useless elsewhere,
// and keys it with the OTP key, so that the state store alone does not reveal it.
func codeHash(key []byte, envelope, signer string, issued time.Time, code string) []byte {
	if len(key) == 0 {
		panic("ceremony: code hash without a key")
	}
	h := hmac.New(sha256.New, key)
	for _, s := range []string{"paraphe-otp-v2", envelope, signer, issued.UTC().Format(time.RFC3339Nano), code} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}
