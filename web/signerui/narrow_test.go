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

// entryShown is what the page shows of a field in its two views: the overlay on the page and the
// full-size input listed below the page on a narrow screen.
type entryShown struct {
	Shown       bool    `json:"shown"` // the list is displayed
	Height      float64 `json:"height"`
	Width       float64 `json:"width"`
	Value       string  `json:"value"`
	Overlay     string  `json:"overlay"` // the overlay's value
	Label       string  `json:"label"`
	Required    bool    `json:"required"`
	Invalid     string  `json:"invalid"`
	DescribedBy string  `json:"describedby"`
	Error       string  `json:"error"` // the visible message under the list's input
	Role        string  `json:"role"`
	Valid       bool    `json:"valid"`
	OverlayOK   bool    `json:"overlay_valid"`
	Inert       bool    `json:"inert"` // the overlay is out of reach
}

func (b *browser) entry(id string) entryShown {
	b.T.Helper()
	return browsertest.Eval[entryShown](b.Browser, fmt.Sprintf(`(() => {
		const i = document.getElementById("field-%[1]s-list"), o = document.getElementById("field-%[1]s");
		const e = document.getElementById("field-error-%[1]s-list"), r = i.getBoundingClientRect();
		return {shown: i.getClientRects().length > 0, height: r.height, width: r.width, value: i.value, overlay: o.value,
			label: i.labels[0]?.textContent ?? "", required: i.required && i.getAttribute("aria-required") === "true",
			invalid: i.getAttribute("aria-invalid") ?? "", describedby: i.getAttribute("aria-describedby") ?? "",
			error: e && !e.hidden && e.offsetParent !== null ? e.textContent : "", role: e?.getAttribute("role") ?? "",
			valid: i.closest(".entry").classList.contains("is-valid"), overlay_valid: o.closest(".field").classList.contains("is-valid"),
			inert: !!o.closest("[inert]")};
	})()`, id))
}

// shownInBothViews fails unless the given fields of the document shown hold their value in the
// overlay and, on a narrow screen, in the list below the page too.
func (b *browser) shownInBothViews(values map[string]string) {
	b.T.Helper()
	for id, v := range values {
		if !browsertest.Eval[bool](b.Browser, fmt.Sprintf(`!!document.getElementById("field-%s")`, id)) {
			continue
		}
		e := b.entry(id)
		narrow := browsertest.Eval[bool](b.Browser, `innerWidth <= 640`)
		if e.Overlay != v || e.Value != v || e.Shown != narrow || e.Inert != narrow {
			b.T.Fatalf("%s: field %s shows %+v, want %q in both views, the list shown and the overlay inert on a narrow screen only", b.Name, id, e, v)
		}
	}
}

// axTextboxes counts the text boxes named name that the accessibility tree exposes in #pages.
func (b *browser) axTextboxes(name string) int {
	b.T.Helper()
	n := 0
	for _, node := range b.AXTree("#pages") {
		if node.Role == "textbox" && !node.Ignored && strings.HasPrefix(node.Name, name) {
			n++
		}
	}
	return n
}

// TestNarrowScreenFields: at 375 px, each page's fields are listed below it as full-size
// labelled inputs (at least 44 px tall, the required mark, aria wiring); the overlay stays drawn
// but inert, so that each field is announced once. Validation messages show under the list's
// input; values typed there are stored and shown in the overlay; widened to a desktop, the list
// goes and the overlay takes the typing, shown in the list when narrowed again. The audit passes
// on the narrow reader, « Champ à remplir » is 44 px tall, and there is no policy violation.
func TestNarrowScreenFields(t *testing.T) {
	requireViewer(t)
	w := newWorld(t, worldOptions{dwell: 300 * time.Millisecond})
	w.send(seedManifest(), seedFiles())
	b := newBrowser(t, "narrow-375px", 375, 760)
	b.Open(w.link("alice@example.org"))
	b.Open(w.srv.URL + "/s/?v=read&lang=fr")
	b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)

	e := b.entry("alice_city")
	if !e.Shown || !e.Inert || e.Height < 44 || e.Width < 200 || !strings.HasPrefix(e.Label, "Fait à *") || !e.Required ||
		e.DescribedBy != "field-error-alice_city-list" || e.Role != "alert" {
		t.Fatalf("the field « Fait à » listed below page 1: %+v", e)
	}
	if got := browsertest.Eval[string](b.Browser, `document.getElementById("field-alice_city-list").closest(".page-fields")?.previousElementSibling?.id ?? ""`); got != "page-1" {
		t.Fatalf("the list of page 1's fields follows %q", got)
	}
	if got := b.text("#page-fields-1 .page-fields-title"); got != "Champs à remplir de la page 1" {
		t.Fatalf("the list's title %q", got)
	}
	if n := b.axTextboxes("Fait à"); n != 1 {
		t.Fatalf("the field « Fait à » is exposed %d times to assistive technologies, want once", n)
	}
	b.Wait("« Champ à remplir »", `!document.getElementById("next-field").hidden`)
	if h := browsertest.Eval[float64](b.Browser, `document.getElementById("next-field").getBoundingClientRect().height`); h < 44 {
		t.Fatalf("« Champ à remplir » is %.1f px tall", h)
	}
	b.auditPage("reader narrow", "fr")

	// Validation: typed, erased, left: the message under the list's input, nothing stored.
	list := chromedp.ID("field-alice_city-list")
	b.Do(chromedp.SendKeys(list, "x"), chromedp.KeyEvent(kb.Backspace), chromedp.KeyEvent(kb.Tab))
	b.Wait("error on the list's input", `document.getElementById("field-alice_city-list").getAttribute("aria-invalid") === "true"`)
	if e := b.entry("alice_city"); e.Error != "Ce champ est obligatoire." || e.Valid {
		t.Fatalf("the list's input after an empty value: %+v", e)
	}
	b.Shot("required")
	if got, ok := b.stored("alice_city"); got != "" || ok {
		t.Fatalf("the server holds alice_city = %q (valid %v) after an empty value", got, ok)
	}

	// A value typed in the list: stored, shown in the overlay, both marked valid.
	b.Do(chromedp.SendKeys(list, "Lyon"), chromedp.KeyEvent(kb.Tab))
	b.Wait("saved", `document.getElementById("field-alice_city-list").closest(".entry").classList.contains("is-valid")`)
	if e := b.entry("alice_city"); e.Value != "Lyon" || e.Overlay != "Lyon" || !e.OverlayOK || e.Error != "" || e.Invalid == "true" {
		t.Fatalf("after Lyon typed in the list: %+v", e)
	}
	if got, ok := b.stored("alice_city"); got != "Lyon" || !ok {
		t.Fatalf("the server holds alice_city = %q (valid %v), want Lyon", got, ok)
	}
	b.Shot("typed")

	// Widened to a desktop: the list goes, the overlay takes the typing; narrowed, the list shows it.
	b.Do(chromedp.EmulateViewport(1100, 860))
	b.Wait("list hidden", `document.getElementById("field-alice_city-list").getClientRects().length === 0 && !document.querySelector("#page-1 .fields").inert`)
	if n := b.axTextboxes("Fait à"); n != 1 {
		t.Fatalf("on a desktop, the field « Fait à » is exposed %d times, want once", n)
	}
	over := chromedp.ID("field-alice_city")
	b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("field-alice_city").select()`), chromedp.SendKeys(over, "Paris"), chromedp.KeyEvent(kb.Enter))
	b.Wait("Paris stored", `document.getElementById("field-alice_city").value === "Paris" && document.getElementById("field-alice_city").closest(".field").classList.contains("is-valid")`)
	b.Do(chromedp.EmulateViewport(375, 760))
	b.Wait("list shown", `document.getElementById("field-alice_city-list").getClientRects().length > 0 && document.querySelector("#page-1 .fields").inert`)
	if e := b.entry("alice_city"); e.Value != "Paris" || !e.Valid || !e.Inert {
		t.Fatalf("typed in the overlay, shown in the list: %+v", e)
	}
	if got, _ := b.stored("alice_city"); got != "Paris" {
		t.Fatalf("the server holds alice_city = %q, want Paris", got)
	}
	b.Clean(b.Name)
}
