// Package api serves the sender API under /api/v1: creating, sending, following, voiding and
// reminding envelopes, downloading signed documents, webhook logs and, in development, the
// outbox.
//
// Guarantees: every request needs a bearer API key (stored as SHA-256, compared in constant
// time; a revoked key is refused); an envelope is visible only to the owner of the key that
// created it (a registered key's name, or the organisation of a key made with CreateKey, so that
// an organisation's keys and its web app users share its envelopes); a new envelope is validated
// completely (manifest, PDFs, fields, signers) before anything is stored and every problem is
// reported at once; errors are JSON with a machine-readable code.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/evidence"
)

// Options configure the API handler.
type Options struct {
	Service *ceremony.Service
	DB      *badger.DB
	// Outbox, when set (development only), is served at GET /api/v1/outbox.
	Outbox *ceremony.Outbox
	Logger *slog.Logger
	// MaxUpload bounds a new envelope's request body (default 100 MiB).
	MaxUpload int64
	// ReceiptWait bounds how long a step's answer waits for its ledger receipts (default 1 s).
	ReceiptWait time.Duration
	// Sealer, when set, serves POST /api/v1/seal.
	Sealer ceremony.Sealer
	// Evidence, when set, serves GET /api/v1/envelopes/{id}/evidence (evidence bundles).
	Evidence *evidence.Builder
	// Retention is how long after an envelope closes POST /api/v1/envelopes/{id}/erase is
	// refused (default ceremony.DefaultRetention; negative: no retention).
	Retention time.Duration
}

type handler struct {
	opt Options
	log *slog.Logger
}

// New returns the handler of /api/v1/….
func New(opt Options) (http.Handler, error) {
	if opt.Service == nil || opt.DB == nil {
		return nil, errors.New("api: Service and DB are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.MaxUpload == 0 {
		opt.MaxUpload = 100 << 20
	}
	if opt.ReceiptWait == 0 {
		opt.ReceiptWait = time.Second
	}
	if opt.Retention == 0 {
		opt.Retention = ceremony.DefaultRetention
	} else if opt.Retention < 0 {
		opt.Retention = 0
	}
	h := &handler{opt: opt, log: opt.Logger}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/envelopes", h.auth(h.create))
	mux.HandleFunc("GET /api/v1/envelopes/{id}", h.auth(h.get))
	mux.HandleFunc("POST /api/v1/envelopes/{id}/send", h.auth(h.send))
	mux.HandleFunc("POST /api/v1/envelopes/{id}/void", h.auth(h.void))
	mux.HandleFunc("POST /api/v1/envelopes/{id}/remind", h.auth(h.remind))
	mux.HandleFunc("POST /api/v1/envelopes/{id}/signers/{signer}/reinvite", h.auth(h.reinvite))
	mux.HandleFunc("GET /api/v1/envelopes/{id}/documents/{doc}", h.auth(h.document))
	mux.HandleFunc("GET /api/v1/envelopes/{id}/webhooks", h.auth(h.webhooks))
	mux.HandleFunc("GET /api/v1/envelopes/{id}/events/{event}/receipt", h.auth(h.receipt))
	mux.HandleFunc("POST /api/v1/envelopes/{id}/erase", h.auth(h.erase))
	if opt.Evidence != nil {
		mux.HandleFunc("GET /api/v1/envelopes/{id}/evidence", h.auth(h.evidence))
	}
	if opt.Sealer != nil {
		mux.HandleFunc("POST /api/v1/seal", h.auth(h.seal))
	}
	if opt.Outbox != nil {
		mux.HandleFunc("GET /api/v1/outbox", h.auth(h.outbox))
	}
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &ceremony.Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such API route"})
	})
	return mux, nil
}

type ctxKey struct{}

func (h *handler) auth(next func(w http.ResponseWriter, r *http.Request, owner string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		a := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(a, "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="paraphe"`)
			writeError(w, &ceremony.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "an API key is required: Authorization: Bearer <key>"})
			return
		}
		name, err := lookupKey(h.opt.DB, strings.TrimSpace(tok))
		if err != nil {
			h.internal(w, r, err)
			return
		}
		if name == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="paraphe", error="invalid_token"`)
			writeError(w, &ceremony.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "unknown API key"})
			return
		}
		next(w, r, name)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *ceremony.Error) {
	writeJSON(w, e.Status, map[string]any{"error": e})
}

func (h *handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("api: internal error", "route", r.Pattern, "err", err)
	writeError(w, &ceremony.Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"})
}

// fail answers with the error's own status when it is a rule error.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *ceremony.ValidationError
	if errors.As(err, &ve) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
			"code": "invalid_envelope", "message": ve.Error(), "problems": ve.Problems}})
		return
	}
	if e, ok := ceremony.AsError(err); ok {
		if e.Status >= http.StatusInternalServerError {
			h.log.Error("api: "+e.Code, "route", r.Pattern, "err", err)
		}
		writeError(w, e)
		return
	}
	h.internal(w, r, err)
}

// envelope loads an envelope owned by owner; other owners' envelopes do not exist for them.
func (h *handler) envelope(w http.ResponseWriter, r *http.Request, owner string) *ceremony.Envelope {
	e, err := h.opt.Service.Envelope(r.Context(), r.PathValue("id"))
	if er, gerr := h.opt.Service.Erased(r.Context(), r.PathValue("id")); err != nil && gerr == nil && er.Owner == owner {
		writeJSON(w, http.StatusGone, map[string]any{"error": map[string]any{"code": ceremony.CodeErased,
			"message": "the envelope's personal data and documents were erased"}, "erased": er})
		return nil
	}
	if err == nil && e.Owner != owner {
		err = &ceremony.Error{Status: http.StatusNotFound, Code: ceremony.CodeEnvelopeNotFound, Message: fmt.Sprintf("no envelope %q", r.PathValue("id"))}
	}
	if err != nil {
		h.fail(w, r, err)
		return nil
	}
	return e
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, owner string) {
	r.Body = http.MaxBytesReader(w, r.Body, h.opt.MaxUpload)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, &ceremony.Error{Status: http.StatusUnsupportedMediaType, Code: "bad_content_type", Message: "send multipart/form-data with a manifest part and one part per PDF"})
		return
	}
	manifest, files, probs, err := ReadUpload(multipart.NewReader(r.Body, params["boundary"]), h.opt.MaxUpload)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, &ceremony.Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: fmt.Sprintf("the request is larger than %d bytes", mbe.Limit)})
			return
		}
		writeError(w, &ceremony.Error{Status: http.StatusBadRequest, Code: "bad_multipart", Message: err.Error()})
		return
	}
	var m *ceremony.Manifest
	if manifest == nil {
		probs = append(probs, ceremony.Problem{Path: "manifest", Message: "a part named manifest (JSON) is required"})
	} else {
		var mp []ceremony.Problem
		m, mp = ceremony.ParseManifest(manifest)
		for i := range mp {
			mp[i].Path = strings.TrimSuffix("manifest/"+mp[i].Path, "/")
		}
		probs = append(probs, mp...)
	}
	if len(probs) > 0 {
		h.fail(w, r, &ceremony.ValidationError{Problems: probs})
		return
	}
	e, evs, err := h.opt.Service.Create(r.Context(), owner, m, files)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, h.view(r, e, evs))
}

// ReadUpload reads an envelope's upload: the manifest part and the PDF parts (named "file", or
// any other name, with a filename), each at most max bytes. Duplicates and unexpected parts are
// problems; a malformed body is an error.
func ReadUpload(mr *multipart.Reader, max int64) ([]byte, map[string][]byte, []ceremony.Problem, error) {
	var manifest []byte
	files := map[string][]byte{}
	var probs []ceremony.Problem
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("malformed multipart body: %w", err)
		}
		b, err := io.ReadAll(io.LimitReader(p, max))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("malformed multipart body: %w", err)
		}
		switch name, fname := p.FormName(), p.FileName(); {
		case name == "manifest" && fname == "":
			if manifest != nil {
				probs = append(probs, ceremony.Problem{Path: "manifest", Message: "more than one manifest part"})
			}
			manifest = b
		case fname != "":
			if _, dup := files[fname]; dup {
				probs = append(probs, ceremony.Problem{Path: "files/" + fname, Message: "two files have this name"})
			}
			files[fname] = b
		default:
			probs = append(probs, ceremony.Problem{Path: "parts/" + name, Message: "unexpected part: only manifest and files with a filename are accepted"})
		}
	}
	return manifest, files, probs, nil
}

// envelopeView is the sender's view of an envelope.
type envelopeView struct {
	ID         string                    `json:"id"`
	Title      string                    `json:"title"`
	Status     ceremony.Status           `json:"status"`
	Order      ceremony.Order            `json:"order"`
	CreatedAt  time.Time                 `json:"created_at"`
	SentAt     time.Time                 `json:"sent_at,omitzero"`
	ExpiresAt  time.Time                 `json:"expires_at"`
	ClosedAt   time.Time                 `json:"closed_at,omitzero"`
	Brand      *ceremony.Brand           `json:"brand,omitempty"`
	Documents  []documentView            `json:"documents"`
	Signers    []signerView              `json:"signers"`
	Deliveries []ceremony.DeliveryRecord `json:"deliveries"`
	Events     []ceremony.EventRef       `json:"events,omitempty"`
	Timeline   []ceremony.TimelineEntry  `json:"timeline,omitempty"`
}

type documentView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Pages    int    `json:"pages"`
	Original string `json:"original_sha256"`
	Prepared string `json:"prepared_sha256"`
	Current  string `json:"current_sha256"`
	Signed   bool   `json:"signed"`
}

type signerView struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	Email       string                `json:"email"`
	Order       int                   `json:"order"`
	Status      ceremony.SignerStatus `json:"status"`
	InvitedAt   time.Time             `json:"invited_at,omitzero"`
	CompletedAt time.Time             `json:"completed_at,omitzero"`
	PagesRead   int                   `json:"pages_read"`
	PagesTotal  int                   `json:"pages_total"`
	Refusal     string                `json:"refusal_reason,omitempty"`
}

func (h *handler) view(r *http.Request, e *ceremony.Envelope, evs []ceremony.Event) envelopeView {
	v := envelopeView{ID: e.ID, Title: e.Title, Status: e.Status, Order: e.Order, CreatedAt: e.CreatedAt, SentAt: e.SentAt,
		ExpiresAt: e.ExpiresAt, ClosedAt: e.ClosedAt, Brand: e.Brand, Documents: []documentView{}, Signers: []signerView{}, Deliveries: []ceremony.DeliveryRecord{}}
	total := 0
	for _, d := range e.Documents {
		total += len(d.Pages)
		v.Documents = append(v.Documents, documentView{ID: d.ID, Name: d.Name, Pages: len(d.Pages), Original: d.Original, Prepared: d.Prepared, Current: d.Current, Signed: d.Current != d.Prepared})
	}
	for _, s := range e.Signers {
		v.Signers = append(v.Signers, signerView{ID: s.ID, Name: s.Name, Email: s.Email, Order: s.Order, Status: s.Status, InvitedAt: s.InvitedAt,
			CompletedAt: s.CompletedAt, PagesRead: s.PagesRead(), PagesTotal: total, Refusal: s.Refusal})
	}
	if d, err := h.opt.Service.Deliveries(r.Context(), e.ID); err == nil && d != nil {
		v.Deliveries = d
	}
	if len(evs) > 0 {
		v.Events = h.opt.Service.Receipts(r.Context(), evs, h.opt.ReceiptWait)
	}
	return v
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, owner string) {
	e := h.envelope(w, r, owner)
	if e == nil {
		return
	}
	v := h.view(r, e, nil)
	tl, err := h.opt.Service.Timeline(r.Context(), e.ID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	v.Timeline = tl
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) send(w http.ResponseWriter, r *http.Request, owner string) {
	if e := h.envelope(w, r, owner); e == nil {
		return
	}
	e, evs, err := h.opt.Service.Send(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.view(r, e, evs))
}

// decodeBody reads a small strict JSON body into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && err != io.EOF {
		writeError(w, &ceremony.Error{Status: http.StatusBadRequest, Code: "bad_json", Message: "the body is not the expected JSON: " + err.Error()})
		return false
	}
	return true
}

func (h *handler) void(w http.ResponseWriter, r *http.Request, owner string) {
	if e := h.envelope(w, r, owner); e == nil {
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	e, evs, err := h.opt.Service.Void(r.Context(), r.PathValue("id"), body.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.view(r, e, evs))
}

func (h *handler) remind(w http.ResponseWriter, r *http.Request, owner string) {
	e := h.envelope(w, r, owner)
	if e == nil {
		return
	}
	var body struct {
		Signer string `json:"signer"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	var evs []ceremony.Event
	if body.Signer != "" {
		more, err := h.opt.Service.Remind(r.Context(), e.ID, body.Signer)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		evs = more
	} else {
		for _, s := range e.Signers {
			if !s.Status.AwaitsLink() {
				continue
			}
			more, err := h.opt.Service.Remind(r.Context(), e.ID, s.ID)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			evs = append(evs, more...)
		}
		if len(evs) == 0 {
			writeError(w, &ceremony.Error{Status: http.StatusConflict, Code: "nobody_to_remind", Message: "no signer is waiting on a link"})
			return
		}
	}
	h.writeFresh(w, r, e.ID, evs)
}

func (h *handler) reinvite(w http.ResponseWriter, r *http.Request, owner string) {
	e := h.envelope(w, r, owner)
	if e == nil {
		return
	}
	evs, err := h.opt.Service.Reinvite(r.Context(), e.ID, r.PathValue("signer"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeFresh(w, r, e.ID, evs)
}

// writeFresh answers with the envelope as it stands now and the events just recorded.
func (h *handler) writeFresh(w http.ResponseWriter, r *http.Request, id string, evs []ceremony.Event) {
	e, err := h.opt.Service.Envelope(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.view(r, e, evs))
}

func (h *handler) document(w http.ResponseWriter, r *http.Request, owner string) {
	if e := h.envelope(w, r, owner); e == nil {
		return
	}
	d, b, err := h.opt.Service.SignedDocument(r.Context(), r.PathValue("id"), r.PathValue("doc"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.ID + ".pdf"}))
	w.Header().Set("Digest", "sha-256="+d.Current)
	_, _ = w.Write(b)
}

func (h *handler) webhooks(w http.ResponseWriter, r *http.Request, owner string) {
	if e := h.envelope(w, r, owner); e == nil {
		return
	}
	d, err := h.opt.Service.Webhooks(r.Context(), r.PathValue("id"))
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if d == nil {
		d = []ceremony.WebhookDelivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": d})
}

func (h *handler) receipt(w http.ResponseWriter, r *http.Request, owner string) {
	if e := h.envelope(w, r, owner); e == nil {
		return
	}
	ev, rec, err := h.opt.Service.EventReceipt(r.Context(), r.PathValue("event"))
	if err == nil && ev.Envelope != r.PathValue("id") {
		err = &ceremony.Error{Status: http.StatusNotFound, Code: "event_not_found", Message: "no such event in this envelope"}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"event": ev, "pending": rec == nil, "receipt": rec})
}

func (h *handler) outbox(w http.ResponseWriter, r *http.Request, _ string) {
	msgs, err := h.opt.Outbox.Messages(500)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	if msgs == nil {
		msgs = []ceremony.OutboxMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

func (h *handler) seal(w http.ResponseWriter, r *http.Request, _ string) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/pdf" {
		writeError(w, &ceremony.Error{Status: http.StatusUnsupportedMediaType, Code: "bad_content_type", Message: "send the PDF as application/pdf"})
		return
	}
	pdf, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opt.MaxUpload))
	if err != nil {
		writeError(w, &ceremony.Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: err.Error()})
		return
	}
	out, ev, err := h.opt.Service.Seal(r.Context(), pdf, h.opt.Sealer)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Paraphe-Event", ev.ID)
	w.Header().Set("Digest", "sha-256="+ceremony.Digest(out))
	_, _ = w.Write(out)
}
