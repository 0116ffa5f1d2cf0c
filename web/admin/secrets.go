package admin

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Stored secrets. A user's TOTP secrets and an organisation's webhook secret are kept sealed
// with AccountsOptions.Secrets and bound to their owner's id, so that a sealed value copied to
// another record does not open. Versions before sealing stored them in clear: such values are
// read (as legacyUser, legacyOrg), sealed in memory, and rewritten sealed by NewAccounts.

func totpAD(userID string) []byte { return []byte("paraphe/admin/totp/v1\x00" + userID) }

func orgWebhookAD(orgID string) []byte {
	return []byte("paraphe/admin/org-webhook-secret/v1\x00" + orgID)
}

func (a *Accounts) seal(secret, ad []byte) ([]byte, error) {
	if a.opt.Secrets == nil {
		return nil, ErrNoSecrets
	}
	return a.opt.Secrets.Seal(secret, ad)
}

func (a *Accounts) open(sealed, ad []byte) ([]byte, error) {
	if a.opt.Secrets == nil {
		return nil, ErrNoSecrets
	}
	return a.opt.Secrets.Open(sealed, ad)
}

// legacyUser reads the clear TOTP secrets that versions before sealing stored.
type legacyUser struct {
	User
	ClearTOTP        []byte `json:"totp,omitempty"`
	ClearTOTPPending []byte `json:"totp_pending,omitempty"`
}

// decodeUser reads a stored user. A secret stored in clear is sealed in u (legacy is then
// true: the caller may store u to migrate it); without Secrets that fails with ErrNoSecrets,
// rather than reading the user as having no second factor.
func (a *Accounts) decodeUser(b []byte, u *User) (legacy bool, err error) {
	var l legacyUser
	if err := json.Unmarshal(b, &l); err != nil {
		return false, err
	}
	*u = l.User
	defer clear(l.ClearTOTP)
	defer clear(l.ClearTOTPPending)
	for _, f := range []struct {
		clear []byte
		dst   *[]byte
	}{{l.ClearTOTP, &u.TOTP}, {l.ClearTOTPPending, &u.TOTPPending}} {
		if len(f.clear) == 0 {
			continue
		}
		legacy = true
		if *f.dst, err = a.seal(f.clear, totpAD(u.ID)); err != nil {
			return false, fmt.Errorf("user %s has a second-factor secret stored in clear: %w", u.ID, err)
		}
	}
	return legacy, nil
}

// getUser reads user id; ErrNotFound when there is none.
func (a *Accounts) getUser(txn *badger.Txn, id string, u *User) error {
	_, err := a.getLegacyUser(txn, id, u)
	return err
}

func (a *Accounts) getLegacyUser(txn *badger.Txn, id string, u *User) (legacy bool, err error) {
	it, err := txn.Get([]byte(kUser + id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, err
	}
	err = it.Value(func(b []byte) error { legacy, err = a.decodeUser(b, u); return err })
	return legacy, err
}

// legacyOrg reads the clear webhook secret that versions before sealing stored.
type legacyOrg struct {
	Org
	ClearWebhookSecret string `json:"webhook_secret,omitempty"`
}

// decodeOrg reads a stored organisation, sealing a webhook secret stored in clear (see
// decodeUser).
func (a *Accounts) decodeOrg(b []byte, o *Org) (legacy bool, err error) {
	var l legacyOrg
	if err := json.Unmarshal(b, &l); err != nil {
		return false, err
	}
	*o = l.Org
	if l.ClearWebhookSecret != "" {
		if o.WebhookSecret, err = a.seal([]byte(l.ClearWebhookSecret), orgWebhookAD(o.ID)); err != nil {
			return false, fmt.Errorf("organisation %s has a webhook secret stored in clear: %w", o.ID, err)
		}
		legacy = true
	}
	return legacy, nil
}

// getOrg reads organisation id; ErrNotFound when there is none.
func (a *Accounts) getOrg(txn *badger.Txn, id string, o *Org) error {
	_, err := a.getLegacyOrg(txn, id, o)
	return err
}

func (a *Accounts) getLegacyOrg(txn *badger.Txn, id string, o *Org) (legacy bool, err error) {
	it, err := txn.Get([]byte(kOrg + id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, err
	}
	err = it.Value(func(b []byte) error { legacy, err = a.decodeOrg(b, o); return err })
	return legacy, err
}

// SealWebhookSecret seals the webhook secret of organisation orgID, for Org.WebhookSecret.
func (a *Accounts) SealWebhookSecret(orgID, secret string) ([]byte, error) {
	b, err := a.seal([]byte(secret), orgWebhookAD(orgID))
	if err != nil {
		return nil, fmt.Errorf("admin: webhook secret of organisation %s: %w", orgID, err)
	}
	return b, nil
}

// WebhookSecret opens the webhook secret of o; "" when o has none.
func (a *Accounts) WebhookSecret(o *Org) (string, error) {
	if len(o.WebhookSecret) == 0 {
		return "", nil
	}
	b, err := a.open(o.WebhookSecret, orgWebhookAD(o.ID))
	if err != nil {
		return "", fmt.Errorf("admin: webhook secret of organisation %s: %w", o.ID, err)
	}
	return string(b), nil
}

// migrateSecrets seals every secret that an earlier version stored in clear. Each record is
// reread and rewritten in its own transaction, so a concurrent change is never undone. Badger
// keeps the replaced values until its compaction discards them.
func (a *Accounts) migrateSecrets() error {
	var users, orgs []string
	err := a.db.View(func(txn *badger.Txn) error {
		if err := scanPrefix(txn, kUser, func(k string, v []byte) error {
			var l legacyUser
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if len(l.ClearTOTP) > 0 || len(l.ClearTOTPPending) > 0 {
				users = append(users, l.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		return scanPrefix(txn, kOrg, func(k string, v []byte) error {
			var l legacyOrg
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if l.ClearWebhookSecret != "" {
				orgs = append(orgs, l.ID)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("admin: sealing stored secrets: %w", err)
	}
	for _, id := range users {
		err := a.db.Update(func(txn *badger.Txn) error {
			var u User
			if legacy, err := a.getLegacyUser(txn, id, &u); err != nil || !legacy {
				return err
			}
			return set(txn, kUser+id, u)
		})
		if err != nil {
			return fmt.Errorf("admin: sealing the second factor of user %s: %w", id, err)
		}
	}
	for _, id := range orgs {
		err := a.db.Update(func(txn *badger.Txn) error {
			var o Org
			if legacy, err := a.getLegacyOrg(txn, id, &o); err != nil || !legacy {
				return err
			}
			return set(txn, kOrg+id, o)
		})
		if err != nil {
			return fmt.Errorf("admin: sealing the webhook secret of organisation %s: %w", id, err)
		}
	}
	return nil
}
