package signer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ceremony"
)

// expireAndDeliver expires envelope id and runs the scheduler until its webhook is delivered.
func expireAndDeliver(t *testing.T, w *world, id string, hooks *hookSink) {
	t.Helper()
	w.clock.Advance(97 * time.Hour)
	for range 3 {
		if err := w.svc.RunDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(time.Minute)
	}
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if hooks.bad != 0 || len(hooks.got) != 1 || hooks.got[0].Type != ceremony.EvEnvelopeExpired || hooks.got[0].Envelope != id {
		t.Fatalf("webhooks: tries=%d bad signatures=%d got=%+v", hooks.tries, hooks.bad, hooks.got)
	}
}

// storedEnvelope is the latest stored value of envelope id.
func storedEnvelope(t *testing.T, db *badger.DB, id string) []byte {
	t.Helper()
	var v []byte
	err := db.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte("ceremony/env/" + id))
		if err != nil {
			return err
		}
		v, err = it.ValueCopy(nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// makeLegacy rewrites the stored envelope as a version before sealing wrote it: the webhook
// secret in clear.
func makeLegacy(t *testing.T, db *badger.DB, id, url, secret string) {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(storedEnvelope(t, db, id), &e); err != nil {
		t.Fatal(err)
	}
	e["webhook"] = map[string]string{"url": url, "secret": secret}
	b, _ := json.Marshal(e)
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("ceremony/env/"+id), b) }); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookSecretIsSealedAtRest(t *testing.T) {
	w := newWorld(t)
	hooks := &hookSink{secret: "whsec-0123456789-never-in-clear"}
	hs := httptest.NewServer(hooks)
	defer hs.Close()
	m := seedManifest()
	m["webhook"] = map[string]string{"url": hs.URL + "/sealed-hook", "secret": hooks.secret}
	m["expires_in"] = "96h"
	id := w.sentEnvelope(m)

	// Control: the search finds the webhook's URL, stored beside the secret.
	if hits := grepDB(t, w.db, []string{"/sealed-hook"}); len(hits) == 0 {
		t.Fatal("the database search does not find the webhook URL")
	}
	if hits := grepDB(t, w.db, []string{hooks.secret}); len(hits) > 0 {
		t.Fatalf("the webhook secret is in the state store in clear:\n%s", strings.Join(hits, "\n"))
	}
	if v := storedEnvelope(t, w.db, id); !bytes.Contains(v, []byte(`"secret_sealed"`)) {
		t.Fatalf("the stored envelope has no sealed secret: %s", v)
	}
	e, err := w.svc.Envelope(context.Background(), id)
	if err != nil || e.Webhook == nil || e.Webhook.Secret != "" {
		t.Fatalf("an envelope read back carries its secret in clear: %+v, %v", e.Webhook, err)
	}

	// The sealed secret signs the deliveries, also after a restart.
	w.restart()
	expireAndDeliver(t, w, id, hooks)

	// Nor is it in any file of the state store (write-ahead and value logs, tables).
	w.svc.Close()
	if err := w.db.Close(); err != nil {
		t.Fatal(err)
	}
	if hits := grepDir(w.dir, []string{hooks.secret}); len(hits) > 0 {
		t.Fatalf("the webhook secret is in the data directory in clear:\n%s", strings.Join(hits, "\n"))
	}
}

func TestLegacyWebhookSecretIsMigrated(t *testing.T) {
	w := newWorld(t)
	hooks := &hookSink{secret: "legacy-secret-0123456789"}
	hs := httptest.NewServer(hooks)
	defer hs.Close()
	url := hs.URL + "/legacy-hook"
	m := seedManifest()
	m["webhook"] = map[string]string{"url": url, "secret": hooks.secret}
	m["expires_in"] = "96h"
	id := w.sentEnvelope(m)

	// A data directory from before sealing: the secret in clear and no migration marker.
	makeLegacy(t, w.db, id, url, hooks.secret)
	if err := w.db.Update(func(txn *badger.Txn) error {
		return txn.Delete([]byte("ceremony/migrated/sealed-webhook-secrets"))
	}); err != nil {
		t.Fatal(err)
	}
	w.restart()
	v := storedEnvelope(t, w.db, id)
	if bytes.Contains(v, []byte(hooks.secret)) || !bytes.Contains(v, []byte(`"secret_sealed"`)) {
		t.Fatalf("the clear secret was not sealed at start: %s", v)
	}

	// An envelope written in clear after the migration (by an older binary) still delivers, and
	// is sealed by its next step (the expiry).
	makeLegacy(t, w.db, id, url, hooks.secret)
	w.restart()
	if v := storedEnvelope(t, w.db, id); !bytes.Contains(v, []byte(hooks.secret)) {
		t.Fatal("the migration ran twice")
	}
	expireAndDeliver(t, w, id, hooks)
	if v := storedEnvelope(t, w.db, id); bytes.Contains(v, []byte(hooks.secret)) || !bytes.Contains(v, []byte(`"secret_sealed"`)) {
		t.Fatalf("the clear secret was not sealed by the next step: %s", v)
	}
}

func TestWebhookNeedsSecrets(t *testing.T) {
	w := newWorld(t)
	w.base.Secrets = nil
	w.restart()
	m := seedManifest()
	m["webhook"] = map[string]string{"url": "https://erp.example.org/hook", "secret": "0123456789abcdef"}
	if r := w.upload(m, seedFiles()); r.Status < 500 {
		t.Fatalf("an envelope with a webhook was accepted without Secrets: %d %s", r.Status, r.Body)
	}
	if r := w.upload(seedManifest(), seedFiles()); r.Status != 201 {
		t.Fatalf("an envelope without webhook was refused without Secrets: %d %s", r.Status, r.Body)
	}
}
