// Package browsertest drives a headless Chromium tab through the DevTools protocol (chromedp)
// for the tests of the appliance's web pages.
//
// Every Browser has its own profile and watches its pages: script exceptions, console errors
// and Content-Security-Policy violations are collected (see Problems and Clean), and a
// screenshot is taken when the test fails, under $BROWSERTEST_SCREENSHOTS/<test> when set. The test
// is skipped where Chromium is missing (internal/testtool), except in CI where it fails.
package browsertest

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

// Options shape a Browser.
type Options struct {
	// Width and Height are the window's and viewport's size in CSS pixels.
	Width, Height int
	// HideScrollbars keeps scrollbars out of the layout and the screenshots.
	HideScrollbars bool
	// AcceptDialogs accepts every alert, confirm and prompt; otherwise a dialog blocks the page.
	AcceptDialogs bool
	// WaitTimeout bounds Wait; default 60 s.
	WaitTimeout time.Duration
}

// Browser is a headless Chromium tab.
type Browser struct {
	T *testing.T
	// Ctx is the tab's context, for chromedp calls of the test's own.
	Ctx context.Context
	// Name prefixes the screenshots and the failure messages.
	Name string

	dir  string
	wait time.Duration
	n    int // screenshots taken
	mu   sync.Mutex
	errs []string
}

// cspSpy runs in every document before its scripts (DevTools scripts are not subject to the
// page's policy) and records Content-Security-Policy violations.
const cspSpy = `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`

// New starts Chromium with a fresh profile and opens a blank tab; both end with the test.
func New(t *testing.T, name string, o Options) *Browser {
	t.Helper()
	exe := testtool.Require(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("headless", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(o.Width, o.Height))
	if o.HideScrollbars {
		opts = append(opts, chromedp.Flag("hide-scrollbars", true))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	b := &Browser{T: t, Ctx: ctx, Name: name, dir: screenshotDir(t), wait: o.WaitTimeout}
	if b.wait == 0 {
		b.wait = 60 * time.Second
	}
	// Start the tab before listening (a listener on a fresh context would start a second browser).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(int64(o.Width), int64(o.Height))); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspSpy}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.Record("exception: " + ev.ExceptionDetails.Text + " " + describe(ev.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, describe(a))
				}
				b.Record("console.error: " + strings.Join(parts, " "))
			}
		case *page.EventJavascriptDialogOpening:
			if o.AcceptDialogs {
				go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.Shot("failure")
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

// Record adds a problem of the test's own to those Problems reports.
func (b *Browser) Record(s string) {
	b.mu.Lock()
	b.errs = append(b.errs, s)
	b.mu.Unlock()
}

// screenshotDir is $BROWSERTEST_SCREENSHOTS/<test> or a temporary directory.
func screenshotDir(t *testing.T) string {
	root := os.Getenv("BROWSERTEST_SCREENSHOTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Do runs steps with a deadline of a minute and fails the test if one fails.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.T.Fatalf("%s: %v (page errors: %v)", b.Name, err, b.Problems())
	}
}

// Eval evaluates a JavaScript expression (awaiting promises) and fails the test if it throws.
func Eval[T any](b *Browser, expr string) T {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.T.Fatalf("%s: eval %s: %v (page errors: %v)", b.Name, expr, err, b.Problems())
	}
	return v
}

// Wait polls a JavaScript condition until it holds, and fails the test after the wait timeout.
// (chromedp.Poll compiles its predicate with new Function, which the pages' policy forbids.)
func (b *Browser) Wait(what, cond string) {
	b.T.Helper()
	deadline := time.Now().Add(b.wait)
	for {
		ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.T.Fatalf("%s: waiting for %s: %v (page errors: %v)", b.Name, what, err, b.Problems())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Open navigates and waits for the page's scripts to have run.
func (b *Browser) Open(url string) {
	b.T.Helper()
	b.Do(chromedp.Navigate(url))
	b.Wait("page "+url, `document.readyState === "complete"`)
}

// Shot saves a screenshot of the viewport as <name>-NN-<what>.png.
func (b *Browser) Shot(what string) {
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.T.Logf("screenshot %s: %v", what, err)
		return
	}
	b.n++
	f := filepath.Join(b.dir, fmt.Sprintf("%s-%02d-%s.png", b.Name, b.n, what))
	if err := os.WriteFile(f, img, 0o644); err != nil {
		b.T.Errorf("screenshot %s: %v", what, err)
	}
}

// Problems are the page's script errors and policy violations so far, and those recorded.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	out := append([]string(nil), b.errs...)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
	defer cancel()
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || []`)); err == nil {
		for _, s := range v {
			out = append(out, "csp: "+s)
		}
	}
	return out
}

// Clean fails the test, naming where, if the page had problems or its policy-violation spy is
// missing.
func (b *Browser) Clean(where string) {
	b.T.Helper()
	if !Eval[bool](b, `Array.isArray(window.__csp)`) {
		b.T.Fatalf("%s: the policy-violation spy is not installed", where)
	}
	if p := b.Problems(); len(p) > 0 {
		b.T.Fatalf("%s: page errors: %q", where, p)
	}
}
