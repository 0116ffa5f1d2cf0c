package signerui

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/paraphe/paraphe/ceremony"
)

// visitor is a browser without JavaScript: a cookie jar that follows redirects.
type visitor struct {
	t    *testing.T
	c    *http.Client
	base string
	lang string
}

func (w *world) visitor(t *testing.T, acceptLanguage string) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, c: &http.Client{Jar: jar}, base: w.srv.URL, lang: acceptLanguage}
}

func (v *visitor) get(url string) (*http.Response, string) {
	v.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = v.base + url
	}
	req, _ := http.NewRequest("GET", url, nil)
	if v.lang != "" {
		req.Header.Set("Accept-Language", v.lang)
	}
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPageHeadersAndLanguages(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.send(seedManifest(), seedFiles())
	v := w.visitor(t, "en-GB,en;q=0.9")

	// Without a session: a page (not JSON) in the browser's language.
	resp, body := v.get("/s/")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Open the link you received by email") {
		t.Fatalf("no session: %d\n%s", resp.StatusCode, body)
	}

	// The link's token is exchanged and leaves the address bar; the page is in the signer's
	// locale (fr) although the browser prefers English.
	link := w.link("alice@example.org")
	resp, body = v.get(link)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != w.srv.URL+"/s/" {
		t.Fatalf("open link: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	token := link[strings.LastIndex(link, "/")+1:]
	if strings.Contains(body, token) {
		t.Fatal("the page holds the link's token")
	}
	if !strings.Contains(body, "Accéder aux documents") || !strings.Contains(body, `lang="fr"`) {
		t.Fatalf("landing page is not in French:\n%s", body)
	}
	if w.ui.ViewerEmbedded() && strings.Contains(body, `id="no-viewer"`) {
		t.Fatal("the landing page says the viewer is missing although it is embedded")
	}
	h := resp.Header
	if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != CSP {
		t.Fatalf("CSP = %q, want only the page's own", got)
	}
	for k, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY",
		"X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	// No inline script or style: the only scripts are the module and the JSON data block.
	if regexp.MustCompile(`(?i)<script(?:[^>]*)>\s*[^<\s]`).MatchString(strings.ReplaceAll(body, `<script type="application/json" id="config">`, "<x>")) ||
		regexp.MustCompile(`(?i)\sstyle=|<style|\son[a-z]+=`).MatchString(body) {
		t.Fatal("the page has inline script, style or event handlers")
	}

	// The switcher: English, remembered for the next pages.
	resp, body = v.get("/s/?lang=en")
	if !strings.Contains(body, "Access the documents") || !strings.Contains(body, `lang="en"`) {
		t.Fatalf("switch to English:\n%s", body)
	}
	_, body = v.get("/s/?v=read")
	if !strings.Contains(body, "Next document") || !strings.Contains(body, "Page 1 / 3") {
		t.Fatalf("reader after the switch:\n%s", body)
	}
	_, body = v.get("/s/?v=decide&lang=fr")
	if !strings.Contains(body, `id="sign" class="primary" disabled`) || !strings.Contains(body, `id="refuse" class="secondary danger" disabled`) {
		t.Fatalf("decision before reading:\n%s", body)
	}

	// Static files: content-addressed, cacheable, the worker with its own policy.
	m := regexp.MustCompile(`href="(/s/assets/[0-9a-f]{12}/)app.css"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no stylesheet link")
	}
	for _, f := range []string{"app.css", "app.js", "icon.svg"} {
		resp, _ := v.get(m[1] + f)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d %q", f, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	if resp, _ := v.get(m[1] + "app.js"); resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("app.js served as %q", resp.Header.Get("Content-Type"))
	}
	if w.ui.ViewerEmbedded() {
		resp, _ := v.get(m[1] + "pdfjs/pdf.worker.min.mjs")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != WorkerCSP {
			t.Errorf("worker: %d CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
	for _, p := range []string{"/s/assets/000000000000/app.js", m[1] + "../signerui.go", m[1] + "nope.js", m[1] + "pdfjs/"} {
		if resp, _ := v.get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}

	// A wrong session: the link is not valid (a page, in the chosen language).
	jar, _ := cookiejar.New(nil)
	bad := &visitor{t: t, c: &http.Client{Jar: jar}, base: w.srv.URL}
	req, _ := http.NewRequest("GET", w.srv.URL+"/s/", nil)
	req.AddCookie(&http.Cookie{Name: "paraphe_session", Value: strings.Repeat("A", 43)})
	req.AddCookie(&http.Cookie{Name: LangCookie, Value: "en"})
	r2, err := bad.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b2), "This link is no longer valid") {
		t.Fatalf("bad session: %d\n%s", r2.StatusCode, b2)
	}
}

// TestMissingViewer: a binary built without pdf.js says so on the landing page, before the
// signer goes any further, and on the reader, in French and in English: an alert (role="alert")
// saying the documents cannot be displayed, to tell the sender, and what the operator must do.
func TestMissingViewer(t *testing.T) {
	w := newWorld(t, worldOptions{pdfjs: fstest.MapFS{"README.md": {Data: []byte("run scripts/assets")}}})
	if w.ui.ViewerEmbedded() {
		t.Fatal("viewer reported embedded")
	}
	w.send(seedManifest(), seedFiles())
	v := w.visitor(t, "")
	v.get(w.link("alice@example.org"))
	notice := regexp.MustCompile(`(?s)<div class="alert alert-error" id="no-viewer" role="alert">(.*?)</div>`)
	for _, tc := range []struct{ lang, page, want, operator string }{
		{"fr", "/s/", "Les documents ne peuvent pas être affichés", "lancez scripts/assets"},
		{"en", "/s/", "The documents cannot be displayed", "run scripts/assets"},
		{"fr", "/s/?v=read", "", "lancez scripts/assets"},
		{"en", "/s/?v=read", "", "built without its PDF viewer: run scripts/assets"},
	} {
		sep := "?"
		if strings.Contains(tc.page, "?") {
			sep = "&"
		}
		resp, body := v.get(tc.page + sep + "lang=" + tc.lang)
		m := notice.FindStringSubmatch(body)
		if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(m[1], tc.want) || !strings.Contains(m[1], tc.operator) {
			t.Fatalf("%s in %s without pdf.js: %d, notice %q\n%s", tc.page, tc.lang, resp.StatusCode, m, body)
		}
		if tc.page == "/s/" && !strings.Contains(m[1], map[string]string{"fr": "Prévenez l’expéditeur", "en": "Let the sender know"}[tc.lang]) {
			t.Errorf("landing in %s: the notice does not tell the signer what to do: %q", tc.lang, m[1])
		}
	}
}

// TestViewerEmbedded fails under CI when scripts/assets was not run before the tests.
func TestViewerEmbedded(t *testing.T) {
	requireViewer(t)
}

func requireViewer(t *testing.T) {
	t.Helper()
	sub, err := fs.Sub(pdfjsAssets, "assets/pdfjs")
	if err != nil {
		t.Fatal(err)
	}
	if exists(sub, "pdf.min.mjs") && exists(sub, "pdf.worker.min.mjs") {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("pdf.js is not embedded: run scripts/assets before go test")
	}
	t.Skip("pdf.js is not embedded: run scripts/assets")
}

// pageConfig is the JSON configuration a rendered page hands its script.
func pageConfig(t *testing.T, body string) clientConfig {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="config">(.*?)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no configuration in the page:\n%s", body)
	}
	var c clientConfig
	if err := json.Unmarshal([]byte(m[1]), &c); err != nil {
		t.Fatalf("page configuration: %v\n%s", err, m[1])
	}
	return c
}

// TestReadDwellReachesThePage: Options.ReadDwell is the dwell_ms the page's script waits before
// reporting a page read (issue 7); 0 is the default 1.5 s, a negative value no wait at all.
func TestReadDwellReachesThePage(t *testing.T) {
	for _, tc := range []struct {
		dwell time.Duration
		want  int64
	}{{0, 1500}, {2500 * time.Millisecond, 2500}, {-1, 0}, {time.Minute, 60000}} {
		h, err := newHandler(Options{Service: &ceremony.Service{}, ReadDwell: tc.dwell}, fstest.MapFS{})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/s/", nil)) // no session: the error page, same configuration
		if got := pageConfig(t, rec.Body.String()).DwellMS; got != tc.want {
			t.Errorf("ReadDwell %s: the page got dwell_ms %d, want %d", tc.dwell, got, tc.want)
		}
	}
}
