// Package signerui serves the signer's ceremony pages: the landing page of the invitation link,
// the reader (pdf.js renders each page in the browser), the decision (« Signer » / « Refuser »),
// the security code and the end, in French and English.
//
// The pages are rendered on the server with html/template from the signer's state and driven by
// a small plain-JavaScript module that speaks the signer protocol of package web/signer (the
// JSON endpoints under /s/api/). The browser only reports: every rule (reading order, fields,
// consent, code) is enforced by the ceremony service behind that protocol.
//
// Guarantees:
//   - every page carries a strict Content-Security-Policy of its own (no inline script or style,
//     no third-party origin, no framing), Referrer-Policy no-referrer and Cache-Control no-store;
//   - nothing from the signer, the sender or the documents is ever interpreted as markup or
//     script: the server escapes through html/template and the script only sets text content;
//   - the page never holds the link's token (package web/signer exchanged it for a cookie and
//     redirected to /s/); state changes carry the session's CSRF token in a header;
//   - the static files (the page's script and style, and pdf.js with its worker) are embedded in
//     the binary and served under a content-addressed path; a binary built without pdf.js (see
//     scripts/assets) says so on the page instead of failing silently;
//   - no token, code, field value or personal data is logged.
package signerui

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/web/pages"
	"github.com/paraphe/paraphe/web/signer"
)

//go:embed static templates messages
var embedded embed.FS

//go:embed assets
var pdfjsAssets embed.FS

// PagePattern and AssetsPattern are the routes the handler serves; package web/signer mounts
// the handler on both (signer.Options.Page).
const (
	PagePattern   = "GET /s/{$}"
	AssetsPattern = "GET /s/assets/"
)

// CSP is the Content-Security-Policy of every page.
//
// pdf.js 6 needs: its module and its worker from this origin (script-src, worker-src 'self'),
// the PDF, fonts and image decoders fetched from this origin (connect-src via default-src),
// canvas output only (no img-src beyond 'self' for the icons, blob: and data: for images pdf.js
// decodes), and fonts it builds in memory with the FontFace API (no font-src needed). It never
// needs inline script or style: the page's own script sets positions through the CSSOM.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// WorkerCSP is the policy of pdf.js's worker script, which a worker takes from its own response:
// the page's policy plus 'wasm-unsafe-eval', for the WebAssembly image decoders (JPEG 2000,
// JBIG2) and colour management that pdf.js 6 runs in the worker. The page itself never gets it.
const WorkerCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// LangCookie keeps the language a signer chose with the switcher.
const LangCookie = "paraphe_lang"

// Options configure the pages.
type Options struct {
	Service *ceremony.Service
	Logger  *slog.Logger
	// ReadDwell is how long most of a page must stay visible before the page reports it read
	// (0: the default 1.5 s; negative: as soon as it is visible). It reaches the page's script
	// as dwell_ms. The server records what is reported; this only paces the reporting.
	ReadDwell time.Duration
	// Secure marks the language cookie Secure (set it when served over TLS).
	Secure bool
	// Now is the clock used for countdowns (default time.Now).
	Now func() time.Time
}

// Handler serves the pages and their static files.
type Handler struct {
	opt      Options
	log      *slog.Logger
	mux      *http.ServeMux
	tmpl     *template.Template
	catalogs map[string]pages.Catalog
	static   fs.FS
	version  string
	viewer   bool
}

// New returns the pages' handler.
func New(opt Options) (*Handler, error) {
	sub, err := fs.Sub(pdfjsAssets, "assets/pdfjs")
	if err != nil {
		return nil, fmt.Errorf("signerui: %w", err)
	}
	return newHandler(opt, sub)
}

// newHandler builds the handler over a given set of pdf.js files (tests use an empty one).
func newHandler(opt Options, pdfjs fs.FS) (*Handler, error) {
	if opt.Service == nil {
		return nil, errors.New("signerui: Options.Service is required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case opt.ReadDwell == 0:
		opt.ReadDwell = 1500 * time.Millisecond
	case opt.ReadDwell < 0:
		opt.ReadDwell = 0
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	cats, err := pages.LoadCatalogs(embedded, "signerui")
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"add":  func(a, b int) int { return a + b },
		"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"date": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	}).ParseFS(embedded, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("signerui: templates: %w", err)
	}
	staticFS, err := fs.Sub(embedded, "static")
	if err != nil {
		return nil, fmt.Errorf("signerui: %w", err)
	}
	h := &Handler{opt: opt, log: opt.Logger, tmpl: tmpl, catalogs: cats,
		static: overlay{base: staticFS, dir: "pdfjs", sub: pdfjs}}
	h.viewer = exists(pdfjs, "pdf.min.mjs") && exists(pdfjs, "pdf.worker.min.mjs")
	if h.version, err = pages.Version(h.static); err != nil {
		return nil, fmt.Errorf("signerui: %w", err)
	}
	if !h.viewer {
		h.log.Warn("signerui: built without pdf.js; signers cannot read documents until scripts/assets is run before the build")
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc(PagePattern, h.page)
	h.mux.HandleFunc("GET /s/assets/{version}/{file...}", h.asset)
	return h, nil
}

// ViewerEmbedded reports whether the binary holds pdf.js.
func (h *Handler) ViewerEmbedded() bool { return h.viewer }

// AssetBase is the path under which the current static files are served.
func (h *Handler) AssetBase() string { return "/s/assets/" + h.version + "/" }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func exists(fsys fs.FS, name string) bool {
	st, err := fs.Stat(fsys, name)
	return err == nil && !st.IsDir() && st.Size() > 0
}

// overlay is base with sub mounted at dir.
type overlay struct {
	base fs.FS
	dir  string
	sub  fs.FS
}

func (o overlay) Open(name string) (fs.File, error) {
	if name == o.dir {
		return o.sub.Open(".")
	}
	if rest, ok := strings.CutPrefix(name, o.dir+"/"); ok {
		return o.sub.Open(rest)
	}
	return o.base.Open(name)
}

func (o overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == o.dir {
		return fs.ReadDir(o.sub, ".")
	}
	if rest, ok := strings.CutPrefix(name, o.dir+"/"); ok {
		return fs.ReadDir(o.sub, rest)
	}
	es, err := fs.ReadDir(o.base, name)
	if err != nil || name != "." {
		return es, err
	}
	return append(es, fs.FileInfoToDirEntry(dirInfo(o.dir))), nil
}

type dirInfo string

func (d dirInfo) Name() string       { return string(d) }
func (d dirInfo) Size() int64        { return 0 }
func (d dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (d dirInfo) ModTime() time.Time { return time.Time{} }
func (d dirInfo) IsDir() bool        { return true }
func (d dirInfo) Sys() any           { return nil }

var contentTypes = map[string]string{
	".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8", ".wasm": "application/wasm", ".svg": "image/svg+xml",
	".ttf": "font/ttf", ".pfb": "application/octet-stream", ".md": "text/plain; charset=utf-8",
}

// asset serves a static file. The version in the path is the digest of the current files, so a
// response can be cached for good; an old version is not found.
func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if r.PathValue("version") != h.version || name == "" || !fs.ValidPath(name) || strings.HasSuffix(name, "/") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	b, err := fs.ReadFile(h.static, name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	csp := CSP
	if name == "pdfjs/pdf.worker.min.mjs" {
		csp = WorkerCSP
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	pages.WriteAsset(w, name, b, contentTypes, csp)
}

// setPageHeaders sets the security headers of every page; they replace whatever the front
// handler set before (its default policy is for JSON answers).
func setPageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

// view names.
const (
	viewHome   = "home"
	viewRead   = "read"
	viewDecide = "decide"
	viewCode   = "code"
	viewDone   = "done"
	viewError  = "error"
)

// pageData is what the templates see.
type pageData struct {
	Lang      string
	Langs     []pages.LangLink
	Assets    string
	View      string
	Viewer    bool
	State     *ceremony.SignerView
	Doc       *ceremony.DocumentView // the reader's document
	Config    clientConfig
	ErrorKey  string
	Completed bool
	ResendIn  int
	cat       pages.Catalog
}

// clientConfig is handed to the page's script as JSON.
type clientConfig struct {
	Lang     string               `json:"lang"`
	View     string               `json:"view"`
	CSRF     string               `json:"csrf"`
	Doc      int                  `json:"doc,omitempty"`
	DwellMS  int64                `json:"dwell_ms"`
	Assets   string               `json:"assets"`
	Viewer   bool                 `json:"viewer"`
	State    *ceremony.SignerView `json:"state,omitempty"`
	Messages pages.Catalog        `json:"messages"`
}

// T translates key with named arguments: T "read.progress" "page" 3 "total" 12.
func (p *pageData) T(key string, args ...any) string { return p.cat.Format(key, args...) }

// page renders the view the signer's state and the query ask for.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	lang := h.chooseLang(w, r)
	c, err := r.Cookie(signer.CookieName)
	if err != nil {
		h.renderError(w, r, lang, http.StatusUnauthorized, "err.no_session")
		return
	}
	ref, err := h.opt.Service.SessionFor(r.Context(), c.Value)
	if err != nil {
		h.stateError(w, r, lang, err)
		return
	}
	st, err := h.opt.Service.State(r.Context(), ref)
	if err != nil {
		h.stateError(w, r, lang, err)
		return
	}
	if lang == "" {
		lang = pages.Supported(st.Signer.Locale)
	}
	if lang == "" {
		lang = pages.FromAcceptLanguage(r.Header.Get("Accept-Language"))
	}
	d := h.data(r, lang, chooseView(st, r.URL.Query().Get("v")))
	d.State = st
	d.Config.CSRF = ref.CSRF
	d.Config.State = st
	d.Completed = st.Envelope.Status == ceremony.StatusCompleted
	if d.View == viewRead {
		n := st.Current
		if q, err := strconv.Atoi(r.URL.Query().Get("doc")); err == nil && q >= 1 && q <= len(st.Documents) && st.Documents[q-1].Accessible {
			n = q
		}
		if n == 0 {
			n = 1
		}
		d.Doc = &st.Documents[n-1]
		d.Config.Doc = n
	}
	if st.Code != nil && !st.Code.ResendAfter.IsZero() {
		d.ResendIn = max(0, int(st.Code.ResendAfter.Sub(h.opt.Now()).Round(time.Second)/time.Second))
	}
	h.render(w, r, http.StatusOK, d)
}

// chooseView picks the view: the end once the signer or the envelope is finished, the code once
// the signer chose to sign, otherwise what the query asks (home by default).
func chooseView(st *ceremony.SignerView, asked string) string {
	switch {
	case st.Envelope.Status.Terminal(),
		st.Signer.Status == ceremony.SignerSigned, st.Signer.Status == ceremony.SignerRefused, st.Signer.Status == ceremony.SignerSigning:
		return viewDone
	case st.Signer.Status == ceremony.SignerLocked, st.Consent != nil && st.Consent.Given:
		return viewCode
	case asked == viewRead || asked == viewDecide:
		return asked
	}
	return viewHome
}

func (h *Handler) data(r *http.Request, lang, view string) *pageData {
	d := &pageData{Lang: lang, Assets: h.AssetBase(), View: view, Viewer: h.viewer, cat: h.catalogs[lang]}
	d.Langs = pages.LangLinks(h.catalogs, r, lang, "/s/?", "v", "doc", "lang")
	d.Config = clientConfig{Lang: lang, View: view, DwellMS: h.opt.ReadDwell.Milliseconds(), Assets: d.Assets, Viewer: h.viewer, Messages: h.catalogs[lang]}
	return d
}

func (h *Handler) stateError(w http.ResponseWriter, r *http.Request, lang string, err error) {
	if e, ok := ceremony.AsError(err); ok && e.Status == http.StatusUnauthorized {
		h.renderError(w, r, lang, http.StatusUnauthorized, "err.link_invalid")
		return
	}
	h.log.Error("signerui: cannot load the signer's state", "err", err)
	h.renderError(w, r, lang, http.StatusInternalServerError, "err.generic")
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, lang string, status int, key string) {
	if lang == "" {
		lang = pages.FromAcceptLanguage(r.Header.Get("Accept-Language"))
	}
	d := h.data(r, lang, viewError)
	d.ErrorKey = key
	h.render(w, r, status, d)
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, d *pageData) {
	var b strings.Builder
	if err := h.tmpl.ExecuteTemplate(&b, "layout.html", d); err != nil {
		h.log.Error("signerui: render", "view", d.View, "err", err)
		setPageHeaders(w)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
}

// chooseLang applies ?lang= (remembered in a cookie) or the remembered choice; "" when neither.
func (h *Handler) chooseLang(w http.ResponseWriter, r *http.Request) string {
	return pages.LangCookie{Name: LangCookie, Path: "/s/", Secure: h.opt.Secure}.Chosen(w, r)
}

// DocState is the catalog key of a document's state as the signer sees it.
func (p *pageData) DocState(d ceremony.DocumentView) string {
	switch {
	case d.Signed && p.State != nil && (p.State.Signer.Status == ceremony.SignerSigned || p.Completed):
		return "doc.signed"
	case !d.Accessible:
		return "doc.locked"
	case d.Complete:
		return "doc.read"
	case len(d.PagesRead) > 0:
		return "doc.reading"
	}
	return "doc.toread"
}

// PageCount is "1 page" or "n pages".
func (p *pageData) PageCount(n int) string {
	if n == 1 {
		return p.T("doc.page")
	}
	return p.T("doc.pages", "n", n)
}

// LastDoc reports whether the reader shows the last document.
func (p *pageData) LastDoc() bool { return p.Doc != nil && p.Doc.Number == len(p.State.Documents) }

// NextAllowed reports whether the reader's action (next document, or the decision) is open.
func (p *pageData) NextAllowed() bool {
	if p.Doc == nil {
		return false
	}
	if p.LastDoc() {
		return p.State.ReadyToDecide
	}
	return p.State.Documents[p.Doc.Number].Accessible
}

// Started reports whether the signer has read anything yet.
func (p *pageData) Started() bool {
	for _, d := range p.State.Documents {
		if len(d.PagesRead) > 0 {
			return true
		}
	}
	return false
}
