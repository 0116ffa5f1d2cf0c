package signerui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/paraphe/paraphe/internal/testtool"
)

// browser is a headless Chromium tab driven through the DevTools protocol.
type browser struct {
	t     *testing.T
	ctx   context.Context
	name  string
	shots string
	n     int
	mu    sync.Mutex
	errs  []string
}

// cspSpy runs in every document before its scripts (DevTools scripts are not subject to the
// page's policy) and records Content-Security-Policy violations.
const cspSpy = `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`

// newBrowser starts Chromium with a fresh profile and a window of the given size.
func newBrowser(t *testing.T, name string, width, height int) *browser {
	t.Helper()
	requireViewer(t)
	exe := testtool.Require(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("headless", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	b := &browser{t: t, ctx: ctx, name: name, shots: screenshotDir(t)}
	// Start the tab before listening (a listener on a fresh context would start a second browser).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspSpy}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.record("exception: " + ev.ExceptionDetails.Text + " " + describe(ev.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, describe(a))
				}
				b.record("console.error: " + strings.Join(parts, " "))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.shot("failure")
		}
	})
	return b
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Value)
}

func (b *browser) record(s string) {
	b.mu.Lock()
	b.errs = append(b.errs, s)
	b.mu.Unlock()
}

// screenshotDir is $PARAPHE_SCREENSHOTS/<test> or a temporary directory.
func screenshotDir(t *testing.T) string {
	root := os.Getenv("PARAPHE_SCREENSHOTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// do runs steps with a deadline.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page errors: %v)", b.name, err, b.problems())
	}
}

// eval evaluates a JavaScript expression (awaiting promises).
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: eval %s: %v (page errors: %v)", b.name, expr, err, b.problems())
	}
	return v
}

// wait polls a JavaScript condition until it holds. (chromedp.Poll compiles its predicate with
// new Function, which the pages' policy forbids.)
func (b *browser) wait(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: waiting for %s: %v (page errors: %v)", b.name, what, err, b.problems())
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// open navigates and waits for the page's script to have run.
func (b *browser) open(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url))
	b.wait("page "+url, `document.readyState === "complete"`)
}

// shot saves a screenshot of the viewport as NN-name.png.
func (b *browser) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	f := filepath.Join(b.shots, fmt.Sprintf("%s-%02d-%s.png", b.name, b.n, name))
	if err := os.WriteFile(f, img, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// problems are the page's script errors and policy violations so far.
func (b *browser) problems() []string {
	b.mu.Lock()
	out := append([]string(nil), b.errs...)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || []`)); err == nil {
		for _, s := range v {
			out = append(out, "csp: "+s)
		}
	}
	return out
}

// clean fails the test if the page had script errors or policy violations.
func (b *browser) clean() {
	b.t.Helper()
	if !eval[bool](b, `Array.isArray(window.__csp)`) {
		b.t.Fatalf("%s: the policy-violation spy is not installed", b.name)
	}
	if p := b.problems(); len(p) > 0 {
		b.t.Fatalf("%s: page errors: %q", b.name, p)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").replace(/\s+/g, " ").trim()`, sel))
}

func (b *browser) location() string {
	b.t.Helper()
	return eval[string](b, `location.href`)
}

// readDocument scrolls through every page of the reader's document, in order, waiting for each
// to be rendered and reported read, and fills the given fields on the way.
func (b *browser) readDocument(values map[string]string) {
	b.t.Helper()
	b.wait("reader ready", `document.querySelector("#pages")?.dataset.ready === "true"`)
	total := eval[int](b, `document.querySelectorAll("#pages .page").length`)
	for p := 1; p <= total; p++ {
		b.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById("page-%d").scrollIntoView({block: "start"})`, p)))
		b.wait(fmt.Sprintf("page %d rendered", p), fmt.Sprintf(`document.querySelector("#page-%d canvas") && document.getElementById("page-%d").classList.contains("is-rendered")`, p, p))
		for id, v := range values {
			if eval[bool](b, fmt.Sprintf(`!!document.querySelector("#page-%d #field-%s")`, p, id)) {
				b.fill(id, v)
			}
		}
		b.wait(fmt.Sprintf("page %d read", p), fmt.Sprintf(`document.getElementById("page-%d").classList.contains("is-read")`, p))
		if p == 1 {
			b.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("page-1").scrollIntoView({block: "end"})`))
			b.shot("reader")
		}
	}
}

// fill types a value into a field with the keyboard and leaves it, then waits for the server
// to accept it.
func (b *browser) fill(id, v string) {
	b.t.Helper()
	sel := chromedp.ID("field-" + id)
	b.do(chromedp.Focus(sel), chromedp.SendKeys(sel, v), chromedp.SendKeys(sel, "\t"))
	b.wait("field "+id+" saved", fmt.Sprintf(`document.getElementById("field-%s").closest(".field").classList.contains("is-valid")`, id))
}

// noOverflow fails if the page is wider than the window (it must work at 375 px).
func (b *browser) noOverflow(where string) {
	b.t.Helper()
	if w, iw := eval[int](b, `document.documentElement.scrollWidth`), eval[int](b, `window.innerWidth`); w > iw {
		b.t.Fatalf("%s: the %s page is %d px wide in a %d px window", b.name, where, w, iw)
	}
}
