package ceremony

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Secrets seals the secrets that must be stored and used again, such as webhook signing keys
// (which cannot be kept as hashes). The appliance's implementation is the key hierarchy's data
// key (ca/keys.DataKey, AES-256-GCM).
type Secrets interface {
	// Seal encrypts plaintext and binds it to associatedData.
	Seal(plaintext, associatedData []byte) ([]byte, error)
	// Open decrypts what Seal returned for the same associated data, and fails when the value
	// was altered, truncated, bound to other data or sealed with another key.
	Open(sealed, associatedData []byte) ([]byte, error)
}

// ErrNoSecrets is returned when a secret must be sealed or opened and Options.Secrets is nil.
var ErrNoSecrets = errors.New("ceremony: no Secrets configured to seal or open stored secrets")

// webhookAD binds a sealed webhook secret to its envelope.
func webhookAD(envelope string) []byte {
	return []byte("paraphe/ceremony/webhook-secret/v1\x00" + envelope)
}

// storedEnvelope is an Envelope as the state store keeps it: its webhook's secret sealed. Its
// Webhook field hides the envelope's own (a shallower field wins in encoding/json).
type storedEnvelope struct {
	*Envelope
	Webhook *storedWebhook `json:"webhook,omitempty"`
}

type storedWebhook struct {
	URL    string `json:"url"`
	Sealed []byte `json:"secret_sealed,omitempty"`
	// Secret is a secret stored in clear by a version before secrets were sealed: it is read,
	// and sealed when the envelope is next written (see migrateSecrets).
	Secret string `json:"secret,omitempty"`
}

// encodeEnvelope is the stored form of e. A webhook secret in clear (a new envelope's, or a
// legacy one's) is sealed; one already sealed is kept as it is. e is not modified.
func (s *Service) encodeEnvelope(e *Envelope) ([]byte, error) {
	st := storedEnvelope{Envelope: e}
	if w := e.Webhook; w != nil {
		st.Webhook = &storedWebhook{URL: w.URL, Sealed: w.sealed}
		if w.Secret != "" {
			if s.opt.Secrets == nil {
				return nil, fmt.Errorf("ceremony: envelope %s: webhook secret: %w", e.ID, ErrNoSecrets)
			}
			sealed, err := s.opt.Secrets.Seal([]byte(w.Secret), webhookAD(e.ID))
			if err != nil {
				return nil, fmt.Errorf("ceremony: envelope %s: sealing the webhook secret: %w", e.ID, err)
			}
			st.Webhook.Sealed = sealed
		}
	}
	return json.Marshal(st)
}

// decodeEnvelope reads a stored envelope. A webhook secret stays sealed (Webhook.Secret is
// empty) until webhookSecret opens it; a legacy clear one is in Webhook.Secret. It reports
// whether the envelope holds a secret in clear.
func decodeEnvelope(b []byte, e *Envelope) (legacy bool, err error) {
	st := storedEnvelope{Envelope: e}
	if err := json.Unmarshal(b, &st); err != nil {
		return false, err
	}
	e.Webhook = nil
	if w := st.Webhook; w != nil {
		e.Webhook = &Webhook{URL: w.URL, Secret: w.Secret, sealed: w.Sealed}
		legacy = w.Secret != ""
	}
	return legacy, nil
}

// webhookSecret returns the secret that signs e's webhooks.
func (s *Service) webhookSecret(e *Envelope) (string, error) {
	w := e.Webhook
	if w.Secret != "" || w.sealed == nil {
		return w.Secret, nil
	}
	if s.opt.Secrets == nil {
		return "", ErrNoSecrets
	}
	b, err := s.opt.Secrets.Open(w.sealed, webhookAD(e.ID))
	if err != nil {
		return "", fmt.Errorf("ceremony: envelope %s: opening the webhook secret: %w", e.ID, err)
	}
	return string(b), nil
}

// migrateKey marks a state store whose webhook secrets are all sealed.
const migrateKey = "ceremony/migrated/sealed-webhook-secrets"

// migrateSecrets seals the webhook secrets that a version before sealing stored in clear, once
// per state store; an envelope written in clear later (by an older binary) is sealed by its next
// step. It runs in New, before any step. Without Secrets it leaves clear secrets as they are
// (they remain usable) and logs it. Badger keeps the replaced values until its compaction
// discards them.
func (s *Service) migrateSecrets() error {
	done := false
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte(migrateKey))
		if err == nil {
			done = true
			return nil
		}
		if isNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil || done {
		return err
	}
	var ids []string
	err = s.opt.DB.View(func(txn *badger.Txn) error {
		return scan(txn, kEnvelope, func(k string, v []byte) error {
			var e Envelope
			legacy, err := decodeEnvelope(v, &e)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if legacy {
				ids = append(ids, e.ID)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ceremony: sealing webhook secrets: %w", err)
	}
	if len(ids) > 0 && s.opt.Secrets == nil {
		s.log.Warn("ceremony: webhook secrets are stored in clear and no Secrets are configured to seal them", "envelopes", len(ids))
		return nil
	}
	for _, id := range ids {
		// One transaction per envelope: it rereads the value, so it never undoes another write.
		err := s.opt.DB.Update(func(txn *badger.Txn) error {
			it, err := txn.Get([]byte(kEnvelope + id))
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			var e Envelope
			if err := it.Value(func(v []byte) error { _, err := decodeEnvelope(v, &e); return err }); err != nil {
				return err
			}
			b, err := s.encodeEnvelope(&e)
			if err != nil {
				return err
			}
			return txn.Set([]byte(kEnvelope+id), b)
		})
		if err != nil {
			return fmt.Errorf("ceremony: sealing the webhook secret of envelope %s: %w", id, err)
		}
	}
	if len(ids) > 0 {
		s.log.Info("ceremony: sealed the webhook secrets stored in clear by an earlier version", "envelopes", len(ids))
	}
	return s.opt.DB.Update(func(txn *badger.Txn) error { return txn.Set([]byte(migrateKey), nil) })
}
