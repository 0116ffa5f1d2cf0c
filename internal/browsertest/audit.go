package browsertest

import (
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The automated accessibility audit shared by the tests of the admin app and of the signer's
// pages.

// UnnamedControls lists (by their start tag) the form controls, buttons, links and focusable
// elements of the page that have no accessible name: no aria-label, no aria-labelledby naming
// text, no label with text, no text of their own (buttons, links), no title.
const UnnamedControls = `(() => {
  const text = (s) => (s || "").replace(/\s+/g, " ").trim();
  const name = (el) => {
    const own = text(el.getAttribute("aria-label"));
    if (own) return own;
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      const t = text(by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" "));
      if (t) return t;
    }
    if (el.labels && el.labels.length) {
      const t = text(Array.from(el.labels).map((l) => l.textContent).join(" "));
      if (t) return t;
    }
    if (el.matches("button, a, [role=button], summary")) {
      const t = text(el.textContent) || text(Array.from(el.querySelectorAll("img[alt]")).map((i) => i.alt).join(" "));
      if (t) return t;
    }
    return text(el.title);
  };
  const sel = "input:not([type=hidden]), select, textarea, button, a[href], [role=button], [tabindex]:not([tabindex='-1'])";
  return Array.from(document.querySelectorAll(sel)).filter((el) => !name(el)).map((el) => el.outerHTML.slice(0, el.outerHTML.indexOf(">") + 1));
})()`

// FocusShown describes the element that has the focus and whether it shows a focus indicator
// (an outline or a box shadow); an empty description when nothing in the page has the focus.
const FocusShown = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return ["", true];
  const cs = getComputedStyle(el);
  const outline = cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0;
  const shadow = cs.boxShadow && cs.boxShadow !== "none";
  const tag = el.outerHTML.slice(0, el.outerHTML.indexOf(">") + 1);
  return [tag + "#" + Array.from(document.querySelectorAll("*")).indexOf(el), outline || shadow];
})()`

// Audit checks the page's accessibility basics: every control has an accessible name, and every
// element reached with the Tab key shows where the focus is. Problems are reported with
// T.Errorf, naming where; it returns the number of elements the Tab key reached.
func (b *Browser) Audit(where string) int {
	b.T.Helper()
	if bad := Eval[[]string](b, UnnamedControls); len(bad) > 0 {
		b.T.Errorf("%s: controls without an accessible name: %q", where, bad)
	}
	// Tabbing starts at the top of the page: from a focused element put first, then removed.
	b.Do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.createElement("span"); s.tabIndex = -1;
	document.body.prepend(s); s.focus(); s.remove(); window.scrollTo(0, 0); })()`))
	seen := map[string]bool{}
	for range 300 {
		b.Do(chromedp.KeyEvent(kb.Tab))
		r := Eval[[]any](b, FocusShown)
		tag, _ := r[0].(string)
		if tag == "" || seen[tag] {
			break
		}
		seen[tag] = true
		if shown, _ := r[1].(bool); !shown {
			b.T.Errorf("%s: no visible focus on %s", where, tag)
		}
	}
	if len(seen) == 0 {
		b.T.Errorf("%s: the Tab key reaches nothing", where)
	}
	return len(seen)
}
