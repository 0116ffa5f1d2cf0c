package browsertest

import (
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focusSeen describes the focused element (its id, or its start tag) and what is wrong with how
// it shows: no focus indicator, not in the window, covered by another element (a sticky or
// fixed bar) at its middle, or its indicator cut by an ancestor that clips its overflow.
const focusSeen = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return ["", ""];
  const name = el.id || el.outerHTML.slice(0, el.outerHTML.indexOf(">") + 1);
  const cs = getComputedStyle(el);
  if (!((cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0) || (cs.boxShadow && cs.boxShadow !== "none"))) return [name, "no visible focus"];
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return [name, "out of the window"];
  const top = document.elementFromPoint(x, y);
  const tag = (e) => e.outerHTML.slice(0, e.outerHTML.indexOf(">") + 1);
  if (top && top !== el && !el.contains(top) && !top.contains(el)) return [name, "covered by " + tag(top)];
  // The indicator drawn whole: not cut by an ancestor that clips its overflow.
  const w = Math.max(0, (parseFloat(cs.outlineWidth) || 0) + (parseFloat(cs.outlineOffset) || 0));
  for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.overflowX === "visible" && s.overflowY === "visible") continue;
    const c = a.getBoundingClientRect();
    const cl = c.left + parseFloat(s.borderLeftWidth), ct = c.top + parseFloat(s.borderTopWidth);
    const cr = c.right - parseFloat(s.borderRightWidth), cb = c.bottom - parseFloat(s.borderBottomWidth);
    if (r.left - w < cl - 0.5 || r.top - w < ct - 0.5 || r.right + w > cr + 0.5 || r.bottom + w > cb + 0.5) return [name, "focus indicator cut by " + tag(a)];
  }
  return [name, ""];
})()`

// TabTo presses Tab until the element with the given id has the focus, and fails the test if it
// is not reached within limit presses or if an element on the way shows no focus indicator or
// is hidden under another element.
func (b *Browser) TabTo(id string, limit int) {
	b.T.Helper()
	for range limit {
		b.Do(chromedp.KeyEvent(kb.Tab))
		r := Eval[[]string](b, focusSeen)
		if r[1] != "" {
			b.T.Fatalf("%s: Tab to %s: focus on %s: %s", b.Name, id, r[0], r[1])
		}
		if r[0] == id {
			return
		}
	}
	b.T.Fatalf("%s: %d presses of Tab do not reach #%s (focus on %q)", b.Name, limit, id, Eval[string](b, `document.activeElement?.id ?? ""`))
}

// Press presses keys (kb constants or text) on the focused element.
func (b *Browser) Press(keys ...string) {
	b.T.Helper()
	for _, k := range keys {
		b.Do(chromedp.KeyEvent(k))
	}
}

// Focused is the id of the focused element ("" for none or an element without an id).
func (b *Browser) Focused() string {
	b.T.Helper()
	return Eval[string](b, `document.activeElement?.id ?? ""`)
}

// TabWalk presses Tab from the top of the page through every element it reaches (until the
// focus comes back to one already seen or leaves the page) and reports, naming where, each one
// whose focus does not show whole (see TabTo). It returns the number of elements reached.
func (b *Browser) TabWalk(where string) int {
	b.T.Helper()
	b.Do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.createElement("span"); s.tabIndex = -1;
	document.body.prepend(s); s.focus(); s.remove(); window.scrollTo(0, 0); })()`))
	seen := map[string]bool{}
	for range 300 {
		b.Do(chromedp.KeyEvent(kb.Tab))
		r := Eval[[]string](b, focusSeen)
		key := r[0] + "#" + Eval[string](b, `String(Array.from(document.querySelectorAll("*")).indexOf(document.activeElement))`)
		if r[0] == "" || seen[key] {
			break
		}
		seen[key] = true
		if r[1] != "" {
			b.T.Errorf("%s: focus on %s: %s", where, r[0], r[1])
		}
	}
	return len(seen)
}
