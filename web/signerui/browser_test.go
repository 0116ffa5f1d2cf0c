package signerui

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paraphe/paraphe/internal/browsertest"
)

// browser is a headless Chromium tab with the signer's pages' steps.
type browser struct{ *browsertest.Browser }

// newBrowser starts Chromium with a fresh profile and a window of the given size.
func newBrowser(t *testing.T, name string, width, height int) *browser {
	t.Helper()
	requireViewer(t)
	return &browser{browsertest.New(t, name, browsertest.Options{Width: width, Height: height, HideScrollbars: true, WaitTimeout: 45 * time.Second})}
}

func (b *browser) text(sel string) string {
	b.T.Helper()
	return browsertest.Eval[string](b.Browser, fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").replace(/\s+/g, " ").trim()`, sel))
}

func (b *browser) location() string {
	b.T.Helper()
	return browsertest.Eval[string](b.Browser, `location.href`)
}

// readDocument scrolls through every page of the reader's document, in order, waiting for each
// to be rendered and reported read, and fills the given fields on the way.
func (b *browser) readDocument(values map[string]string) {
	b.T.Helper()
	b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
	total := browsertest.Eval[int](b.Browser, `document.querySelectorAll("#pages .page").length`)
	for p := 1; p <= total; p++ {
		b.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById("page-%d").scrollIntoView({block: "start"})`, p)))
		b.Wait(fmt.Sprintf("page %d rendered", p), fmt.Sprintf(`document.querySelector("#page-%d canvas") && document.getElementById("page-%d").classList.contains("is-rendered")`, p, p))
		for id, v := range values {
			if browsertest.Eval[bool](b.Browser, fmt.Sprintf(`!!document.querySelector("#page-%d #field-%s")`, p, id)) {
				b.fill(id, v)
			}
		}
		b.Wait(fmt.Sprintf("page %d read", p), fmt.Sprintf(`document.getElementById("page-%d").classList.contains("is-read")`, p))
		if p == 1 {
			b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("page-1").scrollIntoView({block: "end"})`))
			b.Shot("reader")
		}
	}
}

// fill types a value into a field with the keyboard and leaves it, then waits for the server
// to accept it.
func (b *browser) fill(id, v string) {
	b.T.Helper()
	sel := chromedp.ID("field-" + id)
	b.Do(chromedp.Focus(sel), chromedp.SendKeys(sel, v), chromedp.SendKeys(sel, "\t"))
	b.Wait("field "+id+" saved", fmt.Sprintf(`document.getElementById("field-%s").closest(".field").classList.contains("is-valid")`, id))
}

// noOverflow fails if the page is wider than the window (it must work at 375 px).
func (b *browser) noOverflow(where string) {
	b.T.Helper()
	if w, iw := browsertest.Eval[int](b.Browser, `document.documentElement.scrollWidth`), browsertest.Eval[int](b.Browser, `window.innerWidth`); w > iw {
		b.T.Fatalf("%s: the %s page is %d px wide in a %d px window", b.Name, where, w, iw)
	}
}
