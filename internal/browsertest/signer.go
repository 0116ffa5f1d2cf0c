package browsertest

import (
	"fmt"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The signer's pages (web/signerui, served under /s/) as a signer goes through them.

// ReadDocument scrolls through every page of the reader's document, in order, waiting for each
// to be rendered and reported read, and fills the given fields (by field id) on the way.
func (b *Browser) ReadDocument(values map[string]string) {
	b.T.Helper()
	b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
	total := Eval[int](b, `document.querySelectorAll("#pages .page").length`)
	for p := 1; p <= total; p++ {
		b.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById("page-%d").scrollIntoView({block: "start"})`, p)))
		b.Wait(fmt.Sprintf("page %d rendered", p), fmt.Sprintf(`document.querySelector("#page-%d canvas") && document.getElementById("page-%d").classList.contains("is-rendered")`, p, p))
		for id, v := range values {
			if Eval[bool](b, fmt.Sprintf(`!!document.querySelector("#page-%d #field-%s")`, p, id)) {
				b.Fill(id, v)
			}
		}
		b.Wait(fmt.Sprintf("page %d read", p), fmt.Sprintf(`document.getElementById("page-%d").classList.contains("is-read")`, p))
		if p == 1 {
			b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("page-1").scrollIntoView({block: "end"})`))
			b.Shot("reader")
		}
	}
}

// Fill types a value into a field with the keyboard and leaves it, then waits for the server
// to accept it. On a narrow screen it types into the field's full-size input listed below its
// page (field-<id>-list), the one the signer taps, rather than into the overlay on the page.
func (b *Browser) Fill(id, v string) {
	b.T.Helper()
	sel := chromedp.ID(FieldInput(b, id))
	b.Do(chromedp.Focus(sel), chromedp.SendKeys(sel, v), chromedp.SendKeys(sel, "\t"))
	b.Wait("field "+id+" saved", fmt.Sprintf(`document.getElementById("field-%s").closest(".field").classList.contains("is-valid")`, id))
}

// SignThroughPages takes a signer from their personal link to the end page: « Accéder aux
// documents », every page of every document read (the given fields filled on the way), « Signer »,
// the code (asked of code once the page asks for it) typed and sent with Enter.
func (b *Browser) SignThroughPages(link string, values map[string]string, code func() string) {
	b.T.Helper()
	b.Open(link)
	b.Wait("landing page", `document.getElementById("access") !== null`)
	b.Do(chromedp.Click(chromedp.ID("access"), chromedp.NodeVisible))
	b.Wait("reader", `location.search === "?v=read"`)
	for n := 2; ; n++ {
		b.ReadDocument(values)
		b.Wait("next open", `!document.getElementById("next").disabled`)
		b.Do(chromedp.Click(chromedp.ID("next"), chromedp.NodeVisible))
		b.Wait("next document or decision", fmt.Sprintf(`location.search === "?v=read&doc=%d" || location.search === "?v=decide"`, n))
		if Eval[string](b, `location.search`) == "?v=decide" {
			break
		}
	}
	b.Wait("sign enabled", `!document.getElementById("sign").disabled`)
	b.Do(chromedp.Click(chromedp.ID("sign"), chromedp.NodeVisible))
	b.Wait("code page", `document.getElementById("code") !== null`)
	c := code()
	if c == "" {
		b.T.Fatalf("%s: no code", b.Name)
	}
	b.Do(chromedp.SendKeys(chromedp.ID("code"), c), chromedp.SendKeys(chromedp.ID("code"), kb.Enter))
	b.Wait("end page", `document.getElementById("done-title") !== null`)
	b.Clean(b.Name + " end page")
}

// FieldInput is the id of the input a signer types a field's value into: the full-size one
// listed below the page when it is shown (a narrow screen), otherwise the overlay's.
func FieldInput(b *Browser, id string) string {
	b.T.Helper()
	return Eval[string](b, fmt.Sprintf(`(() => { const l = document.getElementById("field-%s-list");
	  return l && l.getClientRects().length > 0 ? l.id : "field-%s"; })()`, id, id))
}
