package ca

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/dgraph-io/badger/v4"
)

type cachedCRL struct {
	der     []byte
	gen     uint64    // revocation generation it reflects
	refresh time.Time // make a new one from then on (half of its validity)
	next    time.Time // its nextUpdate
}

// CRL returns the current CRL (DER), signed by the issuing CA. It is cached until a
// revocation happens or half of its validity has passed; each new CRL gets the next CRL number,
// persisted so that numbers never decrease across restarts. Entries stay on the CRL until the
// revoked certificate has expired (RFC 5280 §3.3).
func (c *CA) CRL(ctx context.Context) ([]byte, error) {
	c.crlMu.Lock()
	defer c.crlMu.Unlock()
	now := c.now().UTC()
	gen := c.gen.Load() // read before scanning: a revocation during the scan makes it stale
	if c.crl.der != nil && c.crl.gen == gen && now.Before(c.crl.refresh) {
		return c.crl.der, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	thisUpdate := now.Truncate(time.Second)
	var entries []x509.RevocationListEntry
	number := new(big.Int)
	err := c.update(ctx, func(txn *badger.Txn) error {
		entries = entries[:0]
		if err := func() error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixRevoked), PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				item := it.Item()
				serial, ok := new(big.Int).SetString(string(item.Key()[len(prefixRevoked):]), 16)
				if !ok {
					return fmt.Errorf("ca: bad revocation key %q", item.Key())
				}
				var r revocation
				if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err != nil {
					return err
				}
				if r.NotAfter.Before(thisUpdate) {
					continue // expired: may leave the CRL
				}
				entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: r.RevokedAt, ReasonCode: r.Reason})
			}
			return nil
		}(); err != nil {
			return err
		}
		// The next CRL number, persisted before the CRL is signed: a failure leaves a gap,
		// never a repeat.
		number.SetInt64(0)
		if item, err := txn.Get([]byte(keyCRLNumber)); err == nil {
			if err := item.Value(func(v []byte) error { number.SetBytes(v); return nil }); err != nil {
				return err
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		number.Add(number, big.NewInt(1))
		return txn.Set([]byte(keyCRLNumber), number.Bytes())
	})
	if err != nil {
		return nil, fmt.Errorf("ca: making the CRL: %w", err)
	}
	next := thisUpdate.Add(c.crlV)
	if next.After(c.keys.Issuing.NotAfter) {
		next = c.keys.Issuing.NotAfter
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                thisUpdate,
		NextUpdate:                next,
		RevokedCertificateEntries: entries,
	}, c.keys.Issuing, c.keys.IssuingSigner)
	if err != nil {
		return nil, fmt.Errorf("ca: signing the CRL: %w", err)
	}
	c.crl = cachedCRL{der: der, gen: gen, refresh: thisUpdate.Add(c.crlV / 2), next: next}
	c.m.crlMade.Inc()
	return der, nil
}
