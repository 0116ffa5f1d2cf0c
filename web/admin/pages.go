package admin

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/web/api"
	"github.com/paraphe/paraphe/web/pages"
)

//go:embed static templates messages
var embedded embed.FS

// CSP is the Content-Security-Policy of every page: the one of the signer's pages (package
// web/signerui), with images from this origin for the organisation's logo. pdf.js, its worker
// and its decoders come from this origin; nothing is inline.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// LangCookie keeps the language chosen with the switcher.
const LangCookie = "paraphe_admin_lang"

type pageSet struct {
	tmpl     *template.Template
	catalogs map[string]pages.Catalog
	static   fs.FS
	version  string
}

func loadPages() (*pageSet, error) {
	cats, err := pages.LoadCatalogs(embedded, "admin")
	if err != nil {
		return nil, err
	}
	p := &pageSet{catalogs: cats}
	p.tmpl, err = template.New("").Funcs(template.FuncMap{
		"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"date": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	}).ParseFS(embedded, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("admin: templates: %w", err)
	}
	if p.static, err = fs.Sub(embedded, "static"); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if p.version, err = pages.Version(p.static); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return p, nil
}

var contentTypes = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

// asset serves a static file under a content-addressed path, cacheable for good.
func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if r.PathValue("version") != h.pages.version || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.pages.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	pages.WriteAsset(w, name, b, contentTypes, CSP)
}

// pageData is what the templates see.
type pageData struct {
	Lang     string
	Langs    []pages.LangLink
	Assets   string
	View     string
	User     *UserView
	Org      *Org
	Admin    bool
	Config   clientConfig
	ErrorKey string
	Viewer   bool

	Q, Status  string
	Statuses   []ceremony.Status
	Envelopes  []EnvelopeSummary
	Envelope   *EnvelopeDetail
	Users      []UserView
	Keys       []api.KeyInfo
	Templates  []TemplateSummary
	Mailer     bool
	WebhookURL string

	cat pages.Catalog
}

// clientConfig is handed to the page's script as JSON.
type clientConfig struct {
	Lang     string        `json:"lang"`
	View     string        `json:"view"`
	CSRF     string        `json:"csrf,omitempty"`
	PDFJS    string        `json:"pdfjs,omitempty"`
	Envelope string        `json:"envelope,omitempty"`
	Template string        `json:"template,omitempty"`
	Org      string        `json:"org,omitempty"` // the sender the preview shows
	Messages pages.Catalog `json:"messages"`
}

// T translates key with named arguments.
func (p *pageData) T(key string, args ...any) string { return p.cat.Format(key, args...) }

// StatusLabel is the translated name of an envelope or signer status.
func (p *pageData) StatusLabel(s any) string { return p.T(fmt.Sprintf("status.%v", s)) }

// EventLabel is the translated name of an event type.
func (p *pageData) EventLabel(t string) string { return p.T("event." + t) }

func (h *Handler) data(w http.ResponseWriter, r *http.Request, u *who, view string) *pageData {
	lang := h.lang(w, r)
	d := &pageData{Lang: lang, Assets: "/admin/assets/" + h.pages.version + "/", View: view, cat: h.pages.catalogs[lang],
		Viewer: h.opt.PDFJS != ""}
	d.Langs = pages.LangLinks(h.pages.catalogs, r, lang, r.URL.Path+"?", "q", "status", "template", "lang")
	d.Config = clientConfig{Lang: lang, View: view, Messages: d.cat, PDFJS: h.opt.PDFJS}
	if u != nil {
		uv := userView(u.user)
		d.User, d.Org, d.Admin = &uv, u.org, u.user.Role == RoleAdmin
		d.Config.CSRF = u.sess.CSRF
		d.Config.Org = u.org.Name
	}
	return d
}

// lang applies ?lang= (remembered in a cookie), then the cookie, then Accept-Language.
func (h *Handler) lang(w http.ResponseWriter, r *http.Request) string {
	if l := (pages.LangCookie{Name: LangCookie, Path: "/admin/", Secure: h.opt.Secure}).Chosen(w, r); l != "" {
		return l
	}
	return pages.FromAcceptLanguage(r.Header.Get("Accept-Language"))
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, d *pageData) {
	var b strings.Builder
	if err := h.pages.tmpl.ExecuteTemplate(&b, "layout.html", d); err != nil {
		h.log.Error("admin: render", "view", d.View, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(b.String()))
	}
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, u *who, status int, key string) {
	d := h.data(w, r, u, "error")
	d.ErrorKey = key
	h.render(w, r, status, d)
}

// pageLogin is the sign-in page; a signed-in user goes to the envelopes.
func (h *Handler) pageLogin(w http.ResponseWriter, r *http.Request) {
	if u, err := h.session(r); err == nil && u != nil {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, h.data(w, r, nil, "login"))
}

var listStatuses = []ceremony.Status{ceremony.StatusDraft, ceremony.StatusSent, ceremony.StatusCompleted, ceremony.StatusDeclined,
	ceremony.StatusExpired, ceremony.StatusVoided}

func (h *Handler) pageEnvelopes(w http.ResponseWriter, r *http.Request, u *who) {
	list, err := h.envelopes(r, u)
	if err != nil {
		h.log.Error("admin: list envelopes", "err", err)
		h.renderError(w, r, u, http.StatusInternalServerError, "err.generic")
		return
	}
	d := h.data(w, r, u, "envelopes")
	d.Envelopes, d.Q, d.Status, d.Statuses = list, r.URL.Query().Get("q"), r.URL.Query().Get("status"), listStatuses
	h.render(w, r, http.StatusOK, d)
}

func (h *Handler) pageEnvelope(w http.ResponseWriter, r *http.Request, u *who) {
	e, err := h.envelope(r, u)
	if err != nil {
		if ce, ok := ceremony.AsError(err); ok && ce.Status == http.StatusNotFound {
			h.renderError(w, r, u, http.StatusNotFound, "err.not_found")
			return
		}
		h.log.Error("admin: envelope page", "err", err)
		h.renderError(w, r, u, http.StatusInternalServerError, "err.generic")
		return
	}
	det, err := h.detail(r, e)
	if err != nil {
		h.log.Error("admin: envelope page", "err", err)
		h.renderError(w, r, u, http.StatusInternalServerError, "err.generic")
		return
	}
	d := h.data(w, r, u, "envelope")
	d.Envelope = det
	d.Config.Envelope = e.ID
	h.render(w, r, http.StatusOK, d)
}

func (h *Handler) pagePrepare(w http.ResponseWriter, r *http.Request, u *who) {
	d := h.data(w, r, u, "prepare")
	d.Config.Template = r.URL.Query().Get("template")
	h.render(w, r, http.StatusOK, d)
}

func (h *Handler) pageTemplates(w http.ResponseWriter, r *http.Request, u *who) {
	list, err := h.templates(r, u)
	if err != nil {
		h.log.Error("admin: templates page", "err", err)
		h.renderError(w, r, u, http.StatusInternalServerError, "err.generic")
		return
	}
	d := h.data(w, r, u, "templates")
	d.Templates = list
	h.render(w, r, http.StatusOK, d)
}

func (h *Handler) pageUsers(w http.ResponseWriter, r *http.Request, u *who) {
	users, err := h.acc.Users(r.Context(), u.org.ID)
	if err != nil {
		h.log.Error("admin: users page", "err", err)
		h.renderError(w, r, u, http.StatusInternalServerError, "err.generic")
		return
	}
	d := h.data(w, r, u, "users")
	for i := range users {
		d.Users = append(d.Users, userView(&users[i]))
	}
	h.render(w, r, http.StatusOK, d)
}

func (h *Handler) pageSettings(w http.ResponseWriter, r *http.Request, u *who) {
	keys, err := api.Keys(r.Context(), h.opt.DB, u.owner())
	if err != nil {
		h.log.Error("admin: settings page", "err", err)
		h.renderError(w, r, u, http.StatusInternalServerError, "err.generic")
		return
	}
	d := h.data(w, r, u, "settings")
	d.Keys, d.Mailer, d.WebhookURL = keys, h.opt.Notifier != nil, u.org.WebhookURL
	h.render(w, r, http.StatusOK, d)
}

func (h *Handler) pageAccount(w http.ResponseWriter, r *http.Request, u *who) {
	h.render(w, r, http.StatusOK, h.data(w, r, u, "account"))
}
