package ca

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Badger keys (all under "ca/"):
//
//	ca/cert/<serial hex>     → record (JSON)   every issued certificate
//	ca/revoked/<serial hex>  → revocation (JSON)  index of revoked certificates, for the CRL
//	ca/crl/number            → big-endian CRL number of the last CRL made
const (
	prefixCert    = "ca/cert/"
	prefixRevoked = "ca/revoked/"
	keyCRLNumber  = "ca/crl/number"
)

// Status of a recorded certificate.
const (
	StatusGood    = "good"
	StatusRevoked = "revoked"
)

// Record is what the CA keeps about an issued certificate. It holds no personal data: the
// subject appears only as a SHA-256 digest of its DER.
type Record struct {
	Serial        string    `json:"serial"` // lowercase hex
	Kind          string    `json:"kind"`
	SubjectSHA256 string    `json:"subject_sha256"`
	NotBefore     time.Time `json:"not_before"`
	NotAfter      time.Time `json:"not_after"`
	Status        string    `json:"status"`
	RevokedAt     time.Time `json:"revoked_at,omitzero"`
	Reason        int       `json:"reason,omitempty"`
}

type revocation struct {
	RevokedAt time.Time `json:"revoked_at"`
	Reason    int       `json:"reason"`
	NotAfter  time.Time `json:"not_after"`
}

// Errors of Revoke and Lookup.
var (
	ErrUnknownSerial  = errors.New("ca: no certificate with this serial number")
	ErrAlreadyRevoked = errors.New("ca: certificate already revoked")
	ErrBadReason      = errors.New("ca: unsupported revocation reason")
)

// Revocation reasons accepted by Revoke (RFC 5280 §5.3.1). certificateHold (6) and
// removeFromCRL (8) are refused: a revocation here is final.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

func certKey(serial *big.Int) []byte    { return []byte(prefixCert + serialHex(serial)) }
func revokedKey(serial *big.Int) []byte { return []byte(prefixRevoked + serialHex(serial)) }

// update runs fn in a read-write transaction, retrying on conflicts.
func (c *CA) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for attempt := 0; ; attempt++ {
		err := c.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) || attempt >= 16 {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (c *CA) record(ctx context.Context, kind string, cert *x509.Certificate) error {
	sum := sha256.Sum256(cert.RawSubject)
	rec := Record{
		Serial:        serialHex(cert.SerialNumber),
		Kind:          kind,
		SubjectSHA256: hex.EncodeToString(sum[:]),
		NotBefore:     cert.NotBefore.UTC(),
		NotAfter:      cert.NotAfter.UTC(),
		Status:        StatusGood,
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	k := certKey(cert.SerialNumber)
	err = c.update(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(k); err == nil {
			return errors.New("ca: serial number collision")
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(k, v)
	})
	if err != nil {
		return fmt.Errorf("ca: recording certificate %s: %w", rec.Serial, err)
	}
	return nil
}

// Lookup returns the record of a certificate by serial number (ErrUnknownSerial if none).
func (c *CA) Lookup(ctx context.Context, serial *big.Int) (Record, error) {
	var rec Record
	if serial == nil {
		return rec, ErrUnknownSerial
	}
	err := c.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(certKey(serial))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrUnknownSerial
		} else if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { return json.Unmarshal(v, &rec) })
	})
	return rec, err
}

// Revoke marks a certificate revoked, durably, with an RFC 5280 reason code. An unknown serial
// (ErrUnknownSerial) or a certificate already revoked (ErrAlreadyRevoked) is an error.
func (c *CA) Revoke(ctx context.Context, serial *big.Int, reason int) error {
	switch reason {
	case ReasonUnspecified, ReasonKeyCompromise, ReasonCACompromise, ReasonAffiliationChanged,
		ReasonSuperseded, ReasonCessationOfOperation, ReasonPrivilegeWithdrawn, ReasonAACompromise:
	default:
		return fmt.Errorf("%w: %d", ErrBadReason, reason)
	}
	if serial == nil || serial.Sign() <= 0 {
		return ErrUnknownSerial
	}
	at := c.now().UTC().Truncate(time.Second)
	err := c.update(ctx, func(txn *badger.Txn) error {
		it, err := txn.Get(certKey(serial))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrUnknownSerial
		} else if err != nil {
			return err
		}
		var rec Record
		if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
			return err
		}
		if rec.Status == StatusRevoked {
			return ErrAlreadyRevoked
		}
		rec.Status, rec.RevokedAt, rec.Reason = StatusRevoked, at, reason
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		r, err := json.Marshal(revocation{RevokedAt: at, Reason: reason, NotAfter: rec.NotAfter})
		if err != nil {
			return err
		}
		if err := txn.Set(certKey(serial), v); err != nil {
			return err
		}
		return txn.Set(revokedKey(serial), r)
	})
	if err != nil {
		return err
	}
	c.gen.Add(1)
	c.m.revoked.Inc()
	c.log.LogAttrs(ctx, slog.LevelInfo, "certificate revoked", slog.String("serial", serialHex(serial)), slog.Int("reason", reason))
	return nil
}
