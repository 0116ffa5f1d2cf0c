package ceremony

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// WebhookSignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
const WebhookSignatureHeader = "Paraphe-Signature"

// webhookMaxAttempts bounds the retries of one delivery (backoff 10 s · 2ⁿ, capped at 6 h).
const webhookMaxAttempts = 12

// WebhookPayload is the JSON body of a webhook.
type WebhookPayload struct {
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	Envelope string    `json:"envelope"`
	Signer   string    `json:"signer,omitempty"`
	Status   Status    `json:"status"`
	At       time.Time `json:"at"`
	EventID  string    `json:"event_id"`
}

// WebhookDelivery is one webhook and the log of its attempts.
type WebhookDelivery struct {
	ID       string           `json:"id"`
	Envelope string           `json:"envelope"`
	URL      string           `json:"url"`
	Payload  json.RawMessage  `json:"payload"`
	Attempts []WebhookAttempt `json:"attempts,omitempty"`
	Done     bool             `json:"done"`
	Failed   bool             `json:"failed,omitempty"` // gave up after webhookMaxAttempts
	NextAt   time.Time        `json:"next_at,omitzero"`
}

// WebhookAttempt is one try at delivering a webhook.
type WebhookAttempt struct {
	At     time.Time `json:"at"`
	Status int       `json:"status,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// SignWebhook returns the signature header value for body at time t.
func SignWebhook(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Service) queueWebhook(e *Envelope, ev Event, w *writes) {
	p := WebhookPayload{ID: randomID(), Type: ev.Type, Envelope: e.ID, Signer: ev.Signer, Status: e.Status, At: ev.At, EventID: ev.ID}
	body, _ := json.Marshal(p)
	d := WebhookDelivery{ID: p.ID, Envelope: e.ID, URL: e.Webhook.URL, Payload: body, NextAt: ev.At}
	w.put(kHook+e.ID+"/"+fmt.Sprintf("%020d-%s", ev.At.UnixNano(), p.ID), d)
	w.put(dueKey(ev.At, e.ID, "webhook", fmt.Sprintf("%020d-%s", ev.At.UnixNano(), p.ID)), "")
}

// Webhooks returns the delivery log of an envelope's webhooks.
func (s *Service) Webhooks(ctx context.Context, id string) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		return scan(txn, kHook+id+"/", func(_ string, v []byte) error {
			var d WebhookDelivery
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// deliverWebhook makes one attempt and schedules the next one on failure.
func (s *Service) deliverWebhook(ctx context.Context, env, ref string) error {
	e, err := s.Envelope(ctx, env)
	if err != nil {
		return err
	}
	key := kHook + env + "/" + ref
	var d WebhookDelivery
	if err := s.opt.DB.View(func(txn *badger.Txn) error { return getJSON(txn, key, &d) }); err != nil {
		return fmt.Errorf("ceremony: webhook %s: %w", ref, err)
	}
	if d.Done || d.Failed || e.Webhook == nil {
		return nil
	}
	now := s.now()
	att := WebhookAttempt{At: now.UTC()}
	// A secret that cannot be opened (the data key was replaced) is a failed attempt: nothing
	// unsigned is sent, and the delivery log says why.
	secret, err := s.webhookSecret(e)
	if err != nil {
		s.log.Error("ceremony: webhook secret unavailable", "envelope", env, "delivery", d.ID, "err", err)
		err = errors.New("the webhook secret cannot be opened (the appliance's data key does not match it)")
	}
	var req *http.Request
	if err == nil {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	}
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Paraphe-Webhook/1")
		req.Header.Set(WebhookSignatureHeader, SignWebhook(secret, now, d.Payload))
		var resp *http.Response
		resp, err = s.opt.WebhookClient.Do(req)
		if err == nil {
			att.Status = resp.StatusCode
			resp.Body.Close()
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				err = fmt.Errorf("HTTP status %d", resp.StatusCode)
			}
		}
	}
	if err != nil {
		att.Error = err.Error()
	}
	d.Attempts = append(d.Attempts, att)
	var next string
	switch {
	case err == nil:
		d.Done, d.NextAt = true, time.Time{}
	case len(d.Attempts) >= webhookMaxAttempts:
		d.Failed, d.NextAt = true, time.Time{}
		s.log.Warn("ceremony: webhook abandoned", "envelope", env, "delivery", d.ID, "attempts", len(d.Attempts))
	default:
		backoff := 10 * time.Second << (len(d.Attempts) - 1)
		if backoff > 6*time.Hour {
			backoff = 6 * time.Hour
		}
		d.NextAt = now.Add(backoff)
		next = dueKey(d.NextAt, env, "webhook", ref)
	}
	return s.state.write(func(txn *badger.Txn) error {
		if err := setJSON(txn, key, d); err != nil {
			return err
		}
		if next != "" {
			return setJSON(txn, next, "")
		}
		return nil
	})
}
