package admin

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
)

// TestSettingsAndTemplates: webhook, gateway tests, branding, templates, languages and the
// pages' security headers.
func TestSettingsAndTemplates(t *testing.T) {
	w := newWorld(t)
	adm := w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	other := w.user("Cabinet Dupont", "sender@dupont.test", RoleSender)

	// The webhook is added to the envelopes prepared in the web app.
	if r := adm.post("/admin/api/settings/webhook", map[string]string{"url": "ftp://x", "secret": "0123456789abcdef"}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad webhook: %d", r.status)
	}
	if r := adm.post("/admin/api/settings/webhook", map[string]string{"url": "https://erp.example.org/hook", "secret": "0123456789abcdef"}); r.status != http.StatusOK {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	id := adm.mustCreate("Avec webhook")
	if e, _ := w.svc.Envelope(t.Context(), id); e.Webhook == nil || e.Webhook.URL != "https://erp.example.org/hook" {
		t.Fatalf("the envelope's webhook: %+v", e.Webhook)
	}

	// Gateway tests go through the notifier.
	if r := adm.post("/admin/api/settings/test-email", nil); r.status != http.StatusOK {
		t.Fatalf("test email: %d %s", r.status, r.body)
	}
	if len(w.outboxFor("admin@notaires.test")) != 1 {
		t.Fatal("no test email in the outbox")
	}
	if r := adm.post("/admin/api/settings/test-sms", map[string]string{"phone": "0612"}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("test SMS to a bad number: %d", r.status)
	}
	if r := adm.post("/admin/api/settings/test-sms", map[string]string{"phone": "+33611223344"}); r.status != http.StatusOK || len(w.outboxFor("+33611223344")) != 1 {
		t.Fatalf("test SMS: %d %s", r.status, r.body)
	}

	// Branding: the name and a PNG logo; anything else is refused.
	brand := func(name string, logo []byte) reply {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("name", name)
		if logo != nil {
			fw, _ := mw.CreateFormFile("logo", "logo.png")
			fw.Write(logo)
		}
		mw.Close()
		return adm.do(http.MethodPost, "/admin/api/settings/branding", &b, map[string]string{"Content-Type": mw.FormDataContentType()})
	}
	if r := brand("Notaires", []byte("<svg onload=alert(1)>")); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("an SVG logo: %d", r.status)
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	if r := brand("Notaires & Associés <b>", png); r.status != http.StatusOK {
		t.Fatalf("branding: %d %s", r.status, r.body)
	}
	page := adm.get("/admin/")
	if !contains(page.body, "Notaires &amp; Associés &lt;b&gt;") || contains(page.body, "<b>") || !contains(page.body, `src="/admin/logo"`) {
		t.Fatalf("the organisation's name and logo on the page: %s", page.body)
	}
	if r := adm.get("/admin/logo"); r.status != http.StatusOK || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("logo: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if r := other.get("/admin/logo"); r.status != http.StatusNotFound {
		t.Fatalf("another organisation sees the logo: %d", r.status)
	}

	// Templates: saved with their PDFs, listed and read by the organisation only.
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	tpl, _ := json.Marshal(map[string]any{"name": "Compromis type", "title": "Compromis", "order": "sequential",
		"roles": []map[string]any{{"id": "vendeur", "label": "Vendeur", "order": 1}},
		"documents": []map[string]any{{"name": "Compromis", "file": "c.pdf", "fields": []map[string]any{
			{"id": "ville", "label": "Ville", "signer": "vendeur", "page": 1, "rect": map[string]float64{"x": 72, "y": 600, "w": 150, "h": 20}, "required": true}}}}})
	pw, _ := mw.CreateFormField("manifest")
	pw.Write(tpl)
	fw, _ := mw.CreateFormFile("file", "c.pdf")
	pdf := ceremonytest.MinimalPDF(2, "Compromis")
	fw.Write(pdf)
	mw.Close()
	r := adm.do(http.MethodPost, "/admin/api/templates", &b, map[string]string{"Content-Type": mw.FormDataContentType()})
	if r.status != http.StatusCreated {
		t.Fatalf("save template: %d %s", r.status, r.body)
	}
	var ts TemplateSummary
	r.json(t, &ts)
	var got Template
	adm.get("/admin/api/templates/"+ts.ID).json(t, &got)
	if len(got.Roles) != 1 || len(got.Documents) != 1 || got.Documents[0].Fields[0].Signer != "vendeur" {
		t.Fatalf("template: %+v", got)
	}
	if r := adm.get("/admin/api/templates/" + ts.ID + "/documents/1"); r.status != http.StatusOK || !bytes.Equal(r.body, pdf) {
		t.Fatalf("template document: %d", r.status)
	}
	if r := other.get("/admin/api/templates/" + ts.ID); r.status != http.StatusNotFound {
		t.Fatalf("another organisation reads the template: %d", r.status)
	}
	if r := other.get("/admin/api/templates/" + ts.ID + "/documents/1"); r.status != http.StatusNotFound {
		t.Fatalf("another organisation reads the template's document: %d", r.status)
	}
	if r := adm.post("/admin/api/templates/"+ts.ID+"/delete", nil); r.status != http.StatusOK {
		t.Fatalf("delete template: %d", r.status)
	}
	if r := adm.get("/admin/api/templates/" + ts.ID); r.status != http.StatusNotFound {
		t.Fatalf("a deleted template: %d", r.status)
	}

	// French and English; the pages' policy.
	c := w.client()
	fr := c.do(http.MethodGet, "/admin/login", nil, map[string]string{"Accept-Language": "fr-FR,fr;q=0.9"})
	en := c.do(http.MethodGet, "/admin/login?lang=en", nil, nil)
	if !contains(fr.body, "Se connecter") || !contains(fr.body, `lang="fr"`) || !contains(en.body, "Sign in") || !contains(en.body, `lang="en"`) {
		t.Fatal("the sign-in page is not in French and English")
	}
	if again := c.get("/admin/login"); !contains(again.body, `lang="en"`) {
		t.Fatal("the chosen language is not remembered")
	}
	csp := fr.header.Get("Content-Security-Policy")
	for _, d := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP lacks %s: %s", d, csp)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "http") || fr.header.Get("X-Frame-Options") != "DENY" || fr.header.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers: %v", fr.header)
	}
	if bytes.Contains(fr.body, []byte("<script>")) || bytes.Contains(fr.body, []byte("style=")) {
		t.Error("inline script or style on the page")
	}
}
