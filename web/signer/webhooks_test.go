package signer_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
)

// hookReceiver is a webhook endpoint as a sender would write one: it checks the
// Paraphe-Signature header (t=<unix>,v1=<hex HMAC-SHA256(secret, t "." body)>) in constant time
// and keeps each delivery with its timestamp; a request it cannot verify is answered 401 and
// counted.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	got    []receivedHook
	bad    []string
}

type receivedHook struct {
	payload ceremony.WebhookPayload
	t       int64
	ctype   string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	sig := r.Header.Get(ceremony.WebhookSignatureHeader)
	var ts, mac string
	for _, part := range strings.Split(sig, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			mac = v
		}
	}
	t, terr := strconv.ParseInt(ts, 10, 64)
	want := hmac.New(sha256.New, []byte(h.secret))
	want.Write([]byte(ts + "." + string(body)))
	got, herr := hex.DecodeString(mac)
	if r.Method != http.MethodPost || terr != nil || herr != nil || !hmac.Equal(got, want.Sum(nil)) {
		h.bad = append(h.bad, r.Method+" "+sig)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p ceremony.WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		h.bad = append(h.bad, "undecodable body: "+string(body))
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	h.got = append(h.got, receivedHook{payload: p, t: t, ctype: r.Header.Get("Content-Type")})
	w.WriteHeader(http.StatusNoContent)
}

// take returns the deliveries received so far and forgets them, with the bad requests.
func (h *hookReceiver) take() ([]receivedHook, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	got, bad := h.got, h.bad
	h.got, h.bad = nil, nil
	return got, bad
}

// deliverDue advances the clock past the events just recorded and runs the scheduler, which
// delivers the queued webhooks.
func (w *world) deliverDue(t *testing.T) {
	t.Helper()
	w.clock.Advance(time.Second)
	if err := w.svc.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// checkHooks asserts that got holds exactly the webhooks want ("type/signer" → the envelope's
// status after the step), in any order, each with the payload of its ledger event: the envelope,
// the signer, the status, the event's id and time. The signature's timestamp is the delivery's
// time (the clock's).
func checkHooks(t *testing.T, w *world, id string, got []receivedHook, bad []string, want map[string]ceremony.Status) {
	t.Helper()
	if len(bad) > 0 {
		t.Fatalf("the receiver refused %d deliveries: %v", len(bad), bad)
	}
	tl, err := w.svc.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]ceremony.Event{}
	for _, e := range tl {
		events[e.Event.ID] = e.Event
	}
	seen := map[string]int{}
	for _, h := range got {
		p := h.payload
		key := p.Type + "/" + p.Signer
		seen[key]++
		ev, ok := events[p.EventID]
		switch {
		case !ok:
			t.Errorf("%s: event_id %q is not an event of envelope %s", key, p.EventID, id)
		case ev.Type != p.Type || ev.Signer != p.Signer || !ev.At.Equal(p.At):
			t.Errorf("%s: payload %+v does not match its event %+v", key, p, ev)
		}
		if p.Envelope != id || p.ID == "" || h.ctype != "application/json" {
			t.Errorf("%s: payload %+v (content type %q)", key, p, h.ctype)
		}
		if p.Status != want[key] {
			t.Errorf("%s: status %q, want %q", key, p.Status, want[key])
		}
		if d := w.clock.Now().Unix() - h.t; d < 0 || d > 1 {
			t.Errorf("%s: signature time %d, delivered at %d", key, h.t, w.clock.Now().Unix())
		}
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("webhook %s received %d times (received %v)", k, seen[k], seen)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d webhooks received, want %d (%v)", len(got), len(want), want)
	}
}

// TestWebhooksForEveryOutcome delivers, to a real HTTP receiver that verifies the signature,
// signer.completed and envelope.completed (both signers sign), then signer.refused and
// envelope.declined (the first signer refuses another envelope).
func TestWebhooksForEveryOutcome(t *testing.T) {
	w := newWorld(t)
	hooks := &hookReceiver{secret: "whsec-0123456789abcdef-outcomes"}
	hs := httptest.NewServer(hooks)
	defer hs.Close()
	m := seedManifest()
	m["webhook"] = map[string]string{"url": hs.URL + "/hook", "secret": hooks.secret}

	// Signed by both: signer.completed for each, then envelope.completed.
	id := w.sentEnvelope(m)
	sign := func(addr, phone string, values map[string]string) {
		p := w.party(phone)
		if r := p.open(w.lastMailTo(addr).Link()); r.Status != http.StatusOK {
			t.Fatalf("%s open: %d %s", addr, r.Status, r.Body)
		}
		p.readAll(values)
		if r := p.consent(); r.Status != http.StatusOK {
			t.Fatalf("%s consent: %d %s", addr, r.Status, r.Body)
		}
		if r := p.post("/s/api/code/verify", map[string]string{"code": w.sms.LastCodeFor(phone)}); r.Status != http.StatusOK {
			t.Fatalf("%s verify: %d %s", addr, r.Status, r.Body)
		}
	}
	sign("alice@example.org", alice0, map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	w.deliverDue(t)
	got, bad := hooks.take()
	checkHooks(t, w, id, got, bad, map[string]ceremony.Status{"signer.completed/alice": ceremony.StatusSent})
	sign("bob@example.org", "+447700900123", map[string]string{"bob_city": "London", "bob_initials": "BS"})
	w.deliverDue(t)
	got, bad = hooks.take()
	// Bob's signature is a step of its own, before the envelope's finalization.
	checkHooks(t, w, id, got, bad, map[string]ceremony.Status{"signer.completed/bob": ceremony.StatusSent, "envelope.completed/": ceremony.StatusCompleted})

	// Refused by the first signer: signer.refused, then envelope.declined.
	id = w.sentEnvelope(m)
	alice := w.party(alice0)
	if r := alice.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	if r := alice.post("/s/api/refuse", map[string]string{"reason": "Le prix n'est pas celui convenu."}); r.Status != http.StatusOK {
		t.Fatalf("refuse: %d %s", r.Status, r.Body)
	}
	w.deliverDue(t)
	got, bad = hooks.take()
	checkHooks(t, w, id, got, bad, map[string]ceremony.Status{"signer.refused/alice": ceremony.StatusDeclined, "envelope.declined/": ceremony.StatusDeclined})

	// Every delivery is logged as done at its first attempt.
	var log struct{ Deliveries []ceremony.WebhookDelivery }
	w.api("GET", "/api/v1/envelopes/"+id+"/webhooks", nil).json(t, &log)
	if len(log.Deliveries) != 2 {
		t.Fatalf("delivery log %+v", log.Deliveries)
	}
	for _, d := range log.Deliveries {
		if !d.Done || len(d.Attempts) != 1 || d.Attempts[0].Status != http.StatusNoContent {
			t.Fatalf("delivery %+v", d)
		}
	}
}
