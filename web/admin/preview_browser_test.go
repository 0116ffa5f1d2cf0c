package admin

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/browsertest"
)

// previewShown is what the open preview dialog shows: its heading, the ids of the fields
// overlaid on the rendered pages with their labels, maximum lengths and required marks, the
// signature boxes, the documents' states on the landing page, the banner and the decision
// buttons.
type previewShown struct {
	Heading    string   `json:"heading"`
	Fields     []string `json:"fields"`
	Labels     []string `json:"labels"`
	MaxLengths []int    `json:"maxLengths"`
	Required   []bool   `json:"required"`
	Patterns   []string `json:"patterns"`
	Boxes      int      `json:"boxes"`
	DocStates  []string `json:"docStates"`
	Banner     string   `json:"banner"`
	BannerSeen bool     `json:"bannerSeen"`
	Disabled   []bool   `json:"disabled"`
	Canvases   int      `json:"canvases"`
	Progress   []string `json:"progress"`
	Hints      []string `json:"hints"`
}

const previewState = `(() => {
  const d = document.querySelector("#preview");
  const inputs = Array.from(d.querySelectorAll(".pv-field input"));
  const banner = d.querySelector("#preview-banner");
  const br = banner.getBoundingClientRect(), dr = d.getBoundingClientRect();
  return {
    heading: d.querySelector("#pv-heading").textContent,
    fields: inputs.map((i) => i.closest(".pv-field").dataset.field),
    labels: inputs.map((i) => i.labels[0].textContent),
    maxLengths: inputs.map((i) => i.maxLength),
    required: inputs.map((i) => i.getAttribute("aria-required") === "true"),
    patterns: inputs.map((i) => i.pattern),
    boxes: d.querySelectorAll(".pv-sig").length,
    docStates: Array.from(d.querySelectorAll("#pv-doclist .badge")).map((b) => b.dataset.state),
    banner: banner.textContent,
    bannerSeen: br.height > 0 && br.top >= dr.top - 1 && br.bottom <= dr.bottom + 1 && getComputedStyle(banner).visibility === "visible",
    disabled: ["#pv-sign", "#pv-refuse"].map((s) => d.querySelector(s).disabled),
    canvases: d.querySelectorAll(".pv-page canvas").length,
    progress: Array.from(d.querySelectorAll(".pv-progress-page")).map((p) => p.textContent),
    hints: Array.from(d.querySelectorAll(".pv-fielditem")).map((li) => li.textContent),
  };
})()`

// openPreviewFor opens the preview as signer id from a draft's page, with the keyboard, and
// waits for its documents to be rendered.
func (b *browser) openPreviewFor(signer string) previewShown {
	b.T.Helper()
	b.setValue("#preview-signer", signer)
	b.Do(chromedp.Focus(chromedp.CSS("#preview-open")), chromedp.KeyEvent(kb.Enter))
	return b.previewRendered(2)
}

func (b *browser) previewRendered(docs int) previewShown {
	b.T.Helper()
	b.Wait("preview open", `document.querySelector("#preview").open && document.activeElement?.id === "pv-heading"`)
	b.Wait("preview documents rendered", `document.querySelectorAll("#pv-docs .pv-pages[data-ready]").length === `+strconv.Itoa(docs)+
		` && document.querySelector("#pv-docs .pv-page.is-rendered")`)
	return browsertest.Eval[previewShown](b.Browser, previewState)
}

// closePreview closes the dialog with Escape; the focus returns to « Preview as … ».
func (b *browser) closePreview() {
	b.T.Helper()
	b.Do(chromedp.KeyEvent(kb.Escape))
	b.Wait("preview closed", `!document.querySelector("#preview").open && document.activeElement?.id === "preview-open" && !document.querySelector("#pv-docs").children.length`)
}

// TestPreviewInBrowser: on a draft's page, « Aperçu en tant que … » opened with the keyboard for
// each of its two signers shows, in Chromium, that signer's landing page (documents in order,
// the first to read, the second locked), the documents' pages rendered by pdf.js with only that
// signer's fields (labels, required marks, maximum length, pattern) and signature boxes, the
// page indicator, the banner « Aperçu — rien n’est envoyé ni enregistré » and « Signer » and
// « Refuser » disabled; Escape closes it. Nothing is recorded: the envelope, its ledger events
// and the outbox are unchanged, with no policy violation or script error on the page.
func TestPreviewInBrowser(t *testing.T) {
	w := newWorld(t)
	requirePDFJS(t, w)
	c := w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	id := c.mustCreateTwo("Vente Martin – Dupont")
	before := w.snapshot(id)
	b := newBrowser(t, "preview")
	base := w.srv.URL
	b.login(base, "clerc@notaires.test", "password of clerc@notaires.test")
	b.Open(base + "/admin/envelopes/" + id + "?lang=fr")
	b.Wait("draft page", `!!document.querySelector("#preview-open")`)

	want := map[string]struct {
		fields, labels []string
		max            []int
		required       []bool
		patterns       []string
		boxes          int
	}{
		"alice": {[]string{"ville"}, []string{"Ville d'Alice * (obligatoire)"}, []int{500}, []bool{true}, []string{""}, 2},
		"bob": {[]string{"cp", "note"}, []string{"Code postal de Bob * (obligatoire)", "Note de Bob"}, []int{5, 500}, []bool{true, false},
			[]string{"[0-9]{5}", ""}, 1},
	}
	for _, signer := range []string{"alice", "bob"} {
		got := b.openPreviewFor(signer)
		x := want[signer]
		name := map[string]string{"alice": "Alice Martin", "bob": "Bob Dupont"}[signer]
		if got.Heading != "Aperçu en tant que "+name {
			t.Errorf("%s: heading %q", signer, got.Heading)
		}
		if !slices.Equal(got.Fields, x.fields) || !slices.Equal(got.Labels, x.labels) || !slices.Equal(got.MaxLengths, x.max) ||
			!slices.Equal(got.Required, x.required) || !slices.Equal(got.Patterns, x.patterns) || got.Boxes != x.boxes {
			t.Errorf("%s: fields %q labels %q max %v required %v patterns %q, %d signature boxes; want %q %q %v %v %q %d",
				signer, got.Fields, got.Labels, got.MaxLengths, got.Required, got.Patterns, got.Boxes, x.fields, x.labels, x.max, x.required, x.patterns, x.boxes)
		}
		if !slices.Equal(got.DocStates, []string{"toread", "locked"}) {
			t.Errorf("%s: documents' states %q, want the first to read and the second locked", signer, got.DocStates)
		}
		if !strings.Contains(got.Banner, "Aperçu — rien n’est envoyé ni enregistré") || !got.BannerSeen {
			t.Errorf("%s: banner %q shown %v", signer, got.Banner, got.BannerSeen)
		}
		if !slices.Equal(got.Disabled, []bool{true, true}) {
			t.Errorf("%s: « Signer » and « Refuser » disabled: %v", signer, got.Disabled)
		}
		if got.Canvases == 0 || !slices.Equal(got.Progress, []string{"Page 1 / 2", "Page 1 / 1"}) {
			t.Errorf("%s: %d pages rendered, page indicators %q", signer, got.Canvases, got.Progress)
		}
		hints := strings.Join(got.Hints, "\n")
		if signer == "bob" && (!strings.Contains(hints, "5 caractères au maximum") || !strings.Contains(hints, "format imposé : [0-9]{5}")) {
			t.Errorf("bob: the field hints lack the maximum length or the pattern: %q", got.Hints)
		}
		if signer == "alice" && (strings.Contains(hints, "Bob") || !strings.Contains(hints, "Ville d'Alice")) {
			t.Errorf("alice: field hints %q", got.Hints)
		}
		b.Shot("preview-" + signer)
		b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#preview .pv-field").scrollIntoView({block: "center"})`))
		b.Wait("the page under the first field rendered", `document.querySelector("#preview .pv-field").closest(".pv-page").classList.contains("is-rendered")`)
		b.Shot("preview-" + signer + "-fields")
		// The decision area, scrolled into view, is what the signer will meet last.
		b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#pv-decide").scrollIntoView({block: "end"})`))
		b.Shot("preview-" + signer + "-decision")
		if signer == "alice" {
			b.audit("preview dialog")
		}
		b.closePreview()
	}
	b.Clean("preview")
	if after := w.snapshot(id); after != before {
		t.Fatalf("previewing changed the envelope or the ledger:\nbefore %s\nafter  %s", before, after)
	}
}

// TestPreviewFromPreparationPage: on the preparation page, before anything is saved, « Preview
// as … » shows the signer chosen in « Preview as » only their own field, from the PDF just
// uploaded, with the banner and the decision disabled; no envelope is created.
func TestPreviewFromPreparationPage(t *testing.T) {
	w := newWorld(t)
	requirePDFJS(t, w)
	c := w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	b := newBrowser(t, "preview-prepare")
	base := w.srv.URL
	b.login(base, "clerc@notaires.test", "password of clerc@notaires.test")
	b.Open(base + "/admin/envelopes/new?lang=en")
	b.Wait("preparation page", `document.querySelectorAll("#signers fieldset").length === 1`)
	b.typeIn("#title", "Lease")
	b.fillSigner(1, "Alice Martin", "alice@example.org", "+33612345678")
	b.click("#add-signer")
	b.Wait("second signer", `document.querySelectorAll("#signers fieldset").length === 2`)
	b.fillSigner(2, "Bob Dupont", "bob@example.org", "+33698765432")
	file := filepath.Join(t.TempDir(), "lease.pdf")
	os.WriteFile(file, ceremonytest.MinimalPDF(2, "Lease"), 0o600)
	b.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{file}))
	b.Wait("pages", `document.querySelectorAll("#docs .page").length === 2`)
	ids := browsertest.Eval[[]string](b.Browser, `Array.from(document.querySelectorAll("#field-owner option")).map((o) => o.value)`)
	for i, label := range []string{"Alice's city", "Bob's initials"} {
		b.setValue("#field-owner", ids[i])
		b.typeIn("#field-label", label)
		b.clickPage(0, i+1, .4, .3)
	}

	// No signer chosen: the button says so instead of previewing.
	b.setValue("#preview-as", "")
	b.click("#preview-open")
	b.Wait("hint", `document.querySelector("#toast").textContent.includes("Preview as")`)
	if browsertest.Eval[bool](b.Browser, `document.querySelector("#preview").open`) {
		t.Fatal("the preview opened without a signer chosen")
	}
	for i, label := range []string{"Alice's city", "Bob's initials"} {
		b.setValue("#preview-as", ids[i])
		name := []string{"Alice Martin", "Bob Dupont"}[i]
		if l := browsertest.Eval[string](b.Browser, `document.querySelector("#preview-open").textContent`); l != "Preview as "+name {
			t.Errorf("the button reads %q", l)
		}
		b.Do(chromedp.Focus(chromedp.CSS("#preview-open")), chromedp.KeyEvent(kb.Enter))
		got := b.previewRendered(1)
		if len(got.Labels) != 1 || !strings.HasPrefix(got.Labels[0], label+" *") || got.Heading != "Preview as "+name {
			t.Errorf("preview as %s: heading %q, fields %q", name, got.Heading, got.Labels)
		}
		if !strings.Contains(got.Banner, "Preview — nothing is sent or recorded") || !got.BannerSeen || !slices.Equal(got.Disabled, []bool{true, true}) {
			t.Errorf("preview as %s: banner %q (shown %v), buttons disabled %v", name, got.Banner, got.BannerSeen, got.Disabled)
		}
		b.Shot("prepare-preview-" + ids[i])
		b.closePreview()
	}
	b.Clean("preparation page")
	if list := c.search("", ""); len(list) != 0 {
		t.Fatalf("the preview created envelopes: %q", list)
	}
}
