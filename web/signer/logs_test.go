package signer_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/paraphe/paraphe/web"
	"github.com/paraphe/paraphe/web/signer"
)

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsHoldNoCodeOrToken runs a whole signing flow, with a wrong code, an unknown link and a
// restart, with every log of the service, the sender API, the signer protocol and the HTTP front
// captured at debug level, and checks that no code, link token or session secret appears in them.
func TestLogsHoldNoCodeOrToken(t *testing.T) {
	w := newWorld(t)
	logs := &logBuffer{}
	w.base.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug,
		// Without the time and the front's sizes and durations, the digits in the logs are only
		// the ones the code chose to log.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" || a.Key == "bytes" {
				return slog.Attr{}
			}
			return a
		}}))
	serve := func() {
		w.restart()
		front, err := web.New(web.Options{MaxBodyBytes: 110 << 20, Logger: w.base.Logger,
			Mounts: []web.Mount{{Patterns: []string{"/api/v1/", "/s/"}, Handler: w.srv.Config.Handler}}})
		if err != nil {
			t.Fatal(err)
		}
		w.srv.Config.Handler = front
	}
	serve()

	id := w.sentEnvelope(seedManifest())
	parties := []*party{}
	sign := func(addr, phone string, values map[string]string, wrong bool) {
		p := w.party(phone)
		parties = append(parties, p)
		if r := p.open(w.lastMailTo(addr).Link()); r.Status != http.StatusOK {
			t.Fatalf("%s open: %d %s", addr, r.Status, r.Body)
		}
		p.readAll(values)
		if r := p.consent(); r.Status != http.StatusOK {
			t.Fatalf("%s consent: %d %s", addr, r.Status, r.Body)
		}
		code := w.sms.LastCodeFor(phone)
		if wrong {
			bad := []byte(code)
			bad[0] = '0' + (bad[0]-'0'+1)%10
			if r := p.post("/s/api/code/verify", map[string]string{"code": string(bad)}); r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("%s wrong code: %d %s", addr, r.Status, r.Body)
			}
			serve() // a restart between the code and its use
		}
		if r := p.post("/s/api/code/verify", map[string]string{"code": code}); r.Status != http.StatusOK {
			t.Fatalf("%s verify: %d %s", addr, r.Status, r.Body)
		}
	}
	sign("alice@example.org", alice0, map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"}, true)
	sign("bob@example.org", "+447700900123", map[string]string{"bob_city": "London", "bob_initials": "BS"}, false)
	if r := w.party("").open(w.srv.URL + "/s/" + strings.Repeat("A", 43)); r.Status == http.StatusOK {
		t.Fatal("an unknown link opened a session")
	}
	if r := w.api("GET", "/api/v1/envelopes/"+id, nil); r.Status != http.StatusOK {
		t.Fatalf("get: %d", r.Status)
	}

	// What must not be logged: every code sent, every link token, every session secret.
	var codes, secrets []string
	for _, m := range w.sms.Messages() {
		codes = append(codes, regexp.MustCompile(`\b[0-9]{6}\b`).FindAllString(m.Text, -1)...)
	}
	for _, m := range w.smtp.Mails() {
		p, err := m.Parse()
		if err != nil {
			t.Fatal(err)
		}
		if link := p.Link(); link != "" {
			secrets = append(secrets, link[strings.LastIndex(link, "/")+1:])
		}
	}
	u, _ := url.Parse(w.srv.URL + "/s/")
	for _, p := range parties {
		for _, c := range p.c.Jar.Cookies(u) {
			if c.Name == signer.CookieName {
				secrets = append(secrets, c.Value)
			}
		}
	}
	if len(codes) < 2 || len(secrets) < 4 {
		t.Fatalf("the flow sent %d codes, %d tokens and sessions", len(codes), len(secrets))
	}
	out := logs.String()
	// The logs are not empty: the front logged every request, the link redacted, the wrong code.
	if !strings.Contains(out, `"path":"/s/[token]","status":200`) || !strings.Contains(out, `"path":"/s/[token]/code/verify","status":422`) {
		t.Fatalf("the logs lack the requests:\n%s", out)
	}
	for _, c := range codes {
		if regexp.MustCompile(`(^|[^0-9])` + c + `([^0-9]|$)`).MatchString(out) {
			t.Errorf("the code %s is in the logs", c)
		}
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the secret %s… is in the logs", s[:8])
		}
	}
	// Nor personal data: the parties' names, addresses and phone numbers, the values they
	// typed, the documents' titles (short values are searched as whole words).
	for _, v := range []string{"Alice Martin", "Bob Smith", "alice@example.org", "bob@example.org", alice0, "+447700900123",
		"447700900123", "FR123456789012", "Lyon", "London", "Compromis de vente", "12 rue des Lilas"} {
		if regexp.MustCompile(`\b` + regexp.QuoteMeta(strings.TrimPrefix(v, "+")) + `\b`).MatchString(out) {
			t.Errorf("personal data %q is in the logs", v)
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s", out)
	}
}
