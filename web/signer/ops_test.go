package signer_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"crypto/x509"

	"github.com/paraphe/paraphe/ceremony"
)

func TestDeliveryRetriesAreVisible(t *testing.T) {
	w := newWorld(t)
	w.smtp.FailNext(1) // the invitation succeeds at the second attempt
	id := w.sentEnvelope(seedManifest())
	var env struct {
		Deliveries []ceremony.DeliveryRecord
	}
	w.api("GET", "/api/v1/envelopes/"+id, nil).json(t, &env)
	if len(env.Deliveries) != 1 || !env.Deliveries[0].OK || env.Deliveries[0].Attempts != 2 {
		t.Fatalf("deliveries %+v", env.Deliveries)
	}
	// A reminder that cannot be delivered: 502, visible, no reminder.sent.
	w.smtp.FailNext(10)
	before := w.snap(id)
	r := w.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{"signer": "alice"})
	if r.Status != http.StatusBadGateway || r.errCode() != ceremony.CodeDeliveryFailed {
		t.Fatalf("remind: %d %s", r.Status, r.Body)
	}
	if w.snap(id).events != before.events {
		t.Fatal("an undelivered reminder was recorded")
	}
	w.api("GET", "/api/v1/envelopes/"+id, nil).json(t, &env)
	last := env.Deliveries[len(env.Deliveries)-1]
	if last.OK || last.Kind != "reminder" || last.Error == "" {
		t.Fatalf("failed delivery %+v", last)
	}
	w.smtp.FailNext(0)
	if r := w.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{}); r.Status != http.StatusOK {
		t.Fatalf("remind: %d %s", r.Status, r.Body)
	}
	if got := w.lastEvents(id, 1); got[0] != "reminder.sent" {
		t.Fatalf("reminder recorded as %v", got)
	}
	// The reminder's fresh link works; so does the invitation's.
	for _, link := range []string{w.lastMailTo("alice@example.org").Link(), func() string {
		p, _ := w.smtp.Mails()[0].Parse()
		return p.Link()
	}()} {
		if r := w.party("").open(link); r.Status != http.StatusOK {
			t.Fatalf("link: %d %s", r.Status, r.Body)
		}
	}

	// An SMS gateway failure: the consent is recorded, the code is not, and a later send works.
	alice := w.party("+33612345678")
	alice.open(w.lastMailTo("alice@example.org").Link())
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	w.sms.FailNext(10)
	r = alice.consent()
	if r.Status != http.StatusBadGateway || r.errCode() != ceremony.CodeDeliveryFailed {
		t.Fatalf("consent with the gateway down: %d %s", r.Status, r.Body)
	}
	if got := w.lastEvents(id, 1); got[0] != "consent.given" {
		t.Fatalf("last event %v", got)
	}
	w.sms.FailNext(0)
	if r := alice.post("/s/api/code", nil); r.Status != http.StatusOK {
		t.Fatalf("send after recovery: %d %s", r.Status, r.Body)
	}
	if r := alice.post("/s/api/code/verify", map[string]string{"code": w.sms.LastCodeFor(alice.phone)}); r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
}

func TestTwilioAndGatewaySuccessCondition(t *testing.T) {
	w := newWorld(t)
	tw, err := ceremony.NewTwilio(ceremony.TwilioConfig{BaseURL: w.sms.Server.URL, AccountSID: "AC-test", AuthToken: "token-test", From: "PARAPHE"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.SendSMS(context.Background(), ceremony.SMS{To: "+33612345678", Text: "code 123456"}); err != nil {
		t.Fatal(err)
	}
	if got := w.sms.LastCodeFor("+33612345678"); got != "123456" {
		t.Fatalf("twilio message: %q", got)
	}
	bad, _ := ceremony.NewTwilio(ceremony.TwilioConfig{BaseURL: w.sms.Server.URL, AccountSID: "AC-test", AuthToken: "wrong", From: "PARAPHE"})
	if err := bad.SendSMS(context.Background(), ceremony.SMS{To: "+33612345678", Text: "x"}); err == nil {
		t.Fatal("twilio with a wrong token succeeded")
	}
	gw, _ := ceremony.NewHTTPGateway(ceremony.HTTPGatewayConfig{URL: w.sms.Server.URL + "/send", Headers: map[string]string{"Authorization": "Bearer gateway-key"},
		Body: `{"to": {{json .To}}, "text": {{json .Text}}}`, SuccessContains: "delivered"})
	if err := gw.SendSMS(context.Background(), ceremony.SMS{To: "+33612345678", Text: "x"}); err == nil || !strings.Contains(err.Error(), "success marker") {
		t.Fatalf("gateway without the success marker: %v", err)
	}
	if _, err := ceremony.NewHTTPGateway(ceremony.HTTPGatewayConfig{URL: "ftp://x"}); err == nil {
		t.Fatal("a non-HTTP gateway URL was accepted")
	}
}

func TestOutbox(t *testing.T) {
	w := newWorld(t)
	w.outbox = ceremony.NewOutbox(w.db, w.clock.Now)
	w.base.Notifier = w.outbox
	w.restart()
	w.sentEnvelope(seedManifest())
	r := w.api("GET", "/api/v1/outbox", nil)
	var v struct{ Messages []ceremony.OutboxMessage }
	r.json(t, &v)
	if r.Status != http.StatusOK || len(v.Messages) != 1 || v.Messages[0].Email == nil || !strings.Contains(v.Messages[0].Email.Text, "/s/") {
		t.Fatalf("outbox: %d %s", r.Status, r.Body)
	}
	if w.mailsTo("alice@example.org") != 0 {
		t.Fatal("the outbox sent a real email")
	}
	if r := do(t, http.DefaultClient, "GET", w.srv.URL+"/api/v1/outbox", nil, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("outbox without a key: %d", r.Status)
	}
}

// hookSink receives webhooks, failing the first fail ones.
type hookSink struct {
	mu     sync.Mutex
	fail   int
	got    []ceremony.WebhookPayload
	tries  int
	secret string
	bad    int
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tries++
	body, _ := io.ReadAll(r.Body)
	sig := r.Header.Get(ceremony.WebhookSignatureHeader)
	ts, mac, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",v1=")
	m := hmac.New(sha256.New, []byte(h.secret))
	m.Write([]byte(ts + "." + string(body)))
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(mac)) {
		h.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if h.fail > 0 {
		h.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var p ceremony.WebhookPayload
	json.Unmarshal(body, &p)
	h.got = append(h.got, p)
}

func TestWebhooksRemindersExpiryAcrossRestarts(t *testing.T) {
	w := newWorld(t)
	hooks := &hookSink{fail: 2, secret: "0123456789abcdef-secret"}
	hs := httptest.NewServer(hooks)
	defer hs.Close()
	m := seedManifest()
	m["webhook"] = map[string]string{"url": hs.URL + "/hook", "secret": hooks.secret}
	m["expires_in"] = "96h"
	id := w.sentEnvelope(m)
	ctx := context.Background()

	// The reminder is due after 48 h, and survives a restart.
	w.restart()
	w.clock.Advance(47 * time.Hour)
	if err := w.svc.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := w.mailsTo("alice@example.org"); n != 1 {
		t.Fatalf("%d emails before the reminder is due", n)
	}
	w.clock.Advance(2 * time.Hour)
	if err := w.svc.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := w.mailsTo("alice@example.org"); n != 2 || w.lastEvents(id, 1)[0] != "reminder.sent" {
		t.Fatalf("reminder: %d emails, last event %v", n, w.lastEvents(id, 1))
	}
	if err := w.svc.RunDue(ctx); err != nil || w.mailsTo("alice@example.org") != 2 {
		t.Fatal("the reminder was sent twice")
	}

	// Expiry, then the envelope.expired webhook, retried with backoff across a restart.
	w.clock.Advance(48 * time.Hour)
	if err := w.svc.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	e, _ := w.svc.Envelope(ctx, id)
	if e.Status != ceremony.StatusExpired {
		t.Fatalf("envelope %s after its expiry", e.Status)
	}
	alice := w.party(alice0)
	if r := alice.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open after expiry: %d", r.Status)
	}
	if r := alice.readPage(1, 1); r.Status != http.StatusConflict || r.errCode() != ceremony.CodeEnvelopeNotActive {
		t.Fatalf("read after expiry: %d %s", r.Status, r.Body)
	}
	w.restart()
	for i := 0; i < 3; i++ {
		w.clock.Advance(time.Minute)
		if err := w.svc.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	hooks.mu.Lock()
	got, tries, bad := hooks.got, hooks.tries, hooks.bad
	hooks.mu.Unlock()
	if bad != 0 || tries != 3 || len(got) != 1 || got[0].Type != ceremony.EvEnvelopeExpired || got[0].Envelope != id {
		t.Fatalf("webhooks: tries=%d bad=%d got=%+v", tries, bad, got)
	}
	var log struct{ Deliveries []ceremony.WebhookDelivery }
	w.api("GET", "/api/v1/envelopes/"+id+"/webhooks", nil).json(t, &log)
	if len(log.Deliveries) != 1 || !log.Deliveries[0].Done || len(log.Deliveries[0].Attempts) != 3 || log.Deliveries[0].Attempts[0].Status != 503 {
		t.Fatalf("delivery log %+v", log.Deliveries)
	}
}

const alice0 = "+33612345678"

// crashingLedger appends to the real ledger, then reports a failure as if the process had died
// right after the event became durable, before the state was written.
type crashingLedger struct {
	ceremony.Ledger
	mu    sync.Mutex
	after string // crash after appending an event of this type
}

func (c *crashingLedger) Append(ctx context.Context, ev ceremony.Event) (ceremony.Pending, error) {
	p, err := c.Ledger.Append(ctx, ev)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && ev.Type == c.after {
		c.after = ""
		return nil, errors.New("simulated crash after the append")
	}
	return p, err
}

// failingIssuer refuses to issue certificates while down.
type failingIssuer struct {
	ceremony.CertificateIssuer
	down bool
}

func (f *failingIssuer) IssueSigner(ctx context.Context, r ceremony.CertificateRequest) (*x509Cert, []*x509Cert, error) {
	if f.down {
		return nil, nil, errors.New("ca unavailable")
	}
	return f.CertificateIssuer.IssueSigner(ctx, r)
}

func TestCrashBetweenEventAndState(t *testing.T) {
	w := newWorld(t)
	crash := &crashingLedger{Ledger: w.ledger.Ceremony()}
	w.base.Ledger = crash
	w.restart()
	id := w.sentEnvelope(seedManifest())
	alice := w.party(alice0)
	alice.open(w.lastMailTo("alice@example.org").Link())

	// The page.read event is durable but the process "dies" before acknowledging it: the
	// step is not acknowledged; the restarted service appends it again from its record, and the
	// ledger keeps it once.
	crash.after = ceremony.EvPageRead
	if r := alice.readPage(1, 1); r.Status != http.StatusInternalServerError {
		t.Fatalf("crashed step: %d %s", r.Status, r.Body)
	}
	w.restart()
	st := alice.state()
	if len(st.Documents[0].PagesRead) != 1 || st.Documents[0].PagesRead[0] != 1 {
		t.Fatalf("after restart, pages read %v", st.Documents[0].PagesRead)
	}
	// The append fails without a restart: the next step on the envelope appends the failed
	// step's event before its own, so the ledger keeps the envelope's order.
	crash.after = ceremony.EvPageRead
	if r := alice.readPage(1, 2); r.Status != http.StatusInternalServerError {
		t.Fatalf("failed append: %d %s", r.Status, r.Body)
	}
	if r := alice.readPage(1, 3); r.Status != http.StatusOK {
		t.Fatalf("step after a failed append: %d %s", r.Status, r.Body)
	}
	tl := waitReceipts(t, w, id)
	var pages []int
	seenIdx := map[uint64]bool{}
	last := map[string]uint64{}
	for _, e := range tl {
		if e.Event.Type == ceremony.EvPageRead {
			pages = append(pages, int(toInt(e.Event.Data["page"])))
		}
		if seenIdx[e.Receipt.Index] {
			t.Fatalf("two events share leaf %d", e.Receipt.Index)
		}
		seenIdx[e.Receipt.Index] = true
		if e.Receipt.Index < last[e.Event.Envelope] {
			t.Fatalf("event %d (%s) is before the envelope's previous event in the ledger", e.Seq, e.Event.Type)
		}
		last[e.Event.Envelope] = e.Receipt.Index
	}
	if len(pages) != 3 || pages[0] != 1 || pages[1] != 2 || pages[2] != 3 {
		t.Fatalf("page.read events for pages %v", pages)
	}

	// The CA is down when the code is verified: the signer stays "signing", and the scheduler
	// finishes the signature once it is back, after a restart.
	issuer := &failingIssuer{CertificateIssuer: w.ca, down: true}
	w.base.Ledger = w.ledger.Ceremony()
	w.base.Issuer = issuer
	w.restart()
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	alice.consent()
	r := alice.post("/s/api/code/verify", map[string]string{"code": w.sms.LastCodeFor(alice0)})
	if r.Status != http.StatusServiceUnavailable || r.errCode() != "signing_delayed" {
		t.Fatalf("verify with the CA down: %d %s", r.Status, r.Body)
	}
	if st := alice.state(); st.Signer.Status != ceremony.SignerSigning {
		t.Fatalf("signer %s", st.Signer.Status)
	}
	issuer.down = false
	w.restart()
	if err := w.svc.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := alice.state(); st.Signer.Status != ceremony.SignerSigned {
		t.Fatalf("signer %s after resume", st.Signer.Status)
	}
	if w.mailsTo("bob@example.org") != 1 {
		t.Fatal("bob was not invited after the resumed signature")
	}
}

type x509Cert = x509.Certificate

// toInt reads a JSON number of an event's data (an int in memory, a float64 once decoded).
func toInt(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return -1
}
