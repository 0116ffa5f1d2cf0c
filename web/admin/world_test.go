package admin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/internal/testworld"
	"github.com/paraphe/paraphe/web"
	"github.com/paraphe/paraphe/web/signer"
	"github.com/paraphe/paraphe/web/signerui"
)

func TestMain(m *testing.M) {
	ceremonytest.QuietTrillian()
	os.Exit(m.Run())
}

// world is a running appliance as the sender's browser meets it: the front handler (package
// web), the web app, the sender API, the signer protocol with the signer's pages (whose pdf.js
// the web app reuses), the real ledger, CA, TSA and PAdES engine, the evidence builder, and the
// outbox for emails and SMS.
type world struct {
	t      testing.TB
	srv    *httptest.Server
	db     *badger.DB
	svc    *ceremony.Service
	app    *Handler
	outbox *ceremony.Outbox
	clock  *testworld.Clock
	roots  *x509.CertPool
	// rootCerts is the appliance's root CA, for `paraphe verify --root`.
	rootCerts []*x509.Certificate
	// evidence builds the bundles the envelope page offers, as the appliance's does: over the
	// real ledger, CA, TSA and platform seal.
	evidence *evidence.Builder
}

func newWorld(t testing.TB) *world {
	t.Helper()
	tw := testworld.New(t)
	w := &world{t: t, srv: tw.Server, db: tw.DB, clock: testworld.NewClock(time.Now())}
	pki := tw.PKI()
	w.roots = pki.Roots
	w.rootCerts = []*x509.Certificate{pki.Keys.Root}
	w.outbox = ceremony.NewOutbox(w.db, nil)
	acc, err := NewAccounts(w.db, AccountsOptions{Now: w.clock.Now, Argon2: Argon2Params{Memory: 1024, Time: 1, Threads: 1}, Secrets: pki.Keys.DataKey()})
	if err != nil {
		t.Fatal(err)
	}
	notifier := ceremony.Notifiers{Mail: w.outbox, Text: w.outbox}
	o := tw.CeremonyOptions(pki.PDF(), pki.Issuer(), notifier)
	o.Secrets, o.Brands = pki.Keys.DataKey(), acc
	w.svc = tw.Ceremony(o)
	w.evidence = pki.Evidence(tw.Ledger, w.svc)
	ui, err := signerui.New(signerui.Options{Service: w.svc, Logger: tw.Logger})
	if err != nil {
		t.Fatal(err)
	}
	pdfjs := ""
	if ui.ViewerEmbedded() {
		pdfjs = ui.AssetBase() + "pdfjs/"
	}
	w.app, err = New(Options{Service: w.svc, DB: w.db, Accounts: acc, Notifier: notifier,
		PDFJS: pdfjs, Evidence: w.evidence, Logger: tw.Logger, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tw.Serve(
		web.Mount{Patterns: []string{"/api/v1/"}, Handler: tw.API(w.svc)},
		web.Mount{Patterns: []string{"/s/"}, Handler: signer.New(signer.Options{Service: w.svc, Logger: tw.Logger, ReceiptWait: testworld.ReceiptWait, Page: ui})},
		pki.Mount(),
		web.Mount{Patterns: []string{Pattern}, Handler: w.app},
	)
	return w
}

// user creates a user in organisation org (created when new) and returns a signed-in client.
func (w *world) user(org, email string, role Role) *client {
	w.t.Helper()
	ctx := context.Background()
	o, err := w.app.Accounts().EnsureOrg(ctx, org)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.app.Accounts().CreateUser(ctx, NewUser{Org: o.ID, Email: email, Role: role, Password: "password of " + email}); err != nil {
		w.t.Fatal(err)
	}
	c := w.client()
	if r := c.login(email, "password of "+email, ""); r.status != http.StatusOK {
		w.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	return c
}

// client is a browser-like HTTP client with a cookie jar and the session's CSRF token.
type client struct {
	w    *world
	http *http.Client
	csrf string
}

func (w *world) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{w: w, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type reply struct {
	status int
	body   []byte
	header http.Header
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%d %s: %v", r.status, r.body, err)
	}
}

func (r reply) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// do sends a request as a same-origin fetch would; hdr overrides headers ("" deletes).
func (c *client) do(method, path string, body io.Reader, hdr map[string]string) reply {
	c.w.t.Helper()
	req, err := http.NewRequest(method, c.w.srv.URL+path, body)
	if err != nil {
		c.w.t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(CSRFHeader, c.csrf)
		req.Header.Set("Origin", c.w.srv.URL)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, b, resp.Header}
}

func (c *client) get(path string) reply { return c.do(http.MethodGet, path, nil, nil) }

func (c *client) post(path string, body any) reply {
	b, _ := json.Marshal(body)
	return c.do(http.MethodPost, path, bytes.NewReader(b), nil)
}

func (c *client) login(email, password, code string) reply {
	r := c.post("/admin/api/login", LoginRequest{Email: email, Password: password, TOTP: code})
	if r.status == http.StatusOK {
		var v struct {
			CSRF string `json:"csrf_token"`
		}
		r.json(c.w.t, &v)
		c.csrf = v.CSRF
	}
	return r
}

// create makes a draft envelope through the web app and returns its id.
func (c *client) create(manifest map[string]any, files map[string][]byte) reply {
	mb, _ := json.Marshal(manifest)
	b, contentType := testworld.Upload(mb, files)
	return c.do(http.MethodPost, "/admin/api/envelopes", b, map[string]string{"Content-Type": contentType})
}

func (c *client) mustCreate(title string) string {
	c.w.t.Helper()
	r := c.create(simpleManifest(title), map[string][]byte{"contrat.pdf": ceremonytest.MinimalPDF(2, title)})
	if r.status != http.StatusCreated {
		c.w.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var v EnvelopeSummary
	r.json(c.w.t, &v)
	return v.ID
}

func simpleManifest(title string) map[string]any {
	return map[string]any{
		"title":   title,
		"signers": []map[string]any{{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "phone": "+33612345678", "locale": "fr", "order": 1}},
		"documents": []map[string]any{{"id": "contrat", "file": "contrat.pdf", "name": "Contrat", "fields": []map[string]any{
			{"id": "city", "label": "Ville", "signer": "alice", "page": 1, "rect": map[string]float64{"x": 72, "y": 600, "w": 150, "h": 20}, "required": true}}}},
	}
}

// apiCall calls the sender API with a bearer key.
func (w *world) apiCall(key, method, path string) reply {
	w.t.Helper()
	req, _ := http.NewRequest(method, w.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, b, resp.Header}
}

// outboxFor returns the messages sent to a recipient (email address or phone), oldest first.
func (w *world) outboxFor(to string) []ceremony.OutboxMessage {
	w.t.Helper()
	msgs, err := w.outbox.Messages(1000)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []ceremony.OutboxMessage
	for _, m := range msgs {
		if (m.Email != nil && m.Email.To == to) || (m.SMS != nil && m.SMS.To == to) {
			out = append(out, m)
		}
	}
	if len(out) > 1 && out[0].At.After(out[len(out)-1].At) {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
