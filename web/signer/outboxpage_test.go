package signer_test

import (
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/web/api"
)

// TestOutboxPage: in development the outbox page lists the invitation email (recipient, subject,
// text, the link clickable) and the code SMS, newest first, under a strict policy, and only to a
// holder of an API key (Basic password or bearer), like GET /api/v1/outbox.
func TestOutboxPage(t *testing.T) {
	w := newWorld(t)
	w.outbox = ceremony.NewOutbox(w.db, w.clock.Now)
	w.base.Notifier = w.outbox
	w.restart()
	page, err := api.OutboxPage(api.OutboxPageOptions{Outbox: w.outbox, DB: w.db})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(api.OutboxPagePath, page)
	mux.Handle("/", w.srv.Config.Handler)
	w.srv.Config.Handler = mux

	w.sentEnvelope(seedManifest())
	msgs, err := w.outbox.Messages(0)
	if err != nil || len(msgs) != 1 || msgs[0].Email == nil {
		t.Fatalf("outbox %+v %v", msgs, err)
	}
	inv := msgs[0].Email
	link := regexp.MustCompile(`https?://\S+/s/[A-Za-z0-9_-]{43}`).FindString(inv.Text)
	alice := w.party(alice0)
	if r := alice.open(link); r.Status != http.StatusOK {
		t.Fatalf("open %q: %d %s", link, r.Status, r.Body)
	}
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	w.clock.Advance(time.Second) // the outbox orders messages by the (test) clock
	if r := alice.consent(); r.Status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	msgs, _ = w.outbox.Messages(0)
	if len(msgs) != 2 || msgs[1].SMS == nil {
		t.Fatalf("outbox after consent %+v", msgs)
	}
	code := regexp.MustCompile(`\b[0-9]{6}\b`).FindString(msgs[1].SMS.Text)

	get := func(hdr map[string]string) (reply, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", w.srv.URL+api.OutboxPagePath, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{resp.StatusCode, b}, resp.Header
	}

	// Without a valid key: 401, and the browser is asked for one; nothing is shown.
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic " + basic("dev", "not-a-key")}} {
		r, h := get(hdr)
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") || strings.Contains(string(r.Body), code) {
			t.Fatalf("outbox page with %v: %d %q %s", hdr, r.Status, h.Get("WWW-Authenticate"), r.Body)
		}
	}
	bearer, _ := get(map[string]string{"Authorization": "Bearer " + w.key})
	r, h := get(map[string]string{"Authorization": "Basic " + basic("anyone", w.key)})
	if r.Status != http.StatusOK || bearer.Status != http.StatusOK {
		t.Fatalf("outbox page: %d %s (bearer %d)", r.Status, r.Body, bearer.Status)
	}
	if h.Get("Content-Security-Policy") != api.OutboxPageCSP || h.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("headers %v", h)
	}
	body := string(r.Body)
	for _, want := range []string{
		"Email to Alice Martin &lt;alice@example.org&gt;",
		html.EscapeString(inv.Subject),
		`<a href="` + link + `" rel="noreferrer noopener">` + link + `</a>`,
		"SMS to &#43;33612345678", // html/template escapes +
		code,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("the page lacks %q:\n%s", want, body)
		}
	}
	if sms, mail := strings.Index(body, "SMS to"), strings.Index(body, "Email to"); sms > mail {
		t.Fatalf("the SMS (newer) is after the email:\n%s", body)
	}
	// The page is plain HTML: no script, no inline style.
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Fatalf("script or style in the page:\n%s", body)
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
