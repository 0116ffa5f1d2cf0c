package signerui

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/internal/browsertest"
	"github.com/paraphe/paraphe/pades"
)

// signInBrowser takes one signer through the whole ceremony in a browser: the invitation link,
// the landing page, every page of both documents, the fields, « Signer », the code from the SMS
// sink and the end page. It returns the browser on the end page.
func signInBrowser(t *testing.T, w *world, b *browser, email, phone string, values map[string]string, texts map[string]string) {
	link := w.link(email)
	b.Open(link)
	if got := b.location(); got != w.srv.URL+"/s/" {
		t.Fatalf("%s: address after the link = %q, want the token removed", b.Name, got)
	}
	if got := b.text("#access"); got != texts["access"] {
		t.Fatalf("%s: landing button %q, want %q", b.Name, got, texts["access"])
	}
	if got := b.text("#doc-2 .badge"); got != texts["locked"] {
		t.Fatalf("%s: second document shows %q, want %q", b.Name, got, texts["locked"])
	}
	b.noOverflow("landing")
	b.Shot("landing")
	b.Do(chromedp.Click(chromedp.ID("access")))
	b.Wait("reader", `location.search === "?v=read"`)

	// Document 1: "next" stays closed until every page is read and the fields are filled.
	b.Wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
	if !browsertest.Eval[bool](b.Browser, `document.getElementById("next").disabled`) {
		t.Fatalf("%s: next document open before reading", b.Name)
	}
	if got := b.text("#progress"); got != "Page 1 / 3" {
		t.Fatalf("%s: progress %q", b.Name, got)
	}
	b.readDocument(values)
	b.shownInBothViews(values)
	b.Wait("next document open", `!document.getElementById("next").disabled`)
	if got := b.text("#next"); got != texts["next"] {
		t.Fatalf("%s: next button %q, want %q", b.Name, got, texts["next"])
	}
	if got := b.text("#progress"); got != "Page 3 / 3" {
		t.Fatalf("%s: progress at the end %q", b.Name, got)
	}
	b.noOverflow("reader")
	b.Shot("document-1-read")
	b.Do(chromedp.Click(chromedp.ID("next")))
	b.Wait("document 2", `location.search === "?v=read&doc=2"`)

	// Document 2, then the decision.
	b.readDocument(values)
	b.shownInBothViews(values)
	b.Wait("decision open", `!document.getElementById("next").disabled`)
	b.Shot("document-2-read")
	b.Do(chromedp.Click(chromedp.ID("next")))
	b.Wait("decision", `location.search === "?v=decide"`)
	b.Wait("sign enabled", `!document.getElementById("sign").disabled`)
	if got := b.text("#sign"); got != texts["sign"] {
		t.Fatalf("%s: sign button %q, want %q", b.Name, got, texts["sign"])
	}
	if got := b.text("#refuse"); got != texts["refuse"] {
		t.Fatalf("%s: refuse button %q, want %q", b.Name, got, texts["refuse"])
	}
	b.noOverflow("decision")
	b.Shot("decision")
	b.Do(chromedp.Click(chromedp.ID("sign")))

	// The code.
	b.Wait("code page", `document.getElementById("code") !== null`)
	attrs := browsertest.Eval[map[string]string](b.Browser, `Object.fromEntries([...document.getElementById("code").attributes].map(a => [a.name, a.value]))`)
	if attrs["autocomplete"] != "one-time-code" || attrs["inputmode"] != "numeric" {
		t.Fatalf("%s: code input attributes %v", b.Name, attrs)
	}
	masked := b.text("#code-sent")
	if strings.Contains(masked, phone) || !strings.Contains(masked, phone[:3]) || !strings.Contains(masked, "•") {
		t.Fatalf("%s: phone not masked: %q", b.Name, masked)
	}
	if !browsertest.Eval[bool](b.Browser, `document.getElementById("resend").disabled`) || !strings.Contains(b.text("#resend"), texts["resend_in"]) {
		t.Fatalf("%s: resend without a countdown: %q", b.Name, b.text("#resend"))
	}
	code := w.sms.LastCodeFor(phone)
	if len(code) != 6 {
		t.Fatalf("%s: no code in the SMS sink", b.Name)
	}
	// A wrong code first: the attempts left go down.
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	b.Do(chromedp.SendKeys(chromedp.ID("code"), wrong), chromedp.Click(chromedp.ID("code-submit")))
	b.Wait("wrong code", `!document.getElementById("code-error").hidden`)
	if got := b.text("#code-attempts"); got != texts["attempts4"] {
		t.Fatalf("%s: attempts after a wrong code %q, want %q", b.Name, got, texts["attempts4"])
	}
	b.noOverflow("code")
	b.Shot("code-wrong")
	b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("code").value = ""`), chromedp.SendKeys(chromedp.ID("code"), code), chromedp.SendKeys(chromedp.ID("code"), kb.Enter))
	b.Wait("end page", `document.getElementById("done-title") !== null`)
	if got := b.text("#done-title"); got != texts["done"] {
		t.Fatalf("%s: end page %q, want %q", b.Name, got, texts["done"])
	}
	b.Shot("done")
	b.Clean(b.Name)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestSeedFlowInBrowser is the seed's ceremony in Chromium: Alice in French on a desktop, then
// Bob in English on a 375 px phone screen; the signed PDFs downloaded from Bob's end page verify
// at PAdES B-LTA with both signatures.
func TestSeedFlowInBrowser(t *testing.T) {
	requireViewer(t)
	w := newWorld(t, worldOptions{dwell: 400 * time.Millisecond})
	id := w.send(seedManifest(), seedFiles())

	alice := newBrowser(t, "alice-fr", 1280, 900)
	signInBrowser(t, w, alice, "alice@example.org", "+33612345678", map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"},
		map[string]string{"access": "Accéder aux documents", "locked": "Verrouillé", "next": "Document suivant", "sign": "Signer",
			"refuse": "Refuser", "resend_in": "Renvoyer le code dans", "attempts4": "Essais restants : 4", "done": "Vos documents sont signés"})
	if got := alice.text("#envelope-status"); !strings.Contains(got, "quand tous les signataires auront signé") {
		t.Fatalf("alice's end page: %q", got)
	}
	if browsertest.Eval[bool](alice.Browser, `document.getElementById("download-evidence") !== null`) {
		t.Fatal("alice's end page offers the evidence bundle before the envelope is complete")
	}

	bob := newBrowser(t, "bob-en-375px", 375, 760)
	signInBrowser(t, w, bob, "bob@example.org", "+447700900123", map[string]string{"bob_city": "London", "bob_initials": "BS"},
		map[string]string{"access": "Access the documents", "locked": "Locked", "next": "Next document", "sign": "Sign",
			"refuse": "Refuse", "resend_in": "Send a new code in", "attempts4": "Attempts left: 4", "done": "Your documents are signed"})

	e, err := w.svc.Envelope(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != ceremony.StatusCompleted {
		t.Fatalf("envelope %s after both signers", e.Status)
	}
	// Bob's end page offers the signed documents; download them as the browser does.
	for n, doc := range []string{"compromis", "annexe"} {
		href := browsertest.Eval[string](bob.Browser, fmt.Sprintf(`document.getElementById("download-%d").getAttribute("href")`, n+1))
		b64 := browsertest.Eval[string](bob.Browser, fmt.Sprintf(`fetch(%q).then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status)).then(b => {
			let s = ""; const u = new Uint8Array(b); for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]); return btoa(s); })`, href))
		pdf, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := pades.Verify(context.Background(), bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{Roots: w.roots})
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		sigs := 0
		for _, s := range rep.Signatures {
			if s.Kind == "signature" {
				sigs++
			}
		}
		if !rep.Valid || rep.Level != "B-LTA" || sigs != 2 {
			t.Fatalf("%s: valid=%v level=%s signatures=%d problems=%v", doc, rep.Valid, rep.Level, sigs, rep.Problems)
		}
	}
	// And the evidence bundle (issue 8): a labelled link whose download is a ZIP.
	if got := bob.text("#download-evidence"); got != "Download the evidence bundle (ZIP)" {
		t.Fatalf("bob's evidence link: %q", got)
	}
	ev := browsertest.Eval[map[string]string](bob.Browser, `fetch(document.getElementById("download-evidence").getAttribute("href")).then(async r => {
		const u = new Uint8Array(await r.arrayBuffer());
		return {status: String(r.status), type: r.headers.get("Content-Type") ?? "", magic: String.fromCharCode(...u.slice(0, 4)), size: String(u.length)}; })`)
	if ev["status"] != "200" || ev["type"] != "application/zip" || ev["magic"] != "PK\x03\x04" {
		t.Fatalf("the evidence download: %v", ev)
	}
	bob.Shot("downloads")
	_ = http.StatusOK
}
