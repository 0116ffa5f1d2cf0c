// Package signer serves the signer's ceremony protocol under /s/: the link exchange
// (GET /s/{token}) and the JSON endpoints under /s/api/ that the ceremony pages use.
//
// Guarantees: the link token is exchanged on first use for a session cookie (HttpOnly,
// SameSite=Strict, Path=/s/) and never needed again; every state change needs the session's
// CSRF token in the X-CSRF-Token header and is refused from another site; every rule violation
// is a 4xx with a machine-readable code and changes nothing; a step is acknowledged only after
// its ledger event is durable, and its answer carries the event's receipt once sequenced (or
// its id, to fetch the receipt later).
package signer

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/evidence"
)

// CookieName is the session cookie.
const CookieName = "paraphe_session"

// CSRFHeader carries the session's CSRF token on every state change.
const CSRFHeader = "X-CSRF-Token"

// Options configure the signer handler.
type Options struct {
	Service *ceremony.Service
	Logger  *slog.Logger
	// Secure marks the cookie Secure (set it whenever the appliance is served over TLS).
	Secure bool
	// ReceiptWait bounds how long a step's answer waits for its receipts (default 1 s).
	ReceiptWait time.Duration
	// Page, when set, serves the browser pages (package web/signerui): GET /s/ after the link
	// exchange, and their static files under GET /s/assets/.
	Page http.Handler
	// Evidence, when set, serves GET /s/api/evidence: the signer's evidence bundle once the
	// envelope is finished.
	Evidence *evidence.Builder
}

type handler struct {
	opt Options
	log *slog.Logger
}

// New returns the handler of /s/….
func New(opt Options) http.Handler {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.ReceiptWait == 0 {
		opt.ReceiptWait = time.Second
	}
	h := &handler{opt: opt, log: opt.Logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /s/{token}", h.exchange)
	mux.HandleFunc("GET /s/api/state", h.session(h.state))
	mux.HandleFunc("GET /s/api/documents/{n}", h.session(h.document))
	mux.HandleFunc("POST /s/api/documents/{n}/pages/{p}/read", h.change(h.readPage))
	mux.HandleFunc("POST /s/api/fields", h.change(h.fields))
	mux.HandleFunc("POST /s/api/refuse", h.change(h.refuse))
	mux.HandleFunc("POST /s/api/sign", h.change(h.sign))
	mux.HandleFunc("POST /s/api/code", h.change(h.resend))
	mux.HandleFunc("POST /s/api/code/verify", h.change(h.verify))
	mux.HandleFunc("GET /s/api/receipts/{event}", h.session(h.receipt))
	mux.HandleFunc("GET /s/api/logo", h.session(h.logo))
	if opt.Evidence != nil {
		mux.HandleFunc("GET /s/api/evidence", h.session(h.evidence))
	}
	if opt.Page != nil {
		mux.Handle("GET /s/{$}", opt.Page)
		mux.Handle("GET /s/assets/", opt.Page)
	}
	mux.HandleFunc("/s/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &ceremony.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such route"})
	})
	return noStore(mux)
}

func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *ceremony.Error) {
	if ra, ok := e.Detail["retry_after"].(int); ok {
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	writeJSON(w, e.Status, map[string]any{"error": e})
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := ceremony.AsError(err); ok {
		if e.Status >= http.StatusInternalServerError {
			h.log.Error("signer: "+e.Code, "route", r.Pattern, "err", err)
		}
		writeError(w, e)
		return
	}
	h.log.Error("signer: internal error", "route", r.Pattern, "err", err)
	writeError(w, &ceremony.Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func wantsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "application/json" {
			return true
		}
	}
	return false
}

// exchange turns the link's token into a session cookie. Browsers are redirected to /s/ so that
// the token leaves the address bar; JSON clients get the state and the CSRF token.
func (h *handler) exchange(w http.ResponseWriter, r *http.Request) {
	sess, evs, err := h.opt.Service.OpenLink(r.Context(), r.PathValue("token"), clientIP(r), r.UserAgent())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: sess.Secret, Path: "/s/", Expires: sess.Expires,
		HttpOnly: true, Secure: h.opt.Secure, SameSite: http.SameSiteStrictMode})
	if !wantsJSON(r) {
		http.Redirect(w, r, "/s/", http.StatusSeeOther)
		return
	}
	h.reply(w, r, &sess.Ref, evs, http.StatusOK)
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef)

func (h *handler) session(next sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(CookieName)
		if err != nil {
			writeError(w, &ceremony.Error{Status: http.StatusUnauthorized, Code: "no_session", Message: "open the link you received by email first"})
			return
		}
		ref, err := h.opt.Service.SessionFor(r.Context(), c.Value)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next(w, r, ref)
	}
}

// change guards a state change: same-site only, the CSRF token, then the session.
func (h *handler) change(next sessionHandler) http.HandlerFunc {
	return h.session(func(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			writeError(w, &ceremony.Error{Status: http.StatusForbidden, Code: "cross_site", Message: "state changes are accepted from this site only"})
			return
		}
		if err := ref.CheckCSRF(r.Header.Get(CSRFHeader)); err != nil {
			h.fail(w, r, err)
			return
		}
		next(w, r, ref)
	})
}

// reply answers a step: the events with their receipts (or pending), the signer's state and
// the CSRF token.
func (h *handler) reply(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef, evs []ceremony.Event, status int) {
	st, err := h.opt.Service.State(r.Context(), ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	refs := h.opt.Service.Receipts(r.Context(), evs, h.opt.ReceiptWait)
	if refs == nil {
		refs = []ceremony.EventRef{}
	}
	writeJSON(w, status, map[string]any{"events": refs, "state": st, "csrf_token": ref.CSRF})
}

// stepReply answers a step that may have recorded events and still failed (a wrong code).
func (h *handler) stepReply(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef, evs []ceremony.Event, err error) {
	if err == nil {
		h.reply(w, r, ref, evs, http.StatusOK)
		return
	}
	e, ok := ceremony.AsError(err)
	if !ok {
		h.fail(w, r, err)
		return
	}
	if len(evs) == 0 {
		writeError(w, e)
		return
	}
	refs := h.opt.Service.Receipts(r.Context(), evs, h.opt.ReceiptWait)
	writeJSON(w, e.Status, map[string]any{"error": e, "events": refs})
}

func (h *handler) state(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	h.reply(w, r, ref, nil, http.StatusOK)
}

func pathInt(r *http.Request, name string) (int, *ceremony.Error) {
	v, err := strconv.Atoi(r.PathValue(name))
	if err != nil || v < 1 || v > 1_000_000 {
		return 0, &ceremony.Error{Status: http.StatusBadRequest, Code: "bad_path", Message: name + " must be a positive number"}
	}
	return v, nil
}

func (h *handler) document(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	n, perr := pathInt(r, "n")
	if perr != nil {
		writeError(w, perr)
		return
	}
	d, b, err := h.opt.Service.DocumentPDF(r.Context(), ref, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": d.ID + ".pdf"}))
	w.Header().Set("Digest", "sha-256="+d.Current)
	_, _ = w.Write(b)
}

func (h *handler) readPage(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	n, perr := pathInt(r, "n")
	if perr == nil {
		var p int
		if p, perr = pathInt(r, "p"); perr == nil {
			evs, err := h.opt.Service.ReadPage(r.Context(), ref, n, p)
			h.stepReply(w, r, ref, evs, err)
			return
		}
	}
	writeError(w, perr)
}

// decode reads a small strict JSON body.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := DecodeStrict(http.MaxBytesReader(w, r.Body, 64<<10), v)
	if err != nil {
		writeError(w, &ceremony.Error{Status: http.StatusBadRequest, Code: "bad_json", Message: err.Error()})
		return false
	}
	return true
}

// DecodeStrict decodes exactly one JSON value into v, refusing unknown fields and trailing data.
func DecodeStrict(rd io.Reader, v any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("the body is not the expected JSON: " + err.Error())
	}
	if dec.More() {
		return errors.New("the body has data after its JSON value")
	}
	return nil
}

// FieldsRequest is the body of POST /s/api/fields.
type FieldsRequest struct {
	Values map[string]string `json:"values"`
}

// RefuseRequest is the body of POST /s/api/refuse.
type RefuseRequest struct {
	Reason string `json:"reason"`
}

// SignRequest is the body of POST /s/api/sign.
type SignRequest struct {
	ConsentDigest string `json:"consent_digest"`
}

// VerifyRequest is the body of POST /s/api/code/verify.
type VerifyRequest struct {
	Code string `json:"code"`
}

func (h *handler) fields(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	var body FieldsRequest
	if !decode(w, r, &body) {
		return
	}
	evs, err := h.opt.Service.SetFields(r.Context(), ref, body.Values)
	h.stepReply(w, r, ref, evs, err)
}

func (h *handler) refuse(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	var body RefuseRequest
	if !decode(w, r, &body) {
		return
	}
	evs, err := h.opt.Service.Refuse(r.Context(), ref, body.Reason)
	h.stepReply(w, r, ref, evs, err)
}

func (h *handler) sign(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	var body SignRequest
	if !decode(w, r, &body) {
		return
	}
	evs, err := h.opt.Service.ChooseSign(r.Context(), ref, body.ConsentDigest)
	h.stepReply(w, r, ref, evs, err)
}

func (h *handler) resend(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	evs, err := h.opt.Service.SendCode(r.Context(), ref)
	h.stepReply(w, r, ref, evs, err)
}

func (h *handler) verify(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	var body VerifyRequest
	if !decode(w, r, &body) {
		return
	}
	evs, err := h.opt.Service.VerifyCode(r.Context(), ref, body.Code)
	h.stepReply(w, r, ref, evs, err)
}

func (h *handler) receipt(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	ev, rec, err := h.opt.Service.EventReceipt(r.Context(), r.PathValue("event"))
	if err == nil && ev.Envelope != ref.Envelope {
		err = &ceremony.Error{Status: http.StatusNotFound, Code: "event_not_found", Message: "no such event"}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"event": ev.ID, "type": ev.Type, "pending": rec == nil, "receipt": rec})
}

// logo serves the logo of the organisation that sent the session's envelope (and no other): a
// PNG or JPEG image under its own content type, never rendered as a document.
func (h *handler) logo(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	b, ct, err := h.opt.Service.Logo(r.Context(), ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ct)
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	_, _ = w.Write(b)
}

// evidence serves the signer's own evidence bundle (their clear values; the other parties'
// names and emails) once the envelope is finished.
func (h *handler) evidence(w http.ResponseWriter, r *http.Request, ref *ceremony.SignerRef) {
	in, err := h.opt.Service.EvidenceInput(r.Context(), ref.Envelope, ref.Signer)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := h.opt.Evidence.Build(r.Context(), in)
	if err != nil {
		h.log.Error("signer: evidence bundle", "envelope", ref.Envelope, "err", err)
		writeError(w, &ceremony.Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"})
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "evidence-" + ref.Envelope + "-" + ref.Signer + ".zip"}))
	_, _ = w.Write(b)
}
