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

// brokenRefs lists the aria-labelledby, aria-describedby and label for references that name no
// element of the page.
const brokenRefs = `(() => {
  const out = [];
  for (const el of document.querySelectorAll("[aria-labelledby], [aria-describedby], label[for]")) {
    const ids = [el.getAttribute("aria-labelledby"), el.getAttribute("aria-describedby"), el.getAttribute("for")].join(" ").split(/\s+/).filter(Boolean);
    for (const id of ids) if (!document.getElementById(id)) out.push(el.outerHTML.slice(0, el.outerHTML.indexOf(">") + 1) + " → #" + id);
  }
  return out;
})()`

// auditPage runs the shared audit (browsertest.Audit: accessible names, visible focus) and the
// signer pages' own checks: the page's language, references that resolve, one h1.
func (b *browser) auditPage(where, lang string) {
	b.T.Helper()
	where = b.Name + " " + where + " (" + lang + ")"
	if got := browsertest.Eval[string](b.Browser, `document.documentElement.lang`); got != lang {
		b.T.Errorf("%s: <html lang=%q>, want %q", where, got, lang)
	}
	if bad := browsertest.Eval[[]string](b.Browser, brokenRefs); len(bad) > 0 {
		b.T.Errorf("%s: references to no element: %q", where, bad)
	}
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll("h1").length`); n != 1 {
		b.T.Errorf("%s: %d h1 headings", where, n)
	}
	if n := b.Audit(where); n < 3 {
		b.T.Errorf("%s: the Tab key reaches only %d elements", where, n)
	}
	b.TabWalk(where)
	b.Shot(strings.ReplaceAll(where[len(b.Name)+1:], " ", "-"))
}

// screens are the window sizes the accessibility tests use: a desktop and a 375 px phone.
var screens = []struct {
	name          string
	width, height int
}{{"desktop", 1100, 860}, {"phone", 375, 760}}

// TestAccessibilityAudit runs the accessibility audit on every state of the signer's pages, in
// French and in English, on a desktop and on a phone: the landing page, the reader, the
// decision, the refusal dialog, the code and the end. The refusal dialog, closed, gives the
// focus back to « Refuser »; the code page puts it in the code.
func TestAccessibilityAudit(t *testing.T) {
	requireViewer(t)
	for _, sc := range screens {
		t.Run(sc.name, func(t *testing.T) { auditEveryState(t, sc.name, sc.width, sc.height) })
	}
}

func auditEveryState(t *testing.T, name string, width, height int) {
	w := newWorld(t, worldOptions{dwell: 300 * time.Millisecond})
	w.send(seedManifest(), seedFiles())
	b := newBrowser(t, "a11y-"+name, width, height)
	b.Open(w.link("alice@example.org"))
	langs := []string{"fr", "en"}
	each := func(where, query, ready string, then func(lang string)) {
		t.Helper()
		for _, lang := range langs {
			sep := "?"
			if query != "" {
				sep = "&"
			}
			b.Open(w.srv.URL + "/s/" + query + sep + "lang=" + lang)
			b.Wait(where, ready)
			b.auditPage(where, lang)
			if then != nil {
				then(lang)
			}
		}
	}
	each("landing", "", `document.getElementById("access") !== null`, nil)
	each("reader", "?v=read", `document.querySelector("#pages")?.dataset.ready === "true"`, nil)
	b.Open(w.srv.URL + "/s/?v=read&lang=fr")
	b.readDocument(map[string]string{"alice_city": "Lyon"})
	b.Open(w.srv.URL + "/s/?v=read&doc=2")
	b.readDocument(map[string]string{"alice_iban": "FR123456789012"})
	each("reader-read", "?v=read&doc=2", `document.querySelector("#pages")?.dataset.ready === "true" && !document.getElementById("next").disabled`, nil)
	each("decision", "?v=decide", `!document.getElementById("sign").disabled`, func(lang string) {
		// The consent scrolls when long: a region the keyboard reaches and scrolls.
		if !browsertest.Eval[bool](b.Browser, `document.getElementById("consent").tabIndex === 0`) {
			t.Errorf("decision (%s): the consent cannot be reached with the keyboard", lang)
		}
		// The refusal dialog, opened and closed with the keyboard.
		b.TabTo("refuse", 40)
		b.Press(kb.Enter)
		b.Wait("dialog open", `document.getElementById("refuse-dialog").open && document.activeElement.id === "reason"`)
		if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll("h1").length`); n != 1 {
			t.Errorf("refusal dialog: %d h1", n)
		}
		if bad := browsertest.Eval[[]string](b.Browser, brokenRefs); len(bad) > 0 {
			t.Errorf("refusal dialog (%s): references to no element: %q", lang, bad)
		}
		if got := b.text("#" + browsertest.Eval[string](b.Browser, `document.getElementById("refuse-dialog").getAttribute("aria-labelledby")`)); got != map[string]string{"fr": "Refuser de signer", "en": "Refuse to sign"}[lang] {
			t.Errorf("refusal dialog (%s): named %q", lang, got)
		}
		where := "refusal dialog (" + lang + ")"
		// (The audit starts in the reason: it counts the two buttons after it.)
		if n := b.Audit(b.Name + " " + where); n < 2 {
			t.Errorf("%s: the Tab key reaches %d elements", where, n)
		}
		// The focus stays in the dialog (or leaves the page for the browser's own controls,
		// as Chromium lets it from a modal dialog), never on the page behind.
		inDialog := 0
		for range 8 {
			b.Press(kb.Tab)
			switch browsertest.Eval[string](b.Browser, `(() => { const a = document.activeElement;
				return !a || a === document.body ? "none" : document.getElementById("refuse-dialog").contains(a) ? "dialog" : "page"; })()`) {
			case "page":
				t.Fatalf("%s: the Tab key reaches %q behind the dialog", where, b.Focused())
			case "dialog":
				inDialog++
			}
		}
		if inDialog < 4 {
			t.Fatalf("%s: the Tab key comes back to the dialog %d times in 8", where, inDialog)
		}
		b.Shot("refusal-dialog-" + lang)
		b.TabTo("refuse-cancel", 6)
		b.Press(kb.Enter)
		b.Wait("dialog closed", `!document.getElementById("refuse-dialog").open`)
		if got := b.Focused(); got != "refuse" {
			t.Errorf("%s: closed, the focus is on %q, want « Refuser »", where, got)
		}
	})
	// The code: « Signer » with the keyboard.
	b.Open(w.srv.URL + "/s/?v=decide&lang=fr")
	b.TabTo("sign", 40)
	b.Press(kb.Enter)
	b.Wait("code page", `document.getElementById("code") !== null`)
	each("code", "", `document.getElementById("code") !== null`, func(lang string) {
		if got := b.Focused(); got != "code" {
			// Audit moved the focus: check it on a fresh load.
			b.Open(w.srv.URL + "/s/")
			if got = b.Focused(); got != "code" {
				t.Errorf("code page (%s): the focus is on %q, want the code", lang, got)
			}
		}
	})
	code := w.sms.LastCodeFor("+33612345678")
	b.Do(chromedp.Focus(chromedp.ID("code")))
	b.Press(code, kb.Enter)
	b.Wait("end page", `document.getElementById("done-title") !== null`)
	each("end", "", `document.getElementById("done-title") !== null`, nil)
	b.Clean(b.Name)
}

// mostlyInViewRead holds when every page most of which is in view (70 % of it, or of the space
// above the action bar) is reported read: a reader's pace.
const mostlyInViewRead = `(() => {
  const bar = document.getElementById("actionbar").getBoundingClientRect().top;
  return [...document.querySelectorAll("#pages .page")].every((p) => {
    const r = p.getBoundingClientRect();
    const seen = Math.max(0, Math.min(r.bottom, bar) - Math.max(r.top, 0));
    return seen < 0.7 * Math.min(r.height, bar) || p.classList.contains("is-read");
  });
})()`

// TestKeyboardOnlyInBrowser: the whole ceremony with the keyboard only (Tab, Enter and Space,
// and the text typed), in French on a desktop and in English (chosen with the language
// switcher) on a phone: the landing page's « Accéder aux documents », every page scrolled with
// Space, the fields reached with « Champ à remplir » and filled, the next document, « Signer »,
// the code and the end. Every element the focus reaches shows it whole and is not hidden
// under the page's bars.
func TestKeyboardOnlyInBrowser(t *testing.T) {
	requireViewer(t)
	for _, sc := range screens {
		t.Run(sc.name, func(t *testing.T) {
			lang := map[string]string{"desktop": "fr", "phone": "en"}[sc.name]
			signWithKeyboard(t, "keyboard-"+lang+"-"+sc.name, sc.width, sc.height, lang)
		})
	}
}

func signWithKeyboard(t *testing.T, name string, width, height int, lang string) {
	w := newWorld(t, worldOptions{dwell: 300 * time.Millisecond})
	w.send(seedManifest(), seedFiles())
	b := newBrowser(t, name, width, height)
	b.Open(w.link("alice@example.org"))
	if lang != "fr" {
		b.TabTo("lang-"+lang, 20)
		b.Press(kb.Enter)
		b.Wait("language "+lang, fmt.Sprintf(`document.documentElement.lang === %q && document.getElementById("access") !== null`, lang))
	}
	b.TabTo("access", 20)
	b.Press(kb.Enter)
	b.Wait("reader", `location.search === "?v=read"`)

	values := []map[string]string{{"alice_city": "Lyon"}, {"alice_iban": "FR123456789012"}}
	for n, vals := range values {
		b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
		total := browsertest.Eval[int](b.Browser, `document.querySelectorAll("#pages .page").length`)
		// Space scrolls the page down (the focus is on no control) until every page is read.
		for i := 0; ; i++ {
			if browsertest.Eval[int](b.Browser, `document.querySelectorAll("#pages .page.is-read").length`) == total {
				break
			}
			if i == 60 {
				t.Fatalf("document %d: %d presses of Space do not read every page (%s; %s)", n+1, i, b.text("#readcount"),
					browsertest.Eval[string](b.Browser, `JSON.stringify({y: scrollY, h: document.documentElement.scrollHeight, ih: innerHeight,
						bar: document.getElementById("actionbar").getBoundingClientRect().top,
						pages: [...document.querySelectorAll("#pages .page")].map(p => [p.id, p.className, Math.round(p.getBoundingClientRect().top), Math.round(p.getBoundingClientRect().bottom)])})`))
			}
			if f := b.Focused(); f != "" && f != "main" {
				t.Fatalf("document %d: the focus is on %q while scrolling", n+1, f)
			}
			b.Wait("the pages in view read", mostlyInViewRead)
			b.Press(" ")
			time.Sleep(200 * time.Millisecond)
		}
		if browsertest.Eval[float64](b.Browser, `scrollY`) == 0 {
			t.Fatalf("document %d: Space did not scroll", n+1)
		}
		b.Shot(fmt.Sprintf("document-%d-read", n+1))
		for id, v := range vals {
			b.Wait("field to fill", `!document.getElementById("next-field").hidden`)
			b.TabTo("next-field", 40)
			b.Press(kb.Enter)
			// On a phone, the field's full-size input listed below its page (the overlay is inert).
			want := "field-" + id
			if width <= 640 {
				want += "-list"
			}
			if got := b.Focused(); got != want {
				t.Fatalf("« Champ à remplir » put the focus on %q, want %s", got, want)
			}
			b.Press(v, kb.Enter)
			b.Wait("field "+id+" saved", fmt.Sprintf(`document.getElementById("field-%s").closest(".field").classList.contains("is-valid")`, id))
		}
		b.Wait("next open", `!document.getElementById("next").disabled`)
		b.TabTo("next", 40)
		b.Press(kb.Enter)
		if n+1 < len(values) {
			b.Wait("next document", fmt.Sprintf(`location.search === "?v=read&doc=%d"`, n+2))
		}
	}
	b.Wait("decision", `location.search === "?v=decide"`)
	b.TabTo("sign", 40)
	b.Shot("sign-focused")
	b.Press(kb.Enter)
	b.Wait("code page", `document.getElementById("code") !== null && document.activeElement.id === "code"`)
	b.Press(w.sms.LastCodeFor("+33612345678"), kb.Enter)
	b.Wait("end page", `document.getElementById("done-title") !== null`)
	if got := b.text("#done-title"); got != map[string]string{"fr": "Vos documents sont signés", "en": "Your documents are signed"}[lang] {
		t.Fatalf("end page %q", got)
	}
	b.Clean(b.Name)
}

// TestDecisionErrorKeepsFocus: when « Signer » or the refusal fails (the network is down), the
// message shows and the focus comes back where the signer was (the button, the reason) instead
// of being lost with the button disabled during the request; with the network back, « Signer »
// works from there with the keyboard.
func TestDecisionErrorKeepsFocus(t *testing.T) {
	requireViewer(t)
	w := newWorld(t, worldOptions{dwell: 300 * time.Millisecond})
	w.send(seedManifest(), seedFiles())
	b := newBrowser(t, "decision-errors", 1100, 860)
	b.Open(w.link("alice@example.org"))
	b.Open(w.srv.URL + "/s/?v=read")
	b.readDocument(map[string]string{"alice_city": "Lyon"})
	b.Open(w.srv.URL + "/s/?v=read&doc=2")
	b.readDocument(map[string]string{"alice_iban": "FR123456789012"})
	b.Open(w.srv.URL + "/s/?v=decide&lang=fr")
	b.Wait("sign enabled", `!document.getElementById("sign").disabled`)
	offline := `window.__fetch = window.fetch; window.fetch = () => Promise.reject(new TypeError("offline"))`
	b.Do(chromedp.Evaluate[chromedp.Void](offline))

	b.TabTo("sign", 40)
	b.Press(kb.Enter)
	b.Wait("sign error", `!document.getElementById("decide-error").hidden && !document.getElementById("sign").disabled`)
	if got := b.text("#decide-error"); got != "Connexion impossible. Vérifiez votre réseau et réessayez." {
		t.Errorf("sign error %q", got)
	}
	if got := b.Focused(); got != "sign" {
		t.Fatalf("after the failed « Signer », the focus is on %q, want « Signer »", got)
	}

	b.TabTo("refuse", 5)
	b.Press(kb.Enter)
	b.Wait("dialog open", `document.getElementById("refuse-dialog").open && document.activeElement.id === "reason"`)
	b.Press("Le prix a changé.")
	b.TabTo("refuse-confirm", 5)
	b.Press(kb.Enter)
	b.Wait("refusal error", `!document.getElementById("reason-error").hidden && !document.getElementById("refuse-confirm").disabled`)
	if got := b.Focused(); got != "reason" {
		t.Fatalf("after the failed refusal, the focus is on %q, want the reason", got)
	}
	if got := b.text("#reason-error"); got != "Connexion impossible. Vérifiez votre réseau et réessayez." {
		t.Errorf("refusal error %q", got)
	}
	b.Shot("refusal-error")
	b.TabTo("refuse-cancel", 5)
	b.Press(kb.Enter)
	b.Wait("dialog closed", `!document.getElementById("refuse-dialog").open`)

	// The network back: « Signer » from the keyboard goes on to the code.
	b.Do(chromedp.Evaluate[chromedp.Void](`window.fetch = window.__fetch`))
	if got := b.Focused(); got != "refuse" {
		t.Errorf("the dialog closed, the focus is on %q, want « Refuser »", got)
	}
	b.TabTo("sign", 40)
	b.Press(kb.Enter)
	b.Wait("code page", `document.getElementById("code") !== null`)
	b.Clean(b.Name)
}
