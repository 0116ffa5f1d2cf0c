package admin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/browsertest"
)

// tabTo presses Tab (Shift+Tab when back) until the focused element matches the CSS selector,
// and fails the test if it is not reached within 150 presses.
func (b *browser) tabTo(sel string, back bool) {
	b.T.Helper()
	var mods []chromedp.KeyOption
	if back {
		mods = append(mods, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	for range 150 {
		if browsertest.Eval[bool](b.Browser, fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel)) {
			return
		}
		b.Do(chromedp.KeyEvent(kb.Tab, mods...))
	}
	b.T.Fatalf("Tab does not reach %s (focus on %s)", sel, browsertest.Eval[string](b.Browser, `document.activeElement?.outerHTML.slice(0, 120) ?? ""`))
}

// TestKeyboardPlacement: without a mouse, a sender places a text field and a signature box for
// the second signer on page 2 with the « Add a field » button above the page (Enter, then
// Space), the second at the first free spot below the first; each new field takes the focus
// and is announced; arrows move and Shift+arrows resize them; the draft holds them on page 2
// with the rectangles expected; the page passes the shared audit without policy violation.
func TestKeyboardPlacement(t *testing.T) {
	w := newWorld(t)
	requirePDFJS(t, w)
	w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	b := newBrowser(t, "keyboard-placement")
	base := w.srv.URL
	b.login(base, "clerc@notaires.test", "password of clerc@notaires.test")

	b.Open(base + "/admin/envelopes/new")
	b.Wait("preparation page", `document.querySelectorAll("#signers fieldset").length === 1`)
	b.typeIn("#title", "Compromis de vente")
	b.fillSigner(1, "Alice Martin", "alice@example.org", "+33612345678")
	b.tabTo("#add-signer", true)
	b.Press(kb.Enter)
	b.Wait("second signer", `document.querySelectorAll("#signers fieldset").length === 2`)
	b.fillSigner(2, "Bob Dupont", "bob@example.org", "+33698765432")
	file := filepath.Join(t.TempDir(), "compromis.pdf")
	os.WriteFile(file, ceremonytest.MinimalPDF(3, "Compromis"), 0o600)
	b.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{file}))
	b.Wait("pages", `document.querySelectorAll("#docs .page").length === 3 && document.querySelectorAll("#docs .page-add").length === 3`)

	// Bob fills the fields: chosen in « Filled by » with the arrow keys.
	b.tabTo("#field-owner", false)
	b.Press(kb.ArrowDown)
	if got := browsertest.Eval[string](b.Browser, `document.querySelector("#field-owner").selectedOptions[0].textContent`); got != "Bob Dupont" {
		t.Fatalf("owner %q, want Bob Dupont", got)
	}
	page2 := `#docs .page[data-page="2"]`
	// The button of page 2 is the one just before the page; on the way to it and on it, the
	// focus shows whole, uncovered by the sticky toolbar and actions (browsertest.TabTo).
	add2 := browsertest.Eval[string](b.Browser, `document.querySelector('`+page2+`').previousElementSibling.querySelector("button.page-add").id`)
	b.TabTo(add2, 60)
	name := browsertest.Eval[string](b.Browser, `document.activeElement.textContent`)
	if !regexp.MustCompile(`(?i)(Add a field \(text\) to page 2 of 3|Ajouter un champ \(texte\) en page 2 sur 3)`).MatchString(name) {
		t.Fatalf("the button above page 2 reads %q", name)
	}
	b.Press(kb.Enter)
	focusedBox := func(what, class string) {
		t.Helper()
		b.Wait(what+" focused on page 2", `document.activeElement.matches(".fbox`+class+`") && document.activeElement.parentElement.matches('`+page2+`')`)
		toast := browsertest.Eval[string](b.Browser, `document.querySelector("#toast").textContent`)
		if !regexp.MustCompile(`^(Added|Ajouté) ?: .*Bob Dupont`).MatchString(toast) {
			t.Fatalf("%s: announced %q", what, toast)
		}
	}
	focusedBox("text field", ":not(.sig)")
	// Right 10, down 5, 5 wider.
	b.Press(kb.ArrowRight, kb.ArrowRight, kb.ArrowDown)
	b.Do(chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)))

	// A signature box: the kind chosen with the arrow keys, the button pressed with Space.
	b.tabTo("#field-kind", true)
	b.Press(kb.ArrowDown)
	if v := browsertest.Eval[string](b.Browser, `document.querySelector("#field-kind").value`); v != "signature" {
		t.Fatalf("kind %q", v)
	}
	b.TabTo(add2, 60)
	if name := browsertest.Eval[string](b.Browser, `document.activeElement.textContent`); !regexp.MustCompile(`(?i)(signature box|emplacement de signature)`).MatchString(name) {
		t.Fatalf("the button above page 2 reads %q once the kind is a signature box", name)
	}
	b.Press(" ")
	focusedBox("signature box", ".sig")
	// Left 5, down 10.
	b.Press(kb.ArrowLeft, kb.ArrowDown, kb.ArrowDown)
	b.audit("preparation page, fields placed with the keyboard")
	b.Clean("preparation page")

	b.tabTo("#save-draft", false)
	b.Press(kb.Enter)
	b.Wait("envelope page", `/^\/admin\/envelopes\/[0-9a-f]{32}$/.test(location.pathname)`)
	id := regexp.MustCompile(`[0-9a-f]{32}$`).FindString(browsertest.Eval[string](b.Browser, `location.pathname`))
	e, err := w.svc.Envelope(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	// Page 2 is 595 × 842 points. The text field (160 × 22) starts at the page's centre
	// (217.5, 410 from the top); the signature box (150 × 45) would overlap it there and goes
	// below it (8 points under its bottom, 437): (222.5, 445).
	want := []layoutItem{
		{Kind: "signature", Signer: 1, Page: 2, Required: true, Rect: ceremony.Rect{X: 217.5, Y: 842 - 455 - 45, W: 150, H: 45}},
		{Kind: "text", Label: "Text", Signer: 1, Page: 2, Required: true, Rect: ceremony.Rect{X: 227.5, Y: 842 - 415 - 22, W: 165, H: 22}},
	}
	got := layout(e)
	if len(got) != len(want) {
		t.Fatalf("layout %+v, want %+v", got, want)
	}
	for i := range want {
		g := got[i]
		if g.Label == "Texte" {
			g.Label = "Text"
		}
		if g.Kind != want[i].Kind || g.Label != want[i].Label || g.Signer != want[i].Signer || g.Page != want[i].Page || g.Required != want[i].Required || !sameRect(g.Rect, want[i].Rect) {
			t.Errorf("item %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
