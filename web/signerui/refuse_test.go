package signerui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/browsertest"
)

// TestRefuseInBrowser: after reading, « Refuser » opens a dialog (used with the keyboard here)
// that requires a reason; the refusal ends the ceremony.
func TestRefuseInBrowser(t *testing.T) {
	requireViewer(t)
	w := newWorld(t, worldOptions{dwell: 300 * time.Millisecond})
	id := w.send(seedManifest(), seedFiles())
	b := newBrowser(t, "refuse-fr", 1100, 860)
	b.Open(w.link("alice@example.org"))
	b.Open(w.srv.URL + "/s/?v=read")
	b.readDocument(map[string]string{"alice_city": "Lyon"})
	b.Open(w.srv.URL + "/s/?v=read&doc=2")
	b.readDocument(map[string]string{"alice_iban": "FR123456789012"})
	b.Open(w.srv.URL + "/s/?v=decide")
	b.Wait("refuse enabled", `!document.getElementById("refuse").disabled`)

	// Keyboard only: focus « Refuser », Enter opens the dialog with the focus in the reason.
	b.Do(chromedp.Focus(chromedp.ID("refuse")), chromedp.KeyEvent(kb.Enter))
	b.Wait("dialog open", `document.getElementById("refuse-dialog").open && document.activeElement.id === "reason"`)
	// Confirming without a reason is refused on the page.
	b.Do(chromedp.Focus(chromedp.ID("refuse-confirm")), chromedp.KeyEvent(kb.Enter))
	b.Wait("reason required", `!document.getElementById("reason-error").hidden`)
	if got := b.text("#reason-error"); got != "Indiquez le motif de votre refus." {
		t.Fatalf("reason error %q", got)
	}
	if browsertest.Eval[string](b.Browser, `document.getElementById("reason").getAttribute("aria-invalid")`) != "true" {
		t.Fatal("the empty reason is not marked invalid")
	}
	b.Shot("reason-required")
	reason := "Le prix ne correspond pas à l’offre <b>acceptée</b>."
	b.Do(chromedp.SendKeys(chromedp.ID("reason"), reason))
	b.Shot("reason")
	b.Do(chromedp.Focus(chromedp.ID("refuse-confirm")), chromedp.KeyEvent(kb.Enter))
	b.Wait("end page", `document.getElementById("done-title") !== null`)
	if got := b.text("#done-title"); got != "Vous avez refusé de signer" {
		t.Fatalf("end page %q", got)
	}
	b.Shot("refused")
	b.Clean(b.Name)
	e, err := w.svc.Envelope(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != ceremony.StatusDeclined || e.Signers[0].Status != ceremony.SignerRefused {
		t.Fatalf("envelope %s, signer %s", e.Status, e.Signers[0].Status)
	}
}

// TestSignBeforeReading: before reading, the decision's buttons and the reader's "next" are
// disabled, and requests forged from the page with its own CSRF token are refused by the server.
func TestSignBeforeReading(t *testing.T) {
	requireViewer(t)
	w := newWorld(t, worldOptions{dwell: 300 * time.Millisecond})
	id := w.send(seedManifest(), seedFiles())
	b := newBrowser(t, "early-en", 1100, 860)
	b.Open(w.link("alice@example.org"))
	b.Open(w.srv.URL + "/s/?v=decide&lang=en")
	if !browsertest.Eval[bool](b.Browser, `document.getElementById("sign").disabled && document.getElementById("refuse").disabled`) {
		t.Fatal("sign or refuse enabled before reading")
	}
	if got := b.text("#not-ready"); !strings.Contains(got, "first read every page of every document") {
		t.Fatalf("explanation %q", got)
	}
	b.Shot("decision-locked")
	// Clicking the disabled button does nothing.
	b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("sign").click()`))
	forge := func(method, path, body string) string {
		return browsertest.Eval[string](b.Browser, fmt.Sprintf(`(async () => {
			const cfg = JSON.parse(document.getElementById("config").textContent);
			const r = await fetch(%q, {method: %q, headers: {"Content-Type": "application/json", "X-CSRF-Token": cfg.csrf}, body: %q});
			const j = await r.json();
			return r.status + " " + (j.error ? j.error.code : "ok");
		})()`, path, method, body))
	}
	digest := strings.Repeat("0", 64)
	for _, c := range []struct{ path, body, want string }{
		{"/s/api/sign", `{"consent_digest":"` + digest + `"}`, "409 reading_incomplete"},
		{"/s/api/refuse", `{"reason":"no"}`, "409 reading_incomplete"},
		{"/s/api/documents/2/pages/1/read", `{}`, "409 document_locked"},
		{"/s/api/code/verify", `{"code":"123456"}`, "409 consent_required"},
	} {
		if got := forge("POST", c.path, c.body); got != c.want {
			t.Errorf("forged %s: %s, want %s", c.path, got, c.want)
		}
	}
	// Without the CSRF token, even a well-formed step is refused.
	got := browsertest.Eval[string](b.Browser, `fetch("/s/api/documents/1/pages/1/read", {method: "POST"}).then(r => r.json().then(j => r.status + " " + j.error.code))`)
	if got != "403 csrf_invalid" {
		t.Errorf("read without CSRF token: %s", got)
	}
	// The reader: "next document" is disabled, the locked document is not a link.
	b.Open(w.srv.URL + "/s/?v=read")
	b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
	if !browsertest.Eval[bool](b.Browser, `document.getElementById("next").disabled && document.getElementById("tab-2").tagName === "SPAN"`) {
		t.Fatal("the next document is reachable before reading")
	}
	// Asking for the locked document shows the current one.
	b.Open(w.srv.URL + "/s/?v=read&doc=2")
	if got := b.text(".doc-title"); got != "Compromis de vente" {
		t.Fatalf("locked document shown: %q", got)
	}
	b.Clean(b.Name)
	e, err := w.svc.Envelope(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st := e.Signers[0].Status; st != ceremony.SignerInvited {
		t.Fatalf("signer %s after forged requests", st)
	}
}

// TestLargeDocument: a 300-page document opens, and while the signer scrolls from the first page
// to the last only the pages near the screen hold a canvas and a text layer (each drawn page has
// its text, in its text layer).
func TestLargeDocument(t *testing.T) {
	requireViewer(t)
	w := newWorld(t, worldOptions{dwell: 200 * time.Millisecond})
	m := map[string]any{"title": "Règlement de copropriété", "signers": []map[string]any{
		{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "phone": "+33612345678", "locale": "fr"}},
		"documents": []map[string]any{{"id": "reglement", "file": "reglement.pdf", "name": "Règlement de copropriété"}}}
	w.send(m, map[string][]byte{"reglement.pdf": ceremonytest.MinimalPDF(300, "Règlement")})
	b := newBrowser(t, "large", 1100, 860)
	b.Open(w.link("alice@example.org"))
	b.Open(w.srv.URL + "/s/?v=read")
	b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll("#pages .page").length`); n != 300 {
		t.Fatalf("%d pages laid out", n)
	}
	const bound = 12
	most := 0
	for p := 1; p <= 300; p++ {
		b.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById("page-%d").scrollIntoView({block: "start"})`, p)))
		if p%25 == 0 || p == 1 || p == 300 {
			// Every so often, wait until the page is drawn and reported read.
			b.Wait(fmt.Sprintf("page %d rendered", p), fmt.Sprintf(`document.getElementById("page-%d").classList.contains("is-rendered")`, p))
			b.Wait(fmt.Sprintf("page %d read", p), fmt.Sprintf(`document.getElementById("page-%d").classList.contains("is-read")`, p))
			if got, want := b.text(fmt.Sprintf("#page-%d .textLayer", p)), fmt.Sprintf("- page %d", p); !strings.HasSuffix(got, want) {
				t.Fatalf("page %d's text layer holds %q, want its text (ending %q)", p, got, want)
			}
		}
		n := browsertest.Eval[[]int](b.Browser, `new Promise(r => requestAnimationFrame(() => r([document.querySelectorAll("#pages canvas").length,
			document.querySelectorAll("#pages .textLayer").length, document.querySelectorAll("#pages .textLayer span").length])))`)
		most = max(most, n[0])
		if n[0] > bound || n[1] > bound || n[1] > n[0] || n[2] > bound {
			t.Fatalf("at page %d: %d canvases, %d text layers holding %d spans (bound %d; a text layer only with its canvas)", p, n[0], n[1], n[2], bound)
		}
		if p == 150 {
			b.Shot("middle")
		}
	}
	if most == 0 {
		t.Fatal("no page was ever rendered")
	}
	if got := b.text("#progress"); got != "Page 300 / 300" {
		t.Fatalf("progress %q", got)
	}
	// Going back to the start renders the first page again.
	b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("page-1").scrollIntoView({block: "start"})`))
	b.Wait("page 1 rendered again", `document.getElementById("page-1").classList.contains("is-rendered")`)
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll("#pages canvas, #pages .textLayer").length`); n > 2*bound {
		t.Fatalf("%d canvases and text layers after scrolling back", n)
	}
	b.Shot("end")
	b.Clean(b.Name)
	t.Logf("at most %d canvases for 300 pages", most)
}
