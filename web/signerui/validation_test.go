package signerui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paraphe/paraphe/internal/browsertest"
)

// fieldShown is what the page shows of a field's inline validation.
type fieldShown struct {
	Value       string `json:"value"`
	Invalid     string `json:"invalid"`     // aria-invalid
	DescribedBy string `json:"describedby"` // aria-describedby
	ErrorID     string `json:"error_id"`
	Error       string `json:"error"` // the visible message ("" when hidden)
	Role        string `json:"role"`
	Valid       bool   `json:"valid"` // shown as accepted by the server
}

func (b *browser) field(id string) fieldShown {
	b.T.Helper()
	return browsertest.Eval[fieldShown](b.Browser, fmt.Sprintf(`(() => {
		const i = document.getElementById("field-%s"), e = document.getElementById("field-error-%s");
		return {value: i.value, invalid: i.getAttribute("aria-invalid") ?? "", describedby: i.getAttribute("aria-describedby") ?? "",
			error_id: e?.id ?? "", error: e && !e.hidden && e.offsetParent !== null ? e.textContent : "", role: e?.getAttribute("role") ?? "",
			valid: i.closest(".field").classList.contains("is-valid")};
	})()`, id, id))
}

// stored is the field's value and validity as the server holds them (GET /s/api/state).
func (b *browser) stored(id string) (string, bool) {
	b.T.Helper()
	r := browsertest.Eval[[]string](b.Browser, fmt.Sprintf(`fetch("/s/api/state", {headers: {Accept: "application/json"}}).then(r => r.json()).then(j => {
		for (const d of j.state.documents) for (const f of d.fields || []) if (f.id === %q) return [f.value, String(f.valid)];
		return ["?", "?"]; })`, id))
	return r[0], r[1] == "true"
}

// wantError fails unless the field shows msg inline, marked invalid and linked to it.
func (b *browser) wantError(id, msg string) {
	b.T.Helper()
	b.Wait("error on "+id, fmt.Sprintf(`document.getElementById("field-%s").getAttribute("aria-invalid") === "true"`, id))
	f := b.field(id)
	if f.Error != msg || f.Invalid != "true" || f.ErrorID == "" || !strings.Contains(" "+f.DescribedBy+" ", " "+f.ErrorID+" ") || f.Role != "alert" || f.Valid {
		b.T.Fatalf("%s: field %s shows %+v, want the message %q, aria-invalid and aria-describedby naming it", b.Name, id, f, msg)
	}
}

// wantClean fails unless the field shows no problem and is accepted with value v.
func (b *browser) wantClean(id, v string) {
	b.T.Helper()
	b.Wait(id+" saved", fmt.Sprintf(`document.getElementById("field-%s").closest(".field").classList.contains("is-valid")`, id))
	if f := b.field(id); f.Error != "" || f.Invalid == "true" || f.Value != v {
		b.T.Fatalf("%s: field %s after correction: %+v", b.Name, id, f)
	}
	if got, ok := b.stored(id); got != v || !ok {
		b.T.Fatalf("%s: the server holds %s = %q (valid %v), want %q", b.Name, id, got, ok, v)
	}
}

// clear selects the field's text and erases it with Backspace.
func (b *browser) clear(id string) {
	b.T.Helper()
	b.Do(chromedp.Focus(chromedp.ID("field-"+id)), chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById("field-%s").select()`, id)),
		chromedp.KeyEvent(kb.Backspace))
}

// nextStaysClosed fails if the reader's « next » opens within a moment.
func (b *browser) nextStaysClosed(why string) {
	b.T.Helper()
	time.Sleep(300 * time.Millisecond)
	if !browsertest.Eval[bool](b.Browser, `document.getElementById("next").disabled`) {
		b.T.Fatalf("%s: the reader's next button is open %s", b.Name, why)
	}
}

// TestFieldValidationInBrowser: values typed that break a field's rules (required left empty,
// not matching the pattern, longer than the maximum) show the catalog's message under the
// field, in French then in English, with aria-invalid and aria-describedby naming the message;
// the server does not store them, the next document stays locked and « Signer » disabled;
// once corrected, the signer goes on to the end.
func TestFieldValidationInBrowser(t *testing.T) {
	requireViewer(t)
	w := newWorld(t, worldOptions{dwell: 300 * time.Millisecond})
	w.send(seedManifest(), seedFiles())
	b := newBrowser(t, "fields-fr-en", 1100, 860)
	b.Open(w.link("alice@example.org"))
	b.Open(w.srv.URL + "/s/?v=read&lang=fr")
	b.readDocument(nil)
	b.nextStaysClosed("with the required field empty")

	// Required: typed in, erased, left: the message, nothing stored.
	b.Do(chromedp.SendKeys(chromedp.ID("field-alice_city"), "x"), chromedp.KeyEvent(kb.Backspace), chromedp.KeyEvent(kb.Tab))
	b.wantError("alice_city", "Ce champ est obligatoire.")
	b.Shot("required")
	b.nextStaysClosed("with a field in error")
	if got, ok := b.stored("alice_city"); got != "" || ok {
		t.Fatalf("the server holds alice_city = %q (valid %v) after an empty value", got, ok)
	}
	// A value, then erased again: the server keeps the last valid value, the page shows the
	// problem and does not let the signer go on with a value they no longer see.
	b.Do(chromedp.SendKeys(chromedp.ID("field-alice_city"), "Lyon"), chromedp.KeyEvent(kb.Tab))
	b.wantClean("alice_city", "Lyon")
	b.Wait("next open", `!document.getElementById("next").disabled`)
	b.clear("alice_city")
	b.Do(chromedp.KeyEvent(kb.Tab))
	b.wantError("alice_city", "Ce champ est obligatoire.")
	b.nextStaysClosed("while the field shows a problem")
	if got, _ := b.stored("alice_city"); got != "Lyon" {
		t.Fatalf("the server holds alice_city = %q after an empty value, want the last valid value", got)
	}
	b.Do(chromedp.SendKeys(chromedp.ID("field-alice_city"), "Paris"), chromedp.KeyEvent(kb.Enter))
	b.wantClean("alice_city", "Paris")
	b.Wait("next open", `!document.getElementById("next").disabled`)
	b.Do(chromedp.Click(chromedp.ID("next"), chromedp.NodeVisible))
	b.Wait("document 2", `location.search === "?v=read&doc=2"`)

	// Pattern, in French.
	b.readDocument(nil)
	b.Do(chromedp.SendKeys(chromedp.ID("field-alice_iban"), "FR12AB"), chromedp.KeyEvent(kb.Tab))
	b.wantError("alice_iban", "Le format attendu n’est pas respecté.")
	b.Shot("pattern-fr")
	b.nextStaysClosed("with the IBAN not matching its pattern")
	if got, ok := b.stored("alice_iban"); got != "" || ok {
		t.Fatalf("the server holds alice_iban = %q (valid %v)", got, ok)
	}
	b.Open(w.srv.URL + "/s/?v=decide")
	if !browsertest.Eval[bool](b.Browser, `document.getElementById("sign").disabled && document.getElementById("refuse").disabled`) || b.text("#not-ready") == "" {
		t.Fatal("« Signer » is open with the IBAN in error")
	}

	// In English, after a reload: the field is empty (nothing was stored) and the messages are
	// the English catalog's.
	b.Open(w.srv.URL + "/s/?v=read&doc=2&lang=en")
	b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
	if f := b.field("alice_iban"); f.Value != "" || f.Error != "" {
		t.Fatalf("the IBAN after a reload: %+v", f)
	}
	b.Do(chromedp.SendKeys(chromedp.ID("field-alice_iban"), "GB12345678901"), chromedp.KeyEvent(kb.Enter))
	b.wantError("alice_iban", "This is not in the expected format.")
	b.clear("alice_iban")
	b.Do(chromedp.KeyEvent(kb.Tab))
	b.wantError("alice_iban", "This field is required.")
	b.Shot("required-en")
	b.nextStaysClosed("with the IBAN in error")
	// Longer than its maximum (14): the field takes no more than 14 characters.
	b.Do(chromedp.SendKeys(chromedp.ID("field-alice_iban"), "FR1234567890123456"), chromedp.KeyEvent(kb.Tab))
	b.wantClean("alice_iban", "FR123456789012")
	b.Wait("decision open", `!document.getElementById("next").disabled`)
	b.Clean(b.Name + " reader")
	b.Do(chromedp.Click(chromedp.ID("next"), chromedp.NodeVisible))
	b.Wait("decision", `location.search === "?v=decide"`)
	b.Wait("sign enabled", `!document.getElementById("sign").disabled`)
	b.Do(chromedp.Click(chromedp.ID("sign"), chromedp.NodeVisible))
	b.Wait("code page", `document.getElementById("code") !== null`)
	b.Do(chromedp.SendKeys(chromedp.ID("code"), w.sms.LastCodeFor("+33612345678")), chromedp.KeyEvent(kb.Enter))
	b.Wait("end page", `document.getElementById("done-title") !== null`)
	if got := b.text("#done-title"); got != "Your documents are signed" {
		t.Fatalf("end page %q", got)
	}
	b.Clean(b.Name)
}
