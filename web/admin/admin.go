// Package admin serves the sender's web app under /admin/: organisations, users (admin and
// sender roles), sign-in with an optional TOTP second factor, the organisation's envelopes
// (prepare with fields placed on pages rendered by pdf.js, preview as each signer, send, follow
// their timeline, remind, void, download), its API keys and its settings, in French and English.
//
// It drives the same ceremony.Service as the sender API (package web/api): an envelope made
// here belongs to the organisation (owner "org:ID"), and so does every API key made here, so
// the API and the web app see the same envelopes.
//
// Guarantees:
//   - passwords are stored as argon2id hashes; a session is a 256-bit random secret in an
//     HttpOnly, SameSite=Strict cookie (Secure over TLS), stored as its SHA-256, ended by
//     logout, by idle and absolute timeouts, and when its user is disabled;
//   - sign-in failures are rate-limited per account (counted in the state store, so a restart
//     keeps a locked account locked) and per client address (in memory), and a limited
//     attempt is refused before the password is checked;
//   - a user sees and changes only their own organisation's envelopes, users, keys and
//     settings; another organisation's envelope does not exist for them (404);
//   - only admins manage users, API keys and settings;
//   - every state change needs the session's CSRF token in the X-CSRF-Token header and is
//     refused from another site (Sec-Fetch-Site, Origin); sign-in needs a JSON body;
//   - every page has a strict Content-Security-Policy (no inline script or style, no
//     third-party origin, no framing), escapes everything through html/template, and its
//     script only sets text content;
//   - no password, code, session secret or API key is logged.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/evidence"
)

// CookieName is the session cookie of the web app.
const CookieName = "paraphe_admin"

// CSRFHeader carries the session's CSRF token on every state change.
const CSRFHeader = "X-CSRF-Token"

// Pattern is the route the handler serves (net/http ServeMux syntax); mount it on the front.
const Pattern = "/admin/"

// Options configure the web app.
type Options struct {
	Service *ceremony.Service
	DB      *badger.DB
	// Accounts, when nil, is NewAccounts(DB) with default settings and Secrets.
	Accounts *Accounts
	// Secrets seals the second factors' and the organisations' webhook secrets in the state
	// store (see AccountsOptions.Secrets); used when Accounts is nil.
	Secrets ceremony.Secrets
	// Notifier, when set, lets admins send a test email and a test SMS from the settings.
	Notifier ceremony.Notifier
	// PDFJS is the URL path under which pdf.js is served (pdf.min.mjs and pdf.worker.min.mjs),
	// such as web/signerui's AssetBase()+"pdfjs/". Empty: the preparation page says that the
	// binary was built without the viewer.
	PDFJS string
	// Evidence, when set, builds the evidence bundles the envelope page offers for download
	// (the same builder as the sender API's).
	Evidence *evidence.Builder
	// Secure marks cookies Secure (set it when served over TLS).
	Secure bool
	Logger *slog.Logger
	Now    func() time.Time
	// MaxUpload bounds a new envelope's request body (default 100 MiB).
	MaxUpload int64
	// Sign-in failures allowed per account and per client address in LoginWindow before
	// further attempts are refused (defaults 5 and 20 in 15 minutes).
	LoginPerAccount, LoginPerIP int
	LoginWindow                 time.Duration
	// ReceiptWait bounds how long a step's answer waits for its ledger receipts (default 1 s).
	ReceiptWait time.Duration
}

// Handler is the web app.
type Handler struct {
	opt     Options
	acc     *Accounts
	log     *slog.Logger
	mux     *http.ServeMux
	pages   *pageSet
	byAcct  *storedLimiter // in the store: a restart keeps a locked account locked
	byIP    *limiter       // in memory: see storedLimiter
	version string
}

// New returns the web app's handler.
func New(opt Options) (*Handler, error) {
	if opt.Service == nil || opt.DB == nil {
		return nil, errors.New("admin: Service and DB are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxUpload <= 0 {
		opt.MaxUpload = 100 << 20
	}
	if opt.LoginPerAccount <= 0 {
		opt.LoginPerAccount = 5
	}
	if opt.LoginPerIP <= 0 {
		opt.LoginPerIP = 20
	}
	if opt.LoginWindow <= 0 {
		opt.LoginWindow = 15 * time.Minute
	}
	if opt.ReceiptWait <= 0 {
		opt.ReceiptWait = time.Second
	}
	acc := opt.Accounts
	if acc == nil {
		var err error
		if acc, err = NewAccounts(opt.DB, AccountsOptions{Now: opt.Now, Secrets: opt.Secrets}); err != nil {
			return nil, err
		}
	}
	h := &Handler{opt: opt, acc: acc, log: opt.Logger, byAcct: &storedLimiter{db: acc.db, max: opt.LoginPerAccount, window: opt.LoginWindow},
		byIP: newLimiter(opt.LoginPerIP, opt.LoginWindow)}
	var err error
	if h.pages, err = loadPages(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

// Accounts is the store of organisations, users and sessions.
func (h *Handler) Accounts() *Accounts { return h.acc }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	h.mux = m
	// Pages.
	m.HandleFunc("GET /admin/{$}", h.page("", h.pageEnvelopes))
	m.HandleFunc("GET /admin/login", h.pageLogin)
	m.HandleFunc("GET /admin/envelopes/new", h.page("", h.pagePrepare))
	m.HandleFunc("GET /admin/envelopes/{id}", h.page("", h.pageEnvelope))
	m.HandleFunc("GET /admin/templates", h.page("", h.pageTemplates))
	m.HandleFunc("GET /admin/users", h.page(RoleAdmin, h.pageUsers))
	m.HandleFunc("GET /admin/settings", h.page(RoleAdmin, h.pageSettings))
	m.HandleFunc("GET /admin/account", h.page("", h.pageAccount))
	m.HandleFunc("GET /admin/logo", h.page("", h.logo))
	m.HandleFunc("GET /admin/assets/{version}/{file...}", h.asset)
	// Sign-in.
	m.HandleFunc("POST /admin/api/login", h.login)
	m.HandleFunc("POST /admin/api/logout", h.change("", h.logout))
	m.HandleFunc("GET /admin/api/me", h.read("", h.me))
	m.HandleFunc("POST /admin/api/password", h.change("", h.password))
	m.HandleFunc("POST /admin/api/totp/begin", h.change("", h.totpBegin))
	m.HandleFunc("POST /admin/api/totp/confirm", h.change("", h.totpConfirm))
	m.HandleFunc("POST /admin/api/totp/disable", h.change("", h.totpDisable))
	// Envelopes.
	m.HandleFunc("GET /admin/api/envelopes", h.read("", h.listEnvelopes))
	m.HandleFunc("POST /admin/api/envelopes", h.change("", h.createEnvelope))
	m.HandleFunc("GET /admin/api/envelopes/{id}", h.read("", h.getEnvelope))
	m.HandleFunc("POST /admin/api/envelopes/{id}/send", h.change("", h.sendEnvelope))
	m.HandleFunc("POST /admin/api/envelopes/{id}/void", h.change("", h.voidEnvelope))
	m.HandleFunc("POST /admin/api/envelopes/{id}/remind", h.change("", h.remindEnvelope))
	m.HandleFunc("GET /admin/api/envelopes/{id}/documents/{doc}", h.read("", h.document))
	m.HandleFunc("GET /admin/api/envelopes/{id}/evidence", h.read("", h.evidence))
	m.HandleFunc("GET /admin/api/envelopes/{id}/preview", h.read("", h.preview))
	m.HandleFunc("GET /admin/api/envelopes/{id}/preview/documents/{n}", h.read("", h.previewDocument))
	// Templates.
	m.HandleFunc("GET /admin/api/templates", h.read("", h.listTemplates))
	m.HandleFunc("POST /admin/api/templates", h.change("", h.createTemplate))
	m.HandleFunc("GET /admin/api/templates/{id}", h.read("", h.getTemplate))
	m.HandleFunc("GET /admin/api/templates/{id}/documents/{n}", h.read("", h.templateDocument))
	m.HandleFunc("POST /admin/api/templates/{id}/delete", h.change("", h.deleteTemplate))
	// Administration.
	m.HandleFunc("GET /admin/api/users", h.read(RoleAdmin, h.listUsers))
	m.HandleFunc("POST /admin/api/users", h.change(RoleAdmin, h.createUser))
	m.HandleFunc("POST /admin/api/users/{id}/disable", h.change(RoleAdmin, h.disableUser))
	m.HandleFunc("POST /admin/api/users/{id}/enable", h.change(RoleAdmin, h.enableUser))
	m.HandleFunc("GET /admin/api/keys", h.read(RoleAdmin, h.listKeys))
	m.HandleFunc("POST /admin/api/keys", h.change(RoleAdmin, h.createKey))
	m.HandleFunc("POST /admin/api/keys/{id}/revoke", h.change(RoleAdmin, h.revokeKey))
	m.HandleFunc("POST /admin/api/settings/branding", h.change(RoleAdmin, h.branding))
	m.HandleFunc("POST /admin/api/settings/webhook", h.change(RoleAdmin, h.webhook))
	m.HandleFunc("POST /admin/api/settings/test-email", h.change(RoleAdmin, h.testEmail))
	m.HandleFunc("POST /admin/api/settings/test-sms", h.change(RoleAdmin, h.testSMS))
	m.HandleFunc("/admin/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	m.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	})
}

// who is the signed-in user of a request.
type who struct {
	secret string
	sess   *Session
	user   *User
	org    *Org
}

func (u *who) owner() string { return OwnerOf(u.org.ID) }

type authed func(w http.ResponseWriter, r *http.Request, u *who)

// session finds the request's live session, or nil.
func (h *Handler) session(r *http.Request) (*who, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil, nil
	}
	s, u, err := h.acc.Session(r.Context(), c.Value)
	if errors.Is(err, ErrNoSession) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	org, err := h.acc.Org(r.Context(), u.Org)
	if err != nil {
		return nil, err
	}
	return &who{secret: c.Value, sess: s, user: u, org: org}, nil
}

func allowed(u *User, role Role) bool { return role == "" || u.Role == RoleAdmin || u.Role == role }

// page guards a page: without a session it sends the browser to the sign-in page.
func (h *Handler) page(role Role, next authed) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := h.session(r)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		if u == nil {
			h.clearCookie(w)
			http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
			return
		}
		if !allowed(u.user, role) {
			h.renderError(w, r, u, http.StatusForbidden, "err.forbidden")
			return
		}
		next(w, r, u)
	}
}

// read guards a JSON read.
func (h *Handler) read(role Role, next authed) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := h.session(r)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		if u == nil {
			writeError(w, http.StatusUnauthorized, "unauthorized", "sign in first")
			return
		}
		if !allowed(u.user, role) {
			writeError(w, http.StatusForbidden, "forbidden", "this needs the admin role")
			return
		}
		next(w, r, u)
	}
}

// sameSite refuses requests that a browser marks as coming from another site.
func sameSite(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// change guards a state change: same site, a session, the role, then the CSRF token.
func (h *Handler) change(role Role, next authed) http.HandlerFunc {
	return h.read(role, func(w http.ResponseWriter, r *http.Request, u *who) {
		if !sameSite(r) {
			writeError(w, http.StatusForbidden, "cross_site", "state changes are accepted from this site only")
			return
		}
		tok := r.Header.Get(CSRFHeader)
		if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(u.sess.CSRF)) != 1 {
			writeError(w, http.StatusForbidden, "csrf", "the request lacks this session's CSRF token")
			return
		}
		next(w, r, u)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the JSON body of every error.
type apiError struct {
	Code     string             `json:"code"`
	Message  string             `json:"message"`
	Problems []ceremony.Problem `json:"problems,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": apiError{Code: code, Message: msg}})
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("admin: internal error", "route", r.Pattern, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error")
}

// fail answers with a rule error's own status, a validation error's problems, or a 500.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *ceremony.ValidationError
	if errors.As(err, &ve) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": apiError{Code: "invalid_envelope", Message: ve.Error(), Problems: ve.Problems}})
		return
	}
	if e, ok := ceremony.AsError(err); ok {
		writeError(w, e.Status, e.Code, e.Message)
		return
	}
	h.internal(w, r, err)
}

// decode reads a small strict JSON body.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", "the body is not the expected JSON: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad_json", "the body has data after its JSON value")
		return false
	}
	return true
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) setCookie(w http.ResponseWriter, secret string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: secret, Path: "/admin/", HttpOnly: true, Secure: h.opt.Secure,
		SameSite: http.SameSiteStrictMode})
}

func (h *Handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/admin/", MaxAge: -1, HttpOnly: true, Secure: h.opt.Secure,
		SameSite: http.SameSiteStrictMode})
}

// LoginRequest is the body of POST /admin/api/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTP     string `json:"totp,omitempty"`
}

// login signs in. Attempts are limited per account and per address before anything is
// checked; every failure counts against both.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameSite(r) {
		writeError(w, http.StatusForbidden, "cross_site", "sign in from this site")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "bad_content_type", "send JSON")
		return
	}
	var body LoginRequest
	if !decode(w, r, &body) {
		return
	}
	now := h.opt.Now()
	acct, ip := strings.ToLower(strings.TrimSpace(body.Email)), clientIP(r)
	blockedAcct, waitAcct, err := h.byAcct.blocked(acct, now)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	blockedIP, waitIP := h.byIP.blocked(ip, now)
	if blockedAcct || blockedIP {
		w.Header().Set("Retry-After", strconv.Itoa(int(max(waitAcct, waitIP)/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed sign-in attempts; try again later")
		return
	}
	u, err := h.acc.Authenticate(r.Context(), body.Email, body.Password, body.TOTP)
	switch {
	case errors.Is(err, ErrTOTPRequired):
		writeError(w, http.StatusUnauthorized, "totp_required", "enter the code of your authenticator app")
		return
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrBadTOTP):
		if err := h.byAcct.fail(acct, now); err != nil {
			h.internal(w, r, err)
			return
		}
		h.byIP.fail(ip, now)
		code := "bad_credentials"
		if errors.Is(err, ErrBadTOTP) {
			code = "bad_totp"
		}
		writeError(w, http.StatusUnauthorized, code, "wrong email, password or code")
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	if err := h.byAcct.reset(acct); err != nil {
		h.internal(w, r, err)
		return
	}
	secret, s, err := h.acc.NewSession(r.Context(), u)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.setCookie(w, secret)
	h.log.Info("admin: signed in", "user", u.ID, "org", u.Org)
	writeJSON(w, http.StatusOK, map[string]any{"csrf_token": s.CSRF, "user": userView(u)})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, u *who) {
	if err := h.acc.EndSession(r.Context(), u.secret); err != nil {
		h.internal(w, r, err)
		return
	}
	h.clearCookie(w)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// UserView is a user as the web app shows it.
type UserView struct {
	ID       string    `json:"id"`
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Created  time.Time `json:"created"`
	Disabled bool      `json:"disabled"`
	TOTP     bool      `json:"totp"`
}

func userView(u *User) UserView {
	return UserView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Created: u.Created, Disabled: u.Disabled, TOTP: len(u.TOTP) > 0}
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request, u *who) {
	writeJSON(w, http.StatusOK, map[string]any{"user": userView(u.user), "organisation": map[string]string{"id": u.org.ID, "name": u.org.Name},
		"csrf_token": u.sess.CSRF})
}

func (h *Handler) password(w http.ResponseWriter, r *http.Request, u *who) {
	var body struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if !decode(w, r, &body) {
		return
	}
	if !verifyPassword(u.user.Password, body.Current) {
		writeError(w, http.StatusForbidden, "bad_credentials", "the current password is wrong")
		return
	}
	if msg := CheckPassword(body.New); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "weak_password", msg)
		return
	}
	if err := h.acc.SetPassword(r.Context(), u.org.ID, u.user.ID, body.New); err != nil {
		h.internal(w, r, err)
		return
	}
	// Every other session of the user ends; this one goes on with a fresh secret.
	if err := h.acc.EndUserSessions(r.Context(), u.user.ID); err != nil {
		h.internal(w, r, err)
		return
	}
	secret, s, err := h.acc.NewSession(r.Context(), u.user)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.setCookie(w, secret)
	writeJSON(w, http.StatusOK, map[string]any{"csrf_token": s.CSRF})
}

func (h *Handler) totpBegin(w http.ResponseWriter, r *http.Request, u *who) {
	secret, err := h.acc.BeginTOTP(r.Context(), u.org.ID, u.user.ID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	uri := TOTPURI(secret, "Paraphe", u.user.Email)
	qr, err := TOTPQR(uri)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"secret": TOTPSecretText(secret), "uri": uri, "qr": qr})
}

func (h *Handler) totpConfirm(w http.ResponseWriter, r *http.Request, u *who) {
	var body struct {
		Code string `json:"code"`
	}
	if !decode(w, r, &body) {
		return
	}
	switch err := h.acc.ConfirmTOTP(r.Context(), u.org.ID, u.user.ID, strings.TrimSpace(body.Code)); {
	case errors.Is(err, ErrBadTOTP):
		writeError(w, http.StatusUnprocessableEntity, "bad_totp", "this code is not right; check the time of your device")
	case err != nil:
		h.internal(w, r, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"totp": true})
	}
}

func (h *Handler) totpDisable(w http.ResponseWriter, r *http.Request, u *who) {
	var body struct {
		Password string `json:"password"`
	}
	if !decode(w, r, &body) {
		return
	}
	if !verifyPassword(u.user.Password, body.Password) {
		writeError(w, http.StatusForbidden, "bad_credentials", "the password is wrong")
		return
	}
	if err := h.acc.DisableTOTP(r.Context(), u.org.ID, u.user.ID); err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"totp": false})
}
