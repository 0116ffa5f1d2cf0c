package signerui

import (
	"fmt"
	"testing"
	"time"

	"github.com/paraphe/paraphe/internal/browsertest"
)

// browser is a headless Chromium tab with the signer's pages' steps.
type browser struct{ *browsertest.Browser }

// newBrowser starts Chromium with a fresh profile and a window of the given size.
func newBrowser(t *testing.T, name string, width, height int) *browser {
	t.Helper()
	requireViewer(t)
	return &browser{browsertest.New(t, name, browsertest.Options{Width: width, Height: height, HideScrollbars: true, WaitTimeout: 45 * time.Second})}
}

func (b *browser) text(sel string) string {
	b.T.Helper()
	return browsertest.Eval[string](b.Browser, fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").replace(/\s+/g, " ").trim()`, sel))
}

func (b *browser) location() string {
	b.T.Helper()
	return browsertest.Eval[string](b.Browser, `location.href`)
}

// readDocument scrolls through every page of the reader's document (browsertest.ReadDocument).
func (b *browser) readDocument(values map[string]string) {
	b.T.Helper()
	b.ReadDocument(values)
}

// noOverflow fails if the page is wider than the window (it must work at 375 px).
func (b *browser) noOverflow(where string) {
	b.T.Helper()
	if w, iw := browsertest.Eval[int](b.Browser, `document.documentElement.scrollWidth`), browsertest.Eval[int](b.Browser, `window.innerWidth`); w > iw {
		b.T.Fatalf("%s: the %s page is %d px wide in a %d px window", b.Name, where, w, iw)
	}
}
