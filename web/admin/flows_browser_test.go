package admin

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/browsertest"
)

// requirePDFJS skips (fails in CI) a browser test when pdf.js is not embedded.
func requirePDFJS(t *testing.T, w *world) {
	t.Helper()
	if w.app.opt.PDFJS == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdf.js is not embedded (run scripts/assets before the tests)")
		}
		t.Skip("pdf.js is not embedded (run scripts/assets); skipping the browser test")
	}
}

// fillSigner fills the n-th signer (1-based) of the preparation page.
func (b *browser) fillSigner(n int, name, email, phone string) {
	b.T.Helper()
	p := fmt.Sprintf("#signers fieldset:nth-of-type(%d) ", n)
	b.typeIn(p+"[data-k=name]", name)
	b.typeIn(p+"[data-k=email]", email)
	b.typeIn(p+"[data-k=phone]", phone)
}

// saveDraft clicks « Save draft » on the preparation page and returns the new envelope's id.
func (b *browser) saveDraft() string {
	b.T.Helper()
	b.click("#save-draft")
	b.Wait("envelope page", `/^\/admin\/envelopes\/[0-9a-f]{32}$/.test(location.pathname)`)
	return strings.TrimPrefix(browsertest.Eval[string](b.Browser, `location.pathname`), "/admin/envelopes/")
}

// layoutItem is a field or signature box of an envelope, its signer by position.
type layoutItem struct {
	Doc      int
	Kind     string
	Label    string
	Signer   int
	Page     int
	Required bool
	Rect     ceremony.Rect
}

// layout lists an envelope's fields and signature boxes independently of the ids the
// preparation page chose.
func layout(e *ceremony.Envelope) []layoutItem {
	idx := func(id string) int {
		return slices.IndexFunc(e.Signers, func(s ceremony.Signer) bool { return s.ID == id })
	}
	var out []layoutItem
	for d, doc := range e.Documents {
		for _, f := range doc.Fields {
			out = append(out, layoutItem{d, "text", f.Label, idx(f.Signer), f.Page, f.Required, f.Rect})
		}
		for _, sb := range doc.Signatures {
			out = append(out, layoutItem{d, "signature", "", idx(sb.Signer), sb.Page, true, sb.Rect})
		}
	}
	slices.SortFunc(out, func(a, b layoutItem) int {
		return strings.Compare(fmt.Sprintf("%d/%s/%s/%d", a.Doc, a.Kind, a.Label, a.Signer), fmt.Sprintf("%d/%s/%s/%d", b.Doc, b.Kind, b.Label, b.Signer))
	})
	return out
}

func sameRect(a, b ceremony.Rect) bool {
	return math.Abs(a.X-b.X) <= .02 && math.Abs(a.Y-b.Y) <= .02 && math.Abs(a.W-b.W) <= .02 && math.Abs(a.H-b.H) <= .02
}

// TestTemplateSaveAndUse: on the preparation page a sender places fields and signature boxes for
// two signers on two PDFs, saves that as a template (« Save as template ») and as a draft; the
// template holds the same layout; « Use » on the templates page rebuilds the preparation page
// (title, message, order, roles, documents, fields, boxes) and, once the new signers are named,
// makes an envelope with the same documents, fields and boxes as the first.
func TestTemplateSaveAndUse(t *testing.T) {
	w := newWorld(t)
	requirePDFJS(t, w)
	ctx := context.Background()
	c := w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	b := newBrowser(t, "templates")
	base := w.srv.URL
	b.login(base, "clerc@notaires.test", "password of clerc@notaires.test")

	b.Open(base + "/admin/envelopes/new")
	b.Wait("preparation page", `document.querySelectorAll("#signers fieldset").length === 1`)
	b.typeIn("#title", "Bail commercial")
	b.typeIn("#message", "Merci de signer le bail et son état des lieux.")
	b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector("input[name=order][value=parallel]").click()`))
	b.fillSigner(1, "Alice Martin", "alice@example.org", "+33612345678")
	b.click("#add-signer")
	b.Wait("second signer", `document.querySelectorAll("#signers fieldset").length === 2`)
	b.fillSigner(2, "Bob Dupont", "bob@example.org", "+33698765432")
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "bail.pdf"), filepath.Join(dir, "etat-des-lieux.pdf")}
	os.WriteFile(files[0], ceremonytest.MinimalPDF(2, "Bail"), 0o600)
	os.WriteFile(files[1], ceremonytest.MinimalPDF(1, "État des lieux"), 0o600)
	b.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), files))
	b.Wait("pages of both documents", `document.querySelectorAll("#docs .doc").length === 2 && document.querySelectorAll("#docs .page").length === 3`)
	ids := browsertest.Eval[[]string](b.Browser, `Array.from(document.querySelectorAll("#field-owner option")).map((o) => o.value)`)
	if len(ids) != 2 {
		t.Fatalf("field owners: %v", ids)
	}
	text := func(owner, label string, required bool, doc, pg int, fx, fy float64) {
		b.setValue("#field-kind", "text")
		b.setValue("#field-owner", owner)
		b.typeIn("#field-label", label)
		if browsertest.Eval[bool](b.Browser, `document.querySelector("#field-required").checked`) != required {
			b.click("#field-required")
		}
		b.clickPage(doc, pg, fx, fy)
	}
	sig := func(owner string, doc, pg int, fx, fy float64) {
		b.setValue("#field-kind", "signature")
		b.setValue("#field-owner", owner)
		b.clickPage(doc, pg, fx, fy)
	}
	text(ids[0], "Ville", true, 0, 1, .3, .3)
	text(ids[1], "Initiales", false, 0, 2, .6, .5)
	text(ids[1], "Date d'entrée", true, 1, 1, .5, .2)
	sig(ids[0], 0, 2, .3, .85)
	sig(ids[1], 0, 2, .7, .85)
	// The focused box grows with Shift+arrows: the template keeps sizes other than the default.
	for range 5 {
		b.Do(chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)))
		b.Do(chromedp.KeyEvent(kb.ArrowDown, chromedp.KeyModifiers(chromedp.ModifierShift)))
	}
	sig(ids[0], 1, 1, .4, .7)
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll("#field-list li").length`); n != 6 {
		t.Fatalf("%d fields and boxes listed, want 6", n)
	}

	// « Save as template », then the same preparation as a draft.
	b.typeIn("#template-name", "Bail type")
	b.click("#save-template")
	var list struct{ Templates []TemplateSummary }
	for deadline := time.Now().Add(30 * time.Second); len(list.Templates) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no template saved (page errors: %v)", b.Problems())
		}
		c.get("/admin/api/templates").json(t, &list)
	}
	if ts := list.Templates[0]; ts.Name != "Bail type" || ts.Documents != 2 || ts.Roles != 2 {
		t.Fatalf("template saved: %+v", ts)
	}
	b.Clean("preparation page")
	first := b.saveDraft()
	e1, err := w.svc.Envelope(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	want := layout(e1)
	if len(want) != 6 || e1.Order != ceremony.Parallel {
		t.Fatalf("the prepared envelope: order %s, layout %+v", e1.Order, want)
	}

	// The template holds the prepared envelope's layout, its roles being the signers.
	var tpl Template
	c.get("/admin/api/templates/"+list.Templates[0].ID).json(t, &tpl)
	if tpl.Title != e1.Title || tpl.Message != e1.Message || tpl.Order != e1.Order || len(tpl.Roles) != 2 || len(tpl.Documents) != 2 {
		t.Fatalf("template: %+v", tpl)
	}
	for i, r := range tpl.Roles {
		if r.ID != e1.Signers[i].ID || r.Label != e1.Signers[i].Name || r.Order != e1.Signers[i].Order {
			t.Errorf("role %d: %+v, want signer %+v", i, r, e1.Signers[i])
		}
	}
	for i, td := range tpl.Documents {
		d := e1.Documents[i]
		if td.Name != d.Name || td.Digest != d.Original || !slices.Equal(td.Fields, d.Fields) || !slices.Equal(td.Signatures, d.Signatures) {
			t.Errorf("template document %d: %+v, want %+v", i, td, d)
		}
	}

	// « Use » on the templates page rebuilds the preparation page.
	b.Open(base + "/admin/templates")
	b.click(`#template-list a[href^="/admin/envelopes/new?template="]`)
	b.Wait("preparation page from the template", `document.querySelectorAll("#signers fieldset").length === 2 && document.querySelectorAll("#docs .page").length === 3 && document.querySelectorAll("#field-list li").length === 6`)
	got := browsertest.Eval[[]string](b.Browser, `[document.querySelector("#title").value, document.querySelector("#message").value, document.querySelector("input[name=order]:checked").value,
		...Array.from(document.querySelectorAll("#signers legend")).map((l) => l.textContent)]`)
	if len(got) != 5 || got[0] != e1.Title || got[1] != e1.Message || got[2] != "parallel" || !strings.Contains(got[3], "Alice Martin") || !strings.Contains(got[4], "Bob Dupont") {
		t.Fatalf("the preparation page from the template: %q", got)
	}
	b.Shot("from-template")
	b.fillSigner(1, "Camille Roux", "camille@example.org", "+33611111111")
	b.fillSigner(2, "David Leroy", "david@example.org", "+33622222222")
	b.Clean("preparation page from the template")
	second := b.saveDraft()
	if second == first {
		t.Fatal("« Use » then « Save draft » did not make a new envelope")
	}
	e2, err := w.svc.Envelope(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if e2.Title != e1.Title || e2.Message != e1.Message || e2.Order != e1.Order || len(e2.Signers) != 2 || e2.Signers[0].Name != "Camille Roux" ||
		e2.Signers[1].Email != "david@example.org" || e2.Signers[0].Order != e1.Signers[0].Order || e2.Signers[1].Order != e1.Signers[1].Order {
		t.Fatalf("the envelope from the template: %q %q %s %+v", e2.Title, e2.Message, e2.Order, e2.Signers)
	}
	if len(e2.Documents) != len(e1.Documents) {
		t.Fatalf("%d documents from the template, want %d", len(e2.Documents), len(e1.Documents))
	}
	for i := range e1.Documents {
		if e2.Documents[i].Name != e1.Documents[i].Name || e2.Documents[i].Original != e1.Documents[i].Original {
			t.Errorf("document %d: %q %s, want %q %s", i, e2.Documents[i].Name, e2.Documents[i].Original, e1.Documents[i].Name, e1.Documents[i].Original)
		}
	}
	have := layout(e2)
	if len(have) != len(want) {
		t.Fatalf("layout from the template: %+v, want %+v", have, want)
	}
	for i := range want {
		g, x := have[i], want[i]
		if g.Doc != x.Doc || g.Kind != x.Kind || g.Label != x.Label || g.Signer != x.Signer || g.Page != x.Page || g.Required != x.Required || !sameRect(g.Rect, x.Rect) {
			t.Errorf("item %d from the template: %+v, want %+v", i, g, x)
		}
	}
}

// TestRemindAndVoidInBrowser: on the envelope's page its sender clicks « Remind » (the signer
// gets a reminder, recorded on the timeline) and voids it with a reason in the dialog; the page
// shows it voided without the buttons, and the signer's link is refused.
func TestRemindAndVoidInBrowser(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	id := c.mustCreate("Vente Martin")
	if r := c.post("/admin/api/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	b := newBrowser(t, "remind-void")
	base := w.srv.URL
	b.login(base, "clerc@notaires.test", "password of clerc@notaires.test")
	b.Open(base + "/admin/envelopes/" + id)
	b.Wait("envelope page", `document.querySelector("#envelope-status")?.classList.contains("badge-sent")`)

	b.click("#remind")
	b.Wait("reminded", `document.querySelector("#toast").textContent !== ""`)
	if n := len(w.outboxFor("alice@example.org")); n != 2 {
		t.Fatalf("%d emails to alice after « Remind », want 2 (invitation and reminder)", n)
	}
	b.Open(base + "/admin/envelopes/" + id)
	b.Wait("reminder on the timeline", `document.querySelectorAll("#timeline li[data-type='reminder.sent']").length === 1`)
	b.Clean("envelope page")

	b.click("#void-open")
	b.Wait("void dialog", `document.querySelector("#void-dialog").open`)
	b.typeIn("#void-reason", "Erreur dans le prix")
	b.click("#void-confirm")
	b.Wait("voided", `document.querySelector("#envelope-status")?.classList.contains("badge-voided")`)
	b.Shot("voided")
	if browsertest.Eval[bool](b.Browser, `!!document.querySelector("#remind") || !!document.querySelector("#void-open")`) {
		t.Fatal("a voided envelope's page still offers « Remind » or « Void »")
	}
	e, err := w.svc.Envelope(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != ceremony.StatusVoided || e.Reason != "Erreur dans le prix" {
		t.Fatalf("after « Void »: %s %q", e.Status, e.Reason)
	}
	open := w.client().do(http.MethodGet, strings.TrimPrefix(w.invitation(t, "alice@example.org"), base), nil, map[string]string{"Accept": "application/json"})
	if open.status == http.StatusOK {
		t.Fatalf("the signer's link after the void: %d %s", open.status, open.body)
	}
	b.Clean("voided envelope page")
}
