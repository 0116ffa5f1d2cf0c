package signer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/internal/testtool"
	"github.com/paraphe/paraphe/pades"
	"github.com/paraphe/paraphe/web/signerui"
)

// The hostile strings of THREATS.md: markup for the pages and emails, PDF syntax for the
// documents, and text beyond ASCII.
const (
	hostileScript = `<script>alert(1)</script>`
	hostileImg    = `"><img src=x onerror=alert(2)>`
	hostilePDF1   = `') Tj ET BT (`
	hostilePDF2   = `\) /S /JavaScript (`
	hostilePDF3   = `%)`
	hostileLatin  = `« Œuvre »`
)

var (
	hostileTitle   = "Contrat " + hostileScript + " " + hostileLatin + " " + hostilePDF1
	hostileMessage = "Lisez " + hostileImg + " " + hostileScript
	hostileAlice   = "Alice " + hostileImg
	hostileBob     = "Bob " + hostileScript
	hostileDoc     = "Doc " + hostileScript + " " + hostilePDF2
	// The values typed in the fields: short enough to be drawn whole in a 500 pt field.
	hostileValue1 = hostilePDF1 + " " + hostilePDF3 + " " + hostileLatin
	hostileValue2 = hostilePDF2 + " <b>x</b>"
	hostileReason = "Non " + hostileScript + " " + hostilePDF2 + " " + hostileLatin
)

// hostileManifest is an envelope for one signer, hostile everywhere the sender or the signer
// writes text.
func hostileManifest(title, name, email, phone string) map[string]any {
	rect := map[string]float64{"x": 40, "y": 300, "w": 520, "h": 20}
	return map[string]any{
		"title":   title,
		"message": hostileMessage,
		"order":   "sequential",
		"signers": []map[string]any{
			{"id": "s1", "name": name, "email": email, "phone": phone, "locale": "fr", "order": 1},
		},
		"documents": []map[string]any{
			{"id": "compromis", "file": "compromis.pdf", "name": hostileDoc, "fields": []map[string]any{
				{"id": "v1", "label": "Fait à " + hostileImg, "signer": "s1", "page": 1, "rect": rect, "required": true},
			}},
			{"id": "annexe", "file": "annexe.pdf", "name": "Annexe " + hostileLatin, "fields": []map[string]any{
				{"id": "v2", "label": hostileScript, "signer": "s1", "page": 1, "rect": rect, "required": true},
			}},
		},
	}
}

// noMarkup fails when an HTML text carries a hostile string as markup.
func noMarkup(t *testing.T, what, html string) {
	t.Helper()
	low := strings.ToLower(html)
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>x</b>"} {
		if strings.Contains(low, bad) {
			t.Errorf("%s carries %q as markup:\n%s", what, bad, html)
		}
	}
}

// pdfText is pdftotext's reading of pages first..last of pdf (0: every page).
func pdfText(t *testing.T, pdf []byte, first, last int) string {
	t.Helper()
	bin := testtool.Require(t, "pdftotext")
	f := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-enc", "UTF-8"}
	if first > 0 {
		args = append(args, "-f", itoa(uint64(first)), "-l", itoa(uint64(last)))
	}
	out, err := exec.Command(bin, append(args, f, "-")...).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

func qpdfCheck(t *testing.T, what string, pdf []byte) {
	t.Helper()
	bin := testtool.Require(t, "qpdf")
	f := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--check", f).CombinedOutput(); err != nil {
		t.Errorf("qpdf --check %s: %v\n%s", what, err, out)
	}
}

// squash joins pdftotext's lines and runs of spaces, so that a value drawn on one line is
// found whatever the layout of the text around it.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestHostileStrings runs envelopes whose every sender and signer text is hostile through the
// real flow (real CA, TSA, PAdES and evidence): the emails, the signer's page and JSON, the
// signed PDFs and the evidence report carry them as text, never as markup or PDF syntax.
func TestHostileStrings(t *testing.T) {
	w := newRealWorld(t)
	w.withEvidence()
	// The signer's browser page (web/signerui), in front of the protocol.
	ui, err := signerui.New(signerui.Options{Service: w.svc, Logger: w.base.Logger})
	if err != nil {
		t.Fatal(err)
	}
	inner := w.srv.Config.Handler
	mux := http.NewServeMux()
	mux.Handle(signerui.PagePattern, ui)
	mux.Handle("/", inner)
	w.srv.Config.Handler = mux

	// A header injection through the title: refused, or kept on one line without its Bcc.
	t.Run("subject injection", func(t *testing.T) {
		m := hostileManifest("Contrat\r\nBcc: x@evil.test\r\nX-Evil: 1", "Carol", "carol@example.org", "+33611111111")
		r := w.upload(m, seedFiles())
		if r.Status == http.StatusCreated {
			var v struct{ ID string }
			r.json(t, &v)
			if r := w.api("POST", "/api/v1/envelopes/"+v.ID+"/send", nil); r.Status != http.StatusOK {
				t.Fatalf("send: %d %s", r.Status, r.Body)
			}
			p := w.lastMailTo("carol@example.org")
			if len(p.Header["Bcc"]) != 0 || len(p.Header["X-Evil"]) != 0 || strings.ContainsAny(p.Subject, "\r\n") {
				t.Errorf("the title injected headers: %v (subject %q)", p.Header, p.Subject)
			}
		} else if r.Status < 400 || r.Status >= 500 {
			t.Fatalf("create with CR/LF in the title: %d %s", r.Status, r.Body)
		} else {
			t.Logf("refused at creation: %d %s", r.Status, r.Body)
		}
		for _, m := range w.smtp.Mails() {
			for _, to := range m.To {
				if strings.Contains(to, "evil") {
					t.Errorf("mail sent to %s", to)
				}
			}
			if bytes.Contains(m.Raw, []byte("\nBcc:")) || bytes.Contains(m.Raw, []byte("\nX-Evil:")) {
				t.Errorf("injected header in:\n%s", m.Raw)
			}
		}
	})

	// Envelope 1: the signer signs, with hostile values.
	signed := w.sentEnvelope(hostileManifest(hostileTitle, hostileAlice, "alice@example.org", "+33612345678"))
	alice := w.party("+33612345678")
	inv := w.lastMailTo("alice@example.org")
	t.Run("invitation", func(t *testing.T) {
		noMarkup(t, "invitation HTML", inv.HTML)
		if !strings.Contains(inv.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("the invitation does not show the escaped title or message:\n%s", inv.HTML)
		}
		if inv.Subject == "" || !strings.Contains(inv.Subject, hostileScript) || strings.ContainsAny(inv.Subject, "\r\n") {
			t.Errorf("subject %q", inv.Subject)
		}
		// The signer's name is quoted in the To header, not pasted: the address stays hers.
		if to, err := inv.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Name != hostileAlice || to[0].Address != "alice@example.org" {
			t.Errorf("To header %q: %v %v", inv.Header["To"], to, err)
		}
		if raw := inv.Header.Get("Subject"); strings.ContainsAny(raw, "\r\n") || len(inv.Header["Subject"]) != 1 {
			t.Errorf("subject header %q", inv.Header["Subject"])
		}
	})
	r := alice.open(inv.Link())
	if r.Status != http.StatusOK {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	t.Run("signer JSON and page", func(t *testing.T) {
		// JSON: the values come back whole, escaped as data.
		if bytes.Contains(r.Body, []byte("<script")) || bytes.Contains(r.Body, []byte("<img")) {
			t.Errorf("the JSON answer carries raw markup: %s", r.Body)
		}
		var v stateReply
		r.json(t, &v)
		st := v.State
		if js := string(mustJSON(t, st)); !strings.Contains(js, mustJSONString(t, hostileTitle)) || !strings.Contains(js, mustJSONString(t, hostileDoc)) {
			t.Errorf("the state does not carry the title and document name as they were written: %s", r.Body)
		}
		// The HTML page: every value escaped.
		page := alice.get("/s/")
		if page.Status != http.StatusOK || !bytes.Contains(page.Body, []byte("<html")) {
			t.Fatalf("page: %d %s", page.Status, page.Body)
		}
		noMarkup(t, "signer page", string(page.Body))
		if !bytes.Contains(page.Body, []byte("&lt;script&gt;alert(1)&lt;/script&gt;")) {
			t.Errorf("the page does not show the escaped title:\n%s", page.Body)
		}
	})
	alice.readAll(map[string]string{"v1": hostileValue1, "v2": hostileValue2})
	t.Run("fields JSON", func(t *testing.T) {
		r := alice.get("/s/api/state")
		if bytes.Contains(r.Body, []byte("<b>")) || bytes.Contains(r.Body, []byte("<script")) {
			t.Errorf("state carries raw markup: %s", r.Body)
		}
		s := string(mustJSON(t, alice.state()))
		if !strings.Contains(s, mustJSONString(t, hostileValue1)) || !strings.Contains(s, mustJSONString(t, hostileValue2)) {
			t.Errorf("the state does not give back the typed values: %s", s)
		}
	})
	if r := alice.consent(); r.Status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	if r := alice.post("/s/api/code/verify", map[string]string{"code": w.sms.LastCodeFor("+33612345678")}); r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}

	t.Run("signed PDFs", func(t *testing.T) {
		for doc, value := range map[string]string{"compromis": hostileValue1, "annexe": hostileValue2} {
			r := w.api("GET", "/api/v1/envelopes/"+signed+"/documents/"+doc, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("download %s: %d %s", doc, r.Status, r.Body)
			}
			rep, err := pades.Verify(context.Background(), bytes.NewReader(r.Body), int64(len(r.Body)), pades.VerifyOptions{Roots: w.roots})
			if err != nil || !rep.Valid {
				t.Errorf("%s: %v %+v", doc, err, rep)
			}
			qpdfCheck(t, doc, r.Body)
			if text := squash(pdfText(t, r.Body, 1, 1)); !strings.Contains(text, squash(value)) {
				t.Errorf("%s page 1 does not show %q as text:\n%s", doc, value, text)
			}
		}
	})

	t.Run("completion mails", func(t *testing.T) {
		for _, m := range w.smtp.Mails() {
			p, err := m.Parse()
			if err != nil {
				t.Fatal(err)
			}
			noMarkup(t, "mail "+p.Subject, p.HTML)
			if len(p.Header["Subject"]) != 1 || strings.ContainsAny(p.Header.Get("Subject"), "\r\n") {
				t.Errorf("subject header %q", p.Header["Subject"])
			}
		}
	})

	t.Run("evidence report", func(t *testing.T) {
		report := evidenceReport(t, w, signed)
		if text := squash(pdfText(t, report, 0, 0)); !strings.Contains(text, squash(hostileTitle)) || !strings.Contains(text, squash(hostileValue1)) {
			t.Errorf("the report does not show the title and values as text:\n%s", text)
		}
	})

	// Envelope 2: the signer refuses, with a hostile reason.
	t.Run("refusal", func(t *testing.T) {
		id := w.sentEnvelope(hostileManifest(hostileTitle, hostileBob, "bob@example.org", "+447700900123"))
		bob := w.party("+447700900123")
		if r := bob.open(w.lastMailTo("bob@example.org").Link()); r.Status != http.StatusOK {
			t.Fatalf("bob open: %d %s", r.Status, r.Body)
		}
		bob.readAll(map[string]string{"v1": hostileValue1, "v2": hostileValue2})
		r := bob.post("/s/api/refuse", map[string]string{"reason": hostileReason})
		if r.Status != http.StatusOK {
			t.Fatalf("refuse: %d %s", r.Status, r.Body)
		}
		if bytes.Contains(r.Body, []byte("<script")) {
			t.Errorf("refusal answer carries raw markup: %s", r.Body)
		}
		r = w.api("GET", "/api/v1/envelopes/"+id, nil)
		if r.Status != http.StatusOK || bytes.Contains(r.Body, []byte("<script")) {
			t.Fatalf("envelope: %d %s", r.Status, r.Body)
		}
		var env struct {
			Signers []struct {
				Refusal string `json:"refusal_reason"`
			}
		}
		r.json(t, &env)
		if len(env.Signers) != 1 || env.Signers[0].Refusal != hostileReason {
			t.Errorf("the refusal reason is not kept as written: %s", r.Body)
		}
		for _, m := range w.smtp.Mails() {
			p, err := m.Parse()
			if err != nil {
				t.Fatal(err)
			}
			noMarkup(t, "mail "+p.Subject, p.HTML)
		}
		report := evidenceReport(t, w, id)
		if text := squash(pdfText(t, report, 0, 0)); !strings.Contains(text, squash(hostileReason)) {
			t.Errorf("the report does not show the refusal reason as text:\n%s", text)
		}
	})
}

// evidenceReport fetches an envelope's evidence bundle, checks it verifies, and returns its
// report PDF after checking it with qpdf and pades.Verify.
func evidenceReport(t *testing.T, w *world, id string) []byte {
	t.Helper()
	r := w.api("GET", "/api/v1/envelopes/"+id+"/evidence", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("evidence: %d %s", r.Status, r.Body)
	}
	if rep := verifyBundle(t, w, r.Body); !rep.Valid {
		t.Fatalf("bundle does not verify: %v", rep.Failures)
	}
	b, err := evidence.Parse(r.Body, evidence.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	report := b.Files[evidence.ReportPath]
	rep, err := pades.Verify(context.Background(), bytes.NewReader(report), int64(len(report)), pades.VerifyOptions{Roots: w.roots})
	if err != nil || !rep.Valid {
		t.Errorf("report: %v %+v", err, rep)
	}
	qpdfCheck(t, "report", report)
	return report
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustJSONString is s as a JSON string body (without its quotes), as json.Marshal writes it.
func mustJSONString(t *testing.T, s string) string {
	b := mustJSON(t, s)
	return string(b[1 : len(b)-1])
}
