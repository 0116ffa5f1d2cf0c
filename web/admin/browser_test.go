package admin

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/browsertest"
	"github.com/paraphe/paraphe/internal/testtool"
	"github.com/paraphe/paraphe/pades"
)

// browser is a headless Chromium tab with the web app's steps.
type browser struct{ *browsertest.Browser }

func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	return &browser{browsertest.New(t, name, browsertest.Options{Width: 1280, Height: 1000, AcceptDialogs: true})}
}

// typeIn focuses a field, clears it and types.
func (b *browser) typeIn(sel, text string) {
	b.T.Helper()
	b.setValue(sel, "")
	b.Do(chromedp.Focus(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// setValue sets a form control's value as a person choosing an option would (input and
// change events).
func (b *browser) setValue(sel, v string) {
	b.T.Helper()
	b.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q;
	el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, v)))
}

func (b *browser) click(sel string) {
	b.T.Helper()
	b.Do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (b *browser) login(base, email, password string) {
	b.T.Helper()
	b.Open(base + "/admin/login")
	b.typeIn("#email", email)
	b.typeIn("#password", password)
	b.click("#login-submit")
	b.Wait("signed in", `location.pathname === "/admin/" && !!document.querySelector("#logout")`)
}

// clickPage clicks a page of the preparation view at (fx, fy), fractions of its size, once that
// point is scrolled to the middle of the window (clear of the sticky toolbar and actions).
func (b *browser) clickPage(doc, pageNum int, fx, fy float64) {
	b.T.Helper()
	sel := fmt.Sprintf(`document.querySelectorAll("#docs .doc")[%d].querySelectorAll(".page")[%d]`, doc, pageNum-1)
	b.Do(chromedp.Evaluate[chromedp.Void](sel + `.scrollIntoView({block: "center"})`))
	b.Wait("page rendered", sel+`.querySelector("canvas")`)
	b.Do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const r = %s.getBoundingClientRect();
	window.scrollBy(0, r.top + %g * r.height - innerHeight / 2); })()`, sel, fy)))
	r := browsertest.Eval[[]float64](b.Browser, `(() => { const r = `+sel+`.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	b.Do(chromedp.MouseClickXY(r[0]+fx*r[2], r[1]+fy*r[3]))
}

// audit runs the shared accessibility audit (browsertest.Audit): accessible names, visible focus.
func (b *browser) audit(where string) {
	b.T.Helper()
	b.Audit(where)
}

// TestSenderAppEndToEnd: an admin signs in and creates a sender; the sender uploads two PDFs,
// places fields and signature boxes for two signers on pages rendered by pdf.js, sets the expiry
// and reminders, and sends; both signers sign in Chromium through the signer's pages (link from
// the invitation email, every page read, fields typed, « Signer », code from the SMS); the
// sender follows the timeline to completion and downloads the signed documents, whose
// signatures sit in the boxes placed, and the evidence bundle, which `paraphe verify` accepts.
func TestSenderAppEndToEnd(t *testing.T) {
	w := newWorld(t)
	requirePDFJS(t, w)
	b := newBrowser(t, "sender")
	base := w.srv.URL
	ctx := context.Background()
	if _, _, err := w.app.Accounts().Bootstrap(ctx, "Notaires Associés", "chef@notaires.test", "the admin password"); err != nil {
		t.Fatal(err)
	}

	// The admin signs in and creates a sender.
	b.Open(base + "/admin/login")
	b.audit("sign-in page")
	b.login(base, "chef@notaires.test", "the admin password")
	b.Shot("envelopes-empty")
	b.audit("envelope list")
	b.click("#nav-users")
	b.Wait("users page", `location.pathname === "/admin/users"`)
	b.typeIn("#nu-email", "clerc@notaires.test")
	b.typeIn("#nu-name", "Claire Clerc")
	b.setValue("#nu-role", "sender")
	b.typeIn("#nu-password", "the sender password")
	b.click("#create-user")
	b.Wait("sender listed", `document.querySelector("#user-list")?.textContent.includes("clerc@notaires.test")`)
	b.Shot("users")
	b.Clean("users page")
	b.audit("users page")
	for _, p := range []string{"settings", "account", "templates"} {
		b.Open(base + "/admin/" + p)
		b.Clean(p + " page")
		b.audit(p + " page")
	}
	b.click("#logout")
	b.Wait("signed out", `location.pathname === "/admin/login"`)

	// The sender prepares the envelope.
	b.login(base, "clerc@notaires.test", "the sender password")
	if browsertest.Eval[bool](b.Browser, `!!document.querySelector("#nav-users")`) {
		t.Fatal("a sender sees the users menu")
	}
	b.click("#nav-new")
	b.Wait("preparation page", `location.pathname === "/admin/envelopes/new" && document.querySelectorAll("#signers fieldset").length === 1`)
	b.typeIn("#title", "Vente Martin – Dupont")
	b.typeIn("#message", "Merci de signer le compromis et son annexe.")
	b.typeIn("#expires", "10")
	b.typeIn("#reminders", "2, 5")
	signer := func(n int, name, email, phone, locale string) {
		p := fmt.Sprintf("#signers fieldset:nth-of-type(%d) ", n)
		b.typeIn(p+"[data-k=name]", name)
		b.typeIn(p+"[data-k=email]", email)
		b.typeIn(p+"[data-k=phone]", phone)
		b.setValue(p+"[data-k=locale]", locale)
	}
	signer(1, "Alice Martin", "alice@example.org", "+33612345678", "fr")
	b.click("#add-signer")
	b.Wait("second signer", `document.querySelectorAll("#signers fieldset").length === 2`)
	signer(2, "Bob Dupont", "bob@example.org", "+33698765432", "en")

	dir := t.TempDir()
	files := []string{filepath.Join(dir, "compromis.pdf"), filepath.Join(dir, "annexe.pdf")}
	os.WriteFile(files[0], ceremonytest.MinimalPDF(3, "Compromis de vente"), 0o600)
	os.WriteFile(files[1], ceremonytest.MinimalPDF(2, "Annexe"), 0o600)
	b.Do(chromedp.SetUploadFiles(chromedp.CSS("#files"), files))
	b.Wait("pages of both documents", `document.querySelectorAll("#docs .doc").length === 2 && document.querySelectorAll("#docs .page").length === 5`)

	ids := browsertest.Eval[[]string](b.Browser, `Array.from(document.querySelectorAll("#field-owner option")).map((o) => o.value)`)
	if len(ids) != 2 {
		t.Fatalf("field owners: %v", ids)
	}
	place := func(owner, label string, required bool, doc, pg int, fx, fy float64) {
		b.setValue("#field-owner", owner)
		b.typeIn("#field-label", label)
		if browsertest.Eval[bool](b.Browser, `document.querySelector("#field-required").checked`) != required {
			b.click("#field-required")
		}
		b.clickPage(doc, pg, fx, fy)
	}
	place(ids[0], "Ville", true, 0, 1, .3, .3)
	place(ids[1], "City", true, 0, 2, .5, .4)
	place(ids[1], "Note", false, 1, 1, .4, .6)
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll("#field-list li").length`); n != 3 {
		t.Fatalf("%d fields listed, want 3", n)
	}
	// The last field moves with the keyboard (it has the focus after placing).
	before := browsertest.Eval[string](b.Browser, `document.activeElement.style.left`)
	b.Do(chromedp.KeyEvent(kb.ArrowRight))
	b.Do(chromedp.KeyEvent(kb.ArrowRight))
	if after := browsertest.Eval[string](b.Browser, `document.activeElement.style.left`); after == before || !browsertest.Eval[bool](b.Browser, `document.activeElement.classList.contains("fbox")`) {
		t.Fatalf("ArrowRight did not move the focused field: %q → %q", before, after)
	}
	// Preview as the first signer dims the second signer's fields.
	b.setValue("#preview-as", ids[0])
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll(".fbox.dim").length`); n != 2 {
		t.Fatalf("%d fields dimmed in the first signer's preview, want 2", n)
	}
	b.setValue("#preview-as", "")

	// Signature boxes: one per signer and document. Placing a second box for a signer in the
	// same document moves the first one; Shift+arrows resize, down to 60 × 20 points.
	b.setValue("#field-kind", "signature")
	if !browsertest.Eval[bool](b.Browser, `document.querySelector("#field-label").disabled`) {
		t.Fatal("the label stays enabled for a signature box")
	}
	sign := func(owner string, doc, pg int, fx, fy float64) {
		b.setValue("#field-owner", owner)
		b.clickPage(doc, pg, fx, fy)
	}
	sign(ids[0], 0, 1, .6, .9)
	sign(ids[0], 0, 3, .3, .8)
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll("#docs .doc")[0].querySelectorAll(".fbox.sig").length`); n != 1 {
		t.Fatalf("%d signature boxes for the first signer in the first document, want 1 (moved)", n)
	}
	sign(ids[1], 0, 2, .7, .8)
	sign(ids[0], 1, 1, .3, .85)
	sign(ids[1], 1, 2, .6, .3)
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll(".fbox.sig").length`); n != 4 {
		t.Fatalf("%d signature boxes, want 4", n)
	}
	if !browsertest.Eval[bool](b.Browser, `document.activeElement.classList.contains("sig")`) {
		t.Fatal("the signature box just placed does not have the focus")
	}
	if l := browsertest.Eval[string](b.Browser, `document.activeElement.getAttribute("aria-label")`); strings.Count(l, "Bob Dupont") != 1 || !strings.Contains(l, "annexe.pdf") {
		t.Fatalf("the signature box's accessible name: %q", l)
	}
	for range 20 {
		b.Do(chromedp.KeyEvent(kb.ArrowUp, chromedp.KeyModifiers(chromedp.ModifierShift)))
		b.Do(chromedp.KeyEvent(kb.ArrowLeft, chromedp.KeyModifiers(chromedp.ModifierShift)))
	}
	if n := browsertest.Eval[int](b.Browser, `document.querySelectorAll("#field-list li").length`); n != 7 {
		t.Fatalf("%d fields and boxes listed, want 7", n)
	}
	b.Shot("prepared")
	b.Clean("preparation page")
	b.audit("preparation page")
	b.click("#send")
	b.Wait("envelope page", `/^\/admin\/envelopes\/[0-9a-f]{32}$/.test(location.pathname)`)
	id := strings.TrimPrefix(browsertest.Eval[string](b.Browser, `location.pathname`), "/admin/envelopes/")
	b.Shot("sent")
	b.audit("envelope page")

	e, err := w.svc.Envelope(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != ceremony.StatusSent || len(e.Documents) != 2 || len(e.Signers) != 2 || e.Owner == "" {
		t.Fatalf("envelope: status %s, %d documents, %d signers, owner %q", e.Status, len(e.Documents), len(e.Signers), e.Owner)
	}
	// Expiry in 10 days and reminders after 2 and 5 days, as typed.
	if !slices.Equal(e.Reminders, []ceremony.Duration{ceremony.Duration(48 * time.Hour), ceremony.Duration(120 * time.Hour)}) {
		var got []time.Duration
		for _, r := range e.Reminders {
			got = append(got, time.Duration(r))
		}
		t.Fatalf("reminders %v, want [48h 120h]", got)
	}
	if d := e.ExpiresAt.Sub(e.CreatedAt); d < 240*time.Hour-time.Minute || d > 240*time.Hour+time.Minute {
		t.Fatalf("the envelope expires %s after its creation (%s), want 10 days", d, e.ExpiresAt)
	}
	if n := len(e.Documents[0].Fields) + len(e.Documents[1].Fields); n != 3 {
		t.Fatalf("%d fields stored, want 3", n)
	}
	f := e.Documents[0].Fields[0]
	// Clicked at 30 % of the page's width and height: the field is centred there.
	pg := e.Documents[0].Pages[0]
	if f.Page != 1 || f.Signer != e.Signers[0].ID || !f.Required || math.Abs(f.Rect.X+f.Rect.W/2-.3*pg.Width) > 3 ||
		math.Abs(f.Rect.Y+f.Rect.H/2-.7*pg.Height) > 3 {
		t.Fatalf("the first field is not where it was placed: %+v on a page of %+v", f, e.Documents[0].Pages[0])
	}
	boxes := map[string]ceremony.SignatureBox{} // "document/signer"
	for _, d := range e.Documents {
		for _, sb := range d.Signatures {
			boxes[d.ID+"/"+sb.Signer] = sb
		}
	}
	if len(boxes) != 4 {
		t.Fatalf("%d signature boxes stored, want 4: %+v", len(boxes), boxes)
	}
	// The first signer's box in the first document was moved to page 3, centred at (30 %, 80 %).
	sb := boxes[e.Documents[0].ID+"/"+e.Signers[0].ID]
	pg = e.Documents[0].Pages[2]
	if sb.Page != 3 || math.Abs(sb.Rect.X+sb.Rect.W/2-.3*pg.Width) > 3 || math.Abs(sb.Rect.Y+sb.Rect.H/2-.2*pg.Height) > 3 {
		t.Fatalf("the first signer's signature box is not where it was placed: %+v on a page of %+v", sb, pg)
	}
	// The last box shrank with the keyboard to the minimum size.
	if sb := boxes[e.Documents[1].ID+"/"+e.Signers[1].ID]; sb.Page != 2 || sb.Rect.W != 60 || sb.Rect.H != 20 {
		t.Fatalf("the resized signature box: %+v, want 60 × 20 on page 2", sb)
	}

	// Both signers sign, in order, through the signer's pages in Chromium: the link from the
	// invitation email, every page read, their fields filled, « Signer », the code from the SMS.
	values := map[string]string{} // field id → value typed
	for _, d := range e.Documents {
		for _, f := range d.Fields {
			values[f.ID] = "valeur " + f.Label
		}
	}
	signerTab := browsertest.New(t, "signers", browsertest.Options{Width: 1280, Height: 900, HideScrollbars: true})
	signerTab.SignThroughPages(w.invitation(t, "alice@example.org"), values, func() string { return w.code("+33612345678") })
	b.Wait("timeline shows Alice's steps", `document.querySelectorAll("#timeline li[data-type='signer.completed']").length === 1`)
	signerTab.SignThroughPages(w.invitation(t, "bob@example.org"), values, func() string { return w.code("+33698765432") })
	b.Wait("completed", `document.querySelector("#envelope-status")?.classList.contains("badge-completed")`)
	b.Wait("downloads", `document.querySelectorAll("#documents a[data-doc]").length === 2`)
	b.Shot("completed")
	b.Clean("envelope page")
	if !browsertest.Eval[bool](b.Browser, `!!document.querySelector("#timeline li[data-type='envelope.completed']")`) {
		t.Fatal("the timeline lacks envelope.completed")
	}
	if e, err = w.svc.Envelope(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, d := range e.Documents {
		for _, f := range d.Fields {
			sg := e.Signers[slices.IndexFunc(e.Signers, func(s ceremony.Signer) bool { return s.ID == f.Signer })]
			if got := sg.Values[f.ID]; got != values[f.ID] {
				t.Errorf("%s's field %q holds %q, want %q (typed in the signer's page)", sg.Name, f.Label, got, values[f.ID])
			}
		}
	}
	for _, sg := range e.Signers {
		if sg.Status != ceremony.SignerSigned || sg.PagesRead() != 5 {
			t.Errorf("%s: %s with %d pages read, want signed with 5", sg.Name, sg.Status, sg.PagesRead())
		}
	}

	// Download the signed documents with the browser's session and verify them.
	cookies, err := chromedp.Call(b.Ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/admin/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session string
	for _, c := range cookies.Cookies {
		if c.Name == CookieName {
			session = c.Value
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Fatalf("session cookie: HttpOnly %v SameSite %s", c.HTTPOnly, c.SameSite)
			}
		}
	}
	hrefs := browsertest.Eval[[]string](b.Browser, `Array.from(document.querySelectorAll("#documents a[data-doc]")).map((a) => a.getAttribute("href"))`)
	var pdfs []string
	for i, h := range hrefs {
		req, _ := http.NewRequest("GET", base+h, nil)
		req.AddCookie(&http.Cookie{Name: CookieName, Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "%PDF-") {
			t.Fatalf("download %s: %d", h, resp.StatusCode)
		}
		p := filepath.Join(dir, fmt.Sprintf("signed-%d.pdf", i))
		os.WriteFile(p, body, 0o600)
		pdfs = append(pdfs, p)
		checkSignatureWidgets(t, w, e.Documents[i], e.Signers, body)
	}

	// The evidence bundle, downloaded from the envelope page's link with the browser's session.
	href := browsertest.Eval[string](b.Browser, `document.querySelector("a#evidence")?.getAttribute("href") || ""`)
	if href != "/admin/api/envelopes/"+id+"/evidence" {
		t.Fatalf("evidence link: %q", href)
	}
	req, _ := http.NewRequest("GET", base+href, nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: session})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" || !strings.HasPrefix(string(bundle), "PK") {
		t.Fatalf("download the evidence bundle: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	bundlePath := filepath.Join(dir, "evidence.zip")
	os.WriteFile(bundlePath, bundle, 0o600)
	out := w.verifyWithCLI(t, dir, append(pdfs, bundlePath))
	if !strings.Contains(out, bundlePath+": VALID") {
		t.Fatalf("paraphe verify did not find the evidence bundle valid:\n%s", out)
	}
}

// checkSignatureWidgets checks a signed document: pades.Verify finds every signer's signature
// valid in the field "sig-<signer>", and that field's widget lies on the page and rectangle of
// the signer's signature box.
func checkSignatureWidgets(t *testing.T, w *world, d ceremony.Document, signers []ceremony.Signer, pdf []byte) {
	t.Helper()
	rep, err := pades.Verify(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{Roots: w.roots})
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string]bool{}
	for _, s := range rep.Signatures {
		if s.Kind == "signature" {
			valid[s.Field] = s.Valid
		}
	}
	got := ceremonytest.Widgets(t, pdf)
	for _, sg := range signers {
		name := "sig-" + sg.ID
		if !valid[name] {
			t.Errorf("%s: no valid signature in field %s (report: %+v)", d.Name, name, rep.Signatures)
		}
		i := slices.IndexFunc(d.Signatures, func(b ceremony.SignatureBox) bool { return b.Signer == sg.ID })
		if i < 0 {
			t.Fatalf("%s: %s has no signature box", d.Name, sg.Name)
		}
		sb := d.Signatures[i]
		want := [4]float64{sb.Rect.X, sb.Rect.Y, sb.Rect.X + sb.Rect.W, sb.Rect.Y + sb.Rect.H}
		wg, ok := got[name]
		if !ok {
			t.Fatalf("%s: no widget named %s", d.Name, name)
		}
		for k := range want {
			if math.Abs(wg.Rect[k]-want[k]) > .01 {
				t.Errorf("%s: %s's widget is at %v, want %v", d.Name, sg.Name, wg.Rect, want)
				break
			}
		}
		if wg.Page != sb.Page {
			t.Errorf("%s: %s's widget is on page %d, want %d", d.Name, sg.Name, wg.Page, sb.Page)
		}
	}
}

// invitation is the personal link of the latest invitation email to email, from the outbox.
func (w *world) invitation(t *testing.T, email string) string {
	t.Helper()
	var link string
	for _, m := range w.outboxFor(email) {
		if l := regexp.MustCompile(`https?://[^\s"<>]+/s/[A-Za-z0-9_-]+`).FindString(m.Email.Text); l != "" {
			link = l
		}
	}
	if link == "" {
		t.Fatalf("no invitation for %s", email)
	}
	return link
}

// code is the code of the latest SMS to phone, from the outbox; "" when there is none.
func (w *world) code(phone string) string {
	code := ""
	for _, m := range w.outboxFor(phone) {
		if c := regexp.MustCompile(`\b\d{6}\b`).FindString(m.SMS.Text); c != "" {
			code = c
		}
	}
	return code
}

// verifyWithCLI runs `paraphe verify` (built from this module) on the files, which must all
// verify, and returns its output.
func (w *world) verifyWithCLI(t *testing.T, dir string, files []string) string {
	t.Helper()
	goTool := testtool.Require(t, "go")
	bin := filepath.Join(dir, "paraphe")
	build := exec.Command(goTool, "build", "-o", bin, "github.com/paraphe/paraphe/cmd/paraphe")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build paraphe: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root.pem")
	var pemRoot []byte
	for _, c := range w.rootCerts {
		pemRoot = append(pemRoot, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	os.WriteFile(root, pemRoot, 0o600)
	cmd := exec.Command(bin, append([]string{"verify", "--root", root}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("paraphe verify: %v\n%s", err, out)
	}
	t.Logf("paraphe verify:\n%s", out)
	return string(out)
}
