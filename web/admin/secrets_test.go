package admin

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ca/keys"
)

// grepDB searches every version of every key of db, deleted ones included, for each needle.
func grepDB(t *testing.T, db *badger.DB, needles ...[]byte) []string {
	t.Helper()
	var hits []string
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			for _, n := range needles {
				if bytes.Contains(v, n) || bytes.Contains(item.Key(), n) {
					hits = append(hits, fmt.Sprintf("%s@%d: %q", item.Key(), item.Version(), n))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// forms are the ways a secret may be written: raw, base64 (JSON's []byte), base32 (otpauth).
func forms(secret []byte) [][]byte {
	return [][]byte{secret, []byte(base64.StdEncoding.EncodeToString(secret)),
		[]byte(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))}
}

// TestSecretsAreSealedAtRest: a second factor being enrolled and once confirmed, and an
// organisation's webhook secret, are nowhere in the state store in clear.
func TestSecretsAreSealedAtRest(t *testing.T) {
	w := newWorld(t)
	c := w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	r := c.post("/admin/api/totp/begin", nil)
	var begun struct{ Secret string }
	r.json(t, &begun)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(begun.Secret, " ", ""))
	if err != nil || len(secret) != 20 {
		t.Fatalf("begin: %d %s", r.status, r.body)
	}
	if hits := grepDB(t, w.db, []byte("admin@notaires.test")); len(hits) == 0 {
		t.Fatal("control: the search does not find the user's email")
	}
	if hits := grepDB(t, w.db, forms(secret)...); len(hits) > 0 {
		t.Fatalf("the pending TOTP secret is in the state store in clear:\n%s", strings.Join(hits, "\n"))
	}
	step := w.clock.Now().Unix() / 30
	if r := c.post("/admin/api/totp/confirm", map[string]string{"code": TOTPCode(secret, step)}); r.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if hits := grepDB(t, w.db, forms(secret)...); len(hits) > 0 {
		t.Fatalf("the TOTP secret is in the state store in clear:\n%s", strings.Join(hits, "\n"))
	}
	u, err := w.app.Accounts().UserByEmail(t.Context(), "admin@notaires.test")
	if err != nil || len(u.TOTP) == 0 || bytes.Contains(u.TOTP, secret) {
		t.Fatalf("the user read back: %v; TOTP %x", err, u.TOTP)
	}

	hook := "whsec-org-0123456789-never-in-clear"
	if r := c.post("/admin/api/settings/webhook", map[string]string{"url": "https://erp.example.org/hook", "secret": hook}); r.status != http.StatusOK {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	id := c.mustCreate("Avec webhook")
	if e, _ := w.svc.Envelope(t.Context(), id); e.Webhook == nil || e.Webhook.URL != "https://erp.example.org/hook" {
		t.Fatalf("the envelope's webhook: %+v", e.Webhook)
	}
	if hits := grepDB(t, w.db, []byte(hook)); len(hits) > 0 {
		t.Fatalf("the webhook secret is in the state store in clear:\n%s", strings.Join(hits, "\n"))
	}
	org, err := w.app.Accounts().Org(t.Context(), u.Org)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := w.app.Accounts().WebhookSecret(org); err != nil || got != hook {
		t.Fatalf("the organisation's webhook secret opens as %q, %v", got, err)
	}
}

// TestLegacySecretsAreMigrated: secrets that a version before sealing stored in clear are
// sealed when the accounts open with Secrets, and keep working; without Secrets they are not
// read as absent.
func TestLegacySecretsAreMigrated(t *testing.T) {
	ctx := context.Background()
	db := memDB(t)
	fast := Argon2Params{Memory: 1024, Time: 1, Threads: 1}
	old, err := NewAccounts(db, AccountsOptions{Argon2: fast})
	if err != nil {
		t.Fatal(err)
	}
	org, _ := old.EnsureOrg(ctx, "Notaires")
	u, err := old.CreateUser(ctx, NewUser{Org: org.ID, Email: "a@n.test", Role: RoleAdmin, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	totp := []byte("12345678901234567890")
	hook := "legacy-webhook-secret-0123"
	rewrite := func(key string, fields map[string]any) {
		t.Helper()
		err := db.Update(func(txn *badger.Txn) error {
			it, err := txn.Get([]byte(key))
			if err != nil {
				return err
			}
			var m map[string]any
			if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
				return err
			}
			for k, v := range fields {
				m[k] = v
			}
			b, _ := json.Marshal(m)
			return txn.Set([]byte(key), b)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	rewrite(kUser+u.ID, map[string]any{"totp": totp})
	rewrite(kOrg+org.ID, map[string]any{"webhook_url": "https://erp.example.org/hook", "webhook_secret": hook})

	// Without Secrets a clear second factor is refused, never taken for no second factor.
	if _, err := old.Authenticate(ctx, "a@n.test", "correct horse battery", ""); !errors.Is(err, ErrNoSecrets) {
		t.Fatalf("sign-in over a clear second factor without Secrets: %v, want ErrNoSecrets", err)
	}

	dk, err := keys.NewEphemeralDataKey()
	if err != nil {
		t.Fatal(err)
	}
	acc, err := NewAccounts(db, AccountsOptions{Argon2: fast, Secrets: dk})
	if err != nil {
		t.Fatal(err)
	}
	latest := func(key string) []byte {
		var v []byte
		db.View(func(txn *badger.Txn) error {
			it, err := txn.Get([]byte(key))
			if err == nil {
				v, err = it.ValueCopy(nil)
			}
			return err
		})
		return v
	}
	for _, n := range forms(totp) {
		if bytes.Contains(latest(kUser+u.ID), n) {
			t.Fatalf("the TOTP secret is still in clear: %s", latest(kUser+u.ID))
		}
	}
	if v := latest(kOrg + org.ID); bytes.Contains(v, []byte(hook)) || !bytes.Contains(v, []byte("webhook_secret_sealed")) {
		t.Fatalf("the webhook secret is still in clear: %s", v)
	}

	// The migrated secrets work.
	if _, err := acc.Authenticate(ctx, "a@n.test", "correct horse battery", ""); !errors.Is(err, ErrTOTPRequired) {
		t.Fatalf("sign-in without a code: %v", err)
	}
	code := TOTPCode(totp, acc.opt.Now().Unix()/30)
	if _, err := acc.Authenticate(ctx, "a@n.test", "correct horse battery", code); err != nil {
		t.Fatalf("sign-in with the migrated second factor: %v", err)
	}
	o, _ := acc.Org(ctx, org.ID)
	if got, err := acc.WebhookSecret(o); err != nil || got != hook {
		t.Fatalf("migrated webhook secret %q, %v", got, err)
	}

	// A sealed secret is bound to its user: copied to another user, it does not open.
	v, err := acc.CreateUser(ctx, NewUser{Org: org.ID, Email: "b@n.test", Role: RoleSender, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := acc.User(ctx, u.ID)
	if _, err := acc.UpdateUser(ctx, org.ID, v.ID, func(x *User) error { x.TOTP = a.TOTP; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Authenticate(ctx, "b@n.test", "correct horse battery", code); err == nil || !errors.Is(err, keys.ErrUnsealable) {
		t.Fatalf("another user's sealed secret: %v, want ErrUnsealable", err)
	}
}
