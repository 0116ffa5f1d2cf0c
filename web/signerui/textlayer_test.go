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

// textAlignment compares, on a rendered page, where the canvas drew the page's line of text (its
// dark pixels) with where the text layer put the span holding that text, in CSS pixels relative
// to the page: [inkLeft, inkRight, inkMiddle, spanLeft, spanRight, spanTop, spanBottom].
const textAlignment = `((num, want) => {
  const page = document.getElementById("page-" + num);
  const c = page.querySelector("canvas");
  const span = Array.from(page.querySelectorAll(".textLayer span")).find((s) => s.textContent.includes(want));
  if (!c || !span) return [];
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let x1 = c.width, x2 = -1, y1 = c.height, y2 = -1;
  for (let y = 0; y < c.height; y++) for (let x = 0; x < c.width; x++) {
    const i = (y * c.width + x) * 4;
    if (data[i] < 128 && data[i + 1] < 128 && data[i + 2] < 128) { x1 = Math.min(x1, x); x2 = Math.max(x2, x); y1 = Math.min(y1, y); y2 = Math.max(y2, y); }
  }
  if (x2 < 0) return [];
  const pr = page.getBoundingClientRect(), cr = c.getBoundingClientRect(), sr = span.getBoundingClientRect();
  const k = cr.width / c.width;
  return [cr.left - pr.left + x1 * k, cr.left - pr.left + (x2 + 1) * k, cr.top - pr.top + (y1 + y2 + 1) / 2 * k,
    sr.left - pr.left, sr.right - pr.left, sr.top - pr.top, sr.bottom - pr.top];
})`

// TestTextLayerInBrowser: each rendered page carries pdf.js's text layer (issue 7): the page's
// text (ceremonytest.MinimalPDF writes « Compromis de vente - page N ») is in the DOM within the
// page's region, named « Page 1 sur 3 » / "Page 1 of 3", exposed in the accessibility tree,
// selectable, and laid over the words the canvas drew, also after the window is resized. The
// field on the page stays above the text: a mouse click at its centre reaches it and the signer
// types into it. No policy violation (pdf.js styles through the CSSOM only), no script error.
func TestTextLayerInBrowser(t *testing.T) {
	requireViewer(t)
	w := newWorld(t, worldOptions{dwell: 300 * time.Millisecond})
	w.send(seedManifest(), seedFiles())
	b := newBrowser(t, "textlayer", 1100, 860)
	b.Open(w.link("alice@example.org"))
	for _, tc := range []struct{ lang, label string }{{"fr", "Page 1 sur 3"}, {"en", "Page 1 of 3"}} {
		b.Open(w.srv.URL + "/s/?v=read&lang=" + tc.lang)
		b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
		b.Wait("page 1 rendered", `document.getElementById("page-1").classList.contains("is-rendered")`)
		const want = "Compromis de vente - page 1"
		if got := b.text("#page-1 .textLayer"); got != want {
			t.Fatalf("%s: the text layer of page 1 holds %q, want %q", tc.lang, got, want)
		}

		// The accessibility tree: the page is a region named after its number, and its text is
		// exposed inside it.
		nodes := b.AXTree("#page-1")
		if len(nodes) == 0 || nodes[0].Role != "region" || nodes[0].Name != tc.label || nodes[0].Ignored {
			t.Fatalf("%s: page 1 in the accessibility tree: %+v, want a region named %q", tc.lang, nodes[:min(1, len(nodes))], tc.label)
		}
		var text []string
		for _, n := range nodes {
			if n.Role == "StaticText" && !n.Ignored {
				text = append(text, n.Name)
			}
		}
		if !strings.Contains(strings.Join(text, " "), want) {
			t.Fatalf("%s: the text that page 1 exposes to assistive technologies: %q, want %q in it", tc.lang, text, want)
		}
	}

	// Selectable.
	if got := browsertest.Eval[string](b.Browser, `(() => { const s = getSelection();
	  s.selectAllChildren(document.querySelector("#page-1 .textLayer")); const v = s.toString(); s.removeAllRanges(); return v; })()`); !strings.Contains(got, "Compromis de vente - page 1") {
		t.Fatalf("selecting page 1's text gives %q", got)
	}

	// Aligned over the canvas, at the window's size and after a resize (the page narrows).
	aligned := func(when string) {
		t.Helper()
		b.Wait("page 1 rendered", `document.getElementById("page-1").classList.contains("is-rendered")`)
		b.Do(chromedp.Evaluate[chromedp.Void](`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise))
		r := browsertest.Eval[[]float64](b.Browser, textAlignment+`(1, "Compromis de vente")`)
		if len(r) != 7 {
			t.Fatalf("%s: no text drawn or laid out on page 1 (%v)", when, r)
		}
		inkL, inkR, inkMid, spL, spR, spT, spB := r[0], r[1], r[2], r[3], r[4], r[5], r[6]
		inkW := inkR - inkL
		if d := spL - inkL; d < -4 || d > 4 || (spR-spL) < inkW*0.95 || (spR-spL) > inkW*1.08 || inkMid < spT || inkMid > spB {
			t.Fatalf("%s: the text layer is not over the drawn text: ink x %.1f–%.1f (middle y %.1f), span x %.1f–%.1f y %.1f–%.1f",
				when, inkL, inkR, inkMid, spL, spR, spT, spB)
		}
		t.Logf("%s: ink x %.1f–%.1f y≈%.1f, text layer x %.1f–%.1f y %.1f–%.1f", when, inkL, inkR, inkMid, spL, spR, spT, spB)
	}
	aligned("1100 px window")
	b.Do(chromedp.Evaluate[chromedp.Void](`getSelection().selectAllChildren(document.querySelector("#page-1 .textLayer"))`))
	b.Shot("text-selected")
	b.Do(chromedp.Evaluate[chromedp.Void](`getSelection().removeAllRanges()`))
	b.Do(chromedp.EmulateViewport(700, 860))
	b.Wait("page 1 narrowed", `document.getElementById("page-1").clientWidth < 700`)
	aligned("700 px window")

	// The field on page 1 is above the text layer: clicked at its centre, it gets the focus.
	b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("field-alice_city").scrollIntoView({block: "center"})`))
	xy := browsertest.Eval[[]float64](b.Browser, `(() => { const r = document.getElementById("field-alice_city").getBoundingClientRect();
	  return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	if hit := browsertest.Eval[string](b.Browser, fmt.Sprintf(`(() => { const e = document.elementFromPoint(%f, %f); return e ? e.id || e.className || e.tagName : ""; })()`, xy[0], xy[1])); hit != "field-alice_city" {
		t.Fatalf("at the centre of the field « Fait à » the page has %q on top", hit)
	}
	if !browsertest.Eval[bool](b.Browser, `!!document.querySelector("#page-1 .textLayer")`) {
		t.Fatal("page 1 lost its text layer")
	}
	b.Do(chromedp.MouseClickXY(xy[0], xy[1]))
	if got := browsertest.Eval[string](b.Browser, `document.activeElement?.id ?? ""`); got != "field-alice_city" {
		t.Fatalf("a click on the field « Fait à » focused %q", got)
	}
	b.Do(chromedp.KeyEvent("Lyon"), chromedp.KeyEvent(kb.Tab))
	b.Wait("field saved", `document.getElementById("field-alice_city").closest(".field").classList.contains("is-valid")`)
	if got, _ := b.stored("alice_city"); got != "Lyon" {
		t.Fatalf("the server holds alice_city = %q, want Lyon", got)
	}
	b.Shot("text-layer")
	b.Clean(b.Name)
}
