package admin

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/web/api"
)

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, u *who) {
	users, err := h.acc.Users(r.Context(), u.org.ID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	out := []UserView{}
	for i := range users {
		out = append(out, userView(&users[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// CreateUserRequest is the body of POST /admin/api/users.
type CreateUserRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, u *who) {
	var body CreateUserRequest
	if !decode(w, r, &body) {
		return
	}
	if msg := CheckPassword(body.Password); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, "weak_password", msg)
		return
	}
	nu, err := h.acc.CreateUser(r.Context(), NewUser{Org: u.org.ID, Email: strings.TrimSpace(body.Email), Name: strings.TrimSpace(body.Name),
		Role: body.Role, Password: body.Password})
	switch {
	case errors.Is(err, ErrExists):
		writeError(w, http.StatusConflict, "user_exists", "a user with this email already exists")
		return
	case err != nil:
		writeError(w, http.StatusUnprocessableEntity, "invalid_user", strings.TrimPrefix(err.Error(), "admin: "))
		return
	}
	h.log.Info("admin: user created", "user", nu.ID, "role", string(nu.Role), "by", u.user.ID)
	writeJSON(w, http.StatusCreated, userView(nu))
}

func (h *Handler) setDisabled(w http.ResponseWriter, r *http.Request, u *who, disabled bool) {
	id := r.PathValue("id")
	if id == u.user.ID {
		writeError(w, http.StatusConflict, "self", "you cannot disable yourself")
		return
	}
	nu, err := h.acc.UpdateUser(r.Context(), u.org.ID, id, func(x *User) error { x.Disabled = disabled; return nil })
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "user_not_found", "no such user")
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if disabled {
		if err := h.acc.EndUserSessions(r.Context(), id); err != nil {
			h.internal(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, userView(nu))
}

func (h *Handler) disableUser(w http.ResponseWriter, r *http.Request, u *who) {
	h.setDisabled(w, r, u, true)
}
func (h *Handler) enableUser(w http.ResponseWriter, r *http.Request, u *who) {
	h.setDisabled(w, r, u, false)
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request, u *who) {
	keys, err := api.Keys(r.Context(), h.opt.DB, u.owner())
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if keys == nil {
		keys = []api.KeyInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// createKey makes an API key of the organisation and shows it once.
func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, u *who) {
	var body struct {
		Name string `json:"name"`
	}
	if !decode(w, r, &body) {
		return
	}
	name := strings.TrimSpace(body.Name)
	if err := checkName("a key's name", name, 100); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_name", strings.TrimPrefix(err.Error(), "admin: "))
		return
	}
	info, key, err := api.CreateKey(r.Context(), h.opt.DB, u.owner(), name)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.log.Info("admin: API key created", "key", info.ID, "by", u.user.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"key": info, "secret": key})
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request, u *who) {
	err := api.RevokeKey(r.Context(), h.opt.DB, u.owner(), r.PathValue("id"))
	if errors.Is(err, api.ErrNoSuchKey) {
		writeError(w, http.StatusNotFound, "key_not_found", "no such key")
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	h.log.Info("admin: API key revoked", "key", r.PathValue("id"), "by", u.user.ID)
	writeJSON(w, http.StatusOK, map[string]any{"revoked": true})
}

// branding sets the organisation's name and logo: a multipart body with "name" and an optional
// "logo" file (PNG or JPEG, at most 256 KiB), or "remove_logo".
func (h *Handler) branding(w http.ResponseWriter, r *http.Request, u *who) {
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		writeError(w, http.StatusBadRequest, "bad_multipart", "send multipart/form-data with name and logo")
		return
	}
	name := strings.TrimSpace(r.FormValue("name"))
	if err := checkName("the organisation's name", name, 200); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_name", strings.TrimPrefix(err.Error(), "admin: "))
		return
	}
	var logo []byte
	var ctype string
	if f, _, err := r.FormFile("logo"); err == nil {
		defer f.Close()
		logo, err = io.ReadAll(io.LimitReader(f, 256<<10+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_multipart", "cannot read the logo")
			return
		}
		switch {
		case len(logo) > 256<<10:
			writeError(w, http.StatusUnprocessableEntity, "logo_too_large", "the logo must be at most 256 KiB")
			return
		case bytes.HasPrefix(logo, []byte("\x89PNG\r\n\x1a\n")):
			ctype = "image/png"
		case bytes.HasPrefix(logo, []byte{0xff, 0xd8, 0xff}):
			ctype = "image/jpeg"
		default:
			writeError(w, http.StatusUnprocessableEntity, "logo_type", "the logo must be a PNG or JPEG image")
			return
		}
	}
	remove := r.FormValue("remove_logo") != ""
	_, err := h.acc.UpdateOrg(r.Context(), u.org.ID, func(o *Org) error {
		o.Name = name
		if logo != nil {
			o.Logo, o.LogoType = logo, ctype
		} else if remove {
			o.Logo, o.LogoType = nil, ""
		}
		return nil
	})
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "logo": logo != nil || (!remove && len(u.org.Logo) > 0)})
}

// logo serves the organisation's logo.
func (h *Handler) logo(w http.ResponseWriter, r *http.Request, u *who) {
	if len(u.org.Logo) == 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", u.org.LogoType)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	_, _ = w.Write(u.org.Logo)
}

// webhook sets the webhook added to every envelope prepared in the web app.
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request, u *who) {
	var body struct {
		URL    string `json:"url"`
		Secret string `json:"secret"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.URL != "" {
		p, err := url.Parse(body.URL)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			writeError(w, http.StatusUnprocessableEntity, "invalid_webhook", "the webhook must be an http or https URL")
			return
		}
		if len(body.Secret) < 16 || len(body.Secret) > 256 {
			writeError(w, http.StatusUnprocessableEntity, "invalid_webhook", "the secret must have 16 to 256 characters")
			return
		}
	}
	var sealed []byte
	if body.URL != "" {
		var err error
		if sealed, err = h.acc.SealWebhookSecret(u.org.ID, body.Secret); err != nil {
			h.internal(w, r, err)
			return
		}
	}
	_, err := h.acc.UpdateOrg(r.Context(), u.org.ID, func(o *Org) error {
		o.WebhookURL, o.WebhookSecret = body.URL, sealed
		return nil
	})
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": body.URL})
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// testEmail sends a test email to the signed-in admin through the appliance's mailer.
func (h *Handler) testEmail(w http.ResponseWriter, r *http.Request, u *who) {
	if h.opt.Notifier == nil {
		writeError(w, http.StatusNotFound, "no_notifier", "no mailer is configured")
		return
	}
	text := "Paraphe: this test message shows that the appliance can send email for " + u.org.Name + "."
	err := h.gateway(r.Context(), func(ctx context.Context) error {
		return h.opt.Notifier.SendEmail(ctx, ceremony.Email{To: u.user.Email, ToName: u.user.Name, Subject: "Paraphe — test",
			Text: text, HTML: "<p>" + html.EscapeString(text) + "</p>"})
	})
	if err != nil {
		writeError(w, http.StatusBadGateway, "send_failed", "the mail server did not accept the message: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sent_to": u.user.Email})
}

// testSMS sends a test SMS to the number given, through the appliance's SMS gateway.
func (h *Handler) testSMS(w http.ResponseWriter, r *http.Request, u *who) {
	if h.opt.Notifier == nil {
		writeError(w, http.StatusNotFound, "no_notifier", "no SMS gateway is configured")
		return
	}
	var body struct {
		Phone string `json:"phone"`
	}
	if !decode(w, r, &body) {
		return
	}
	if !e164.MatchString(body.Phone) {
		writeError(w, http.StatusUnprocessableEntity, "invalid_phone", "the number must be in E.164 form, such as +33612345678")
		return
	}
	err := h.gateway(r.Context(), func(ctx context.Context) error {
		return h.opt.Notifier.SendSMS(ctx, ceremony.SMS{To: body.Phone, Text: "Paraphe: test message for " + u.org.Name + "."})
	})
	if err != nil {
		writeError(w, http.StatusBadGateway, "send_failed", "the SMS gateway did not accept the message: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sent_to": body.Phone})
}

func (h *Handler) gateway(ctx context.Context, send func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return send(ctx)
}
