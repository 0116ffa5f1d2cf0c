package admin

import (
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/web/api"
)

// EnvelopeSummary is one line of the envelope list.
type EnvelopeSummary struct {
	ID        string          `json:"id"`
	Title     string          `json:"title"`
	Status    ceremony.Status `json:"status"`
	CreatedAt time.Time       `json:"created_at"`
	SentAt    time.Time       `json:"sent_at,omitzero"`
	ExpiresAt time.Time       `json:"expires_at"`
	Signed    int             `json:"signed"`
	Signers   int             `json:"signers"`
	Names     []string        `json:"names"`
}

func summary(e *ceremony.Envelope) EnvelopeSummary {
	s := EnvelopeSummary{ID: e.ID, Title: e.Title, Status: e.Status, CreatedAt: e.CreatedAt, SentAt: e.SentAt, ExpiresAt: e.ExpiresAt,
		Signers: len(e.Signers), Names: []string{}}
	for _, sg := range e.Signers {
		if sg.Status == ceremony.SignerSigned {
			s.Signed++
		}
		s.Names = append(s.Names, sg.Name)
	}
	return s
}

// matches reports whether an envelope matches a search: every word of q appears in its title,
// a signer's name or email, or a document's name; status, when set, is its status.
func matches(e *ceremony.Envelope, q string, status ceremony.Status) bool {
	if status != "" && e.Status != status {
		return false
	}
	var hay strings.Builder
	hay.WriteString(strings.ToLower(e.Title))
	for _, s := range e.Signers {
		fmt.Fprintf(&hay, "\x00%s\x00%s", strings.ToLower(s.Name), strings.ToLower(s.Email))
	}
	for _, d := range e.Documents {
		hay.WriteString("\x00" + strings.ToLower(d.Name))
	}
	h := hay.String()
	for _, w := range strings.Fields(strings.ToLower(q)) {
		if !strings.Contains(h, w) {
			return false
		}
	}
	return true
}

// envelopes returns the organisation's envelopes matching a search.
func (h *Handler) envelopes(r *http.Request, u *who) ([]EnvelopeSummary, error) {
	all, err := h.opt.Service.Envelopes(r.Context(), u.owner())
	if err != nil {
		return nil, err
	}
	q, status := r.URL.Query().Get("q"), ceremony.Status(r.URL.Query().Get("status"))
	out := []EnvelopeSummary{}
	for _, e := range all {
		if matches(e, q, status) {
			out = append(out, summary(e))
		}
	}
	return out, nil
}

func (h *Handler) listEnvelopes(w http.ResponseWriter, r *http.Request, u *who) {
	list, err := h.envelopes(r, u)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"envelopes": list})
}

// envelope loads an envelope of the user's organisation; another organisation's envelope does
// not exist for them.
func (h *Handler) envelope(r *http.Request, u *who) (*ceremony.Envelope, error) {
	id := r.PathValue("id")
	e, err := h.opt.Service.Envelope(r.Context(), id)
	if err == nil && e.Owner != u.owner() {
		err = &ceremony.Error{Status: http.StatusNotFound, Code: ceremony.CodeEnvelopeNotFound, Message: fmt.Sprintf("no envelope %q", id)}
	}
	return e, err
}

// owned is envelope for a JSON route: on an error it answers and returns false.
func (h *Handler) owned(w http.ResponseWriter, r *http.Request, u *who) (*ceremony.Envelope, bool) {
	e, err := h.envelope(r, u)
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return e, true
}

// EnvelopeDetail is an envelope as its page shows it.
type EnvelopeDetail struct {
	EnvelopeSummary
	Message    string                    `json:"message,omitempty"`
	Order      ceremony.Order            `json:"order"`
	ClosedAt   time.Time                 `json:"closed_at,omitzero"`
	Reason     string                    `json:"reason,omitempty"`
	Documents  []DocumentDetail          `json:"documents"`
	Signers    []SignerDetail            `json:"signers"`
	Deliveries []ceremony.DeliveryRecord `json:"deliveries"`
	Timeline   []TimelineItem            `json:"timeline"`
	Evidence   bool                      `json:"evidence"`
}

// DocumentDetail is one document of an envelope.
type DocumentDetail struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Pages  int    `json:"pages"`
	Fields int    `json:"fields"`
	Signed bool   `json:"signed"`
}

// SignerDetail is one signer of an envelope.
type SignerDetail struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	Email       string                `json:"email"`
	Order       int                   `json:"order"`
	Status      ceremony.SignerStatus `json:"status"`
	InvitedAt   time.Time             `json:"invited_at,omitzero"`
	CompletedAt time.Time             `json:"completed_at,omitzero"`
	PagesRead   int                   `json:"pages_read"`
	PagesTotal  int                   `json:"pages_total"`
	Refusal     string                `json:"refusal,omitempty"`
}

// TimelineItem is one ledger event of an envelope.
type TimelineItem struct {
	Seq    uint64    `json:"seq"`
	Type   string    `json:"type"`
	At     time.Time `json:"at"`
	Signer string    `json:"signer,omitempty"` // the signer's name
	// Index is the event's leaf index in the ledger once sequenced.
	Index   uint64 `json:"index"`
	Pending bool   `json:"pending"`
	// Detail is the document and page of a page.read, the document of a document event.
	Detail string `json:"detail,omitempty"`
}

func (h *Handler) detail(r *http.Request, e *ceremony.Envelope) (*EnvelopeDetail, error) {
	d := &EnvelopeDetail{EnvelopeSummary: summary(e), Message: e.Message, Order: e.Order, ClosedAt: e.ClosedAt, Reason: e.Reason,
		Documents: []DocumentDetail{}, Signers: []SignerDetail{}, Deliveries: []ceremony.DeliveryRecord{}, Evidence: h.opt.Evidence != nil}
	total := 0
	docName := map[string]string{}
	for _, doc := range e.Documents {
		total += len(doc.Pages)
		docName[doc.ID] = doc.Name
		d.Documents = append(d.Documents, DocumentDetail{ID: doc.ID, Name: doc.Name, Pages: len(doc.Pages), Fields: len(doc.Fields), Signed: doc.Current != doc.Prepared})
	}
	names := map[string]string{}
	for _, s := range e.Signers {
		names[s.ID] = s.Name
		d.Signers = append(d.Signers, SignerDetail{ID: s.ID, Name: s.Name, Email: s.Email, Order: s.Order, Status: s.Status,
			InvitedAt: s.InvitedAt, CompletedAt: s.CompletedAt, PagesRead: s.PagesRead(), PagesTotal: total, Refusal: s.Refusal})
	}
	dl, err := h.opt.Service.Deliveries(r.Context(), e.ID)
	if err != nil {
		return nil, err
	}
	if dl != nil {
		d.Deliveries = dl
	}
	tl, err := h.opt.Service.Timeline(r.Context(), e.ID)
	if err != nil {
		return nil, err
	}
	d.Timeline = []TimelineItem{}
	for _, t := range tl {
		it := TimelineItem{Seq: t.Seq, Type: t.Event.Type, At: t.Event.At, Signer: names[t.Event.Signer], Pending: t.Receipt == nil}
		if t.Receipt != nil {
			it.Index = t.Receipt.Index
		}
		if doc, ok := t.Event.Data["document"].(string); ok {
			it.Detail = docName[doc]
			if p, ok := t.Event.Data["page"].(float64); ok {
				it.Detail = fmt.Sprintf("%s · p. %d", it.Detail, int(p))
			}
		}
		d.Timeline = append(d.Timeline, it)
	}
	return d, nil
}

func (h *Handler) getEnvelope(w http.ResponseWriter, r *http.Request, u *who) {
	e, ok := h.owned(w, r, u)
	if !ok {
		return
	}
	d, err := h.detail(r, e)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// createEnvelope creates a draft from a multipart body: a "manifest" part (the API's manifest,
// docs/API.md) and one part per PDF with a file name.
func (h *Handler) createEnvelope(w http.ResponseWriter, r *http.Request, u *who) {
	r.Body = http.MaxBytesReader(w, r.Body, h.opt.MaxUpload)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, http.StatusUnsupportedMediaType, "bad_content_type", "send multipart/form-data with a manifest part and one part per PDF")
		return
	}
	manifest, files, probs, err := api.ReadUpload(multipart.NewReader(r.Body, params["boundary"]), h.opt.MaxUpload)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request is larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "bad_multipart", err.Error())
		return
	}
	var m *ceremony.Manifest
	if manifest == nil {
		probs = append(probs, ceremony.Problem{Path: "manifest", Message: "a part named manifest (JSON) is required"})
	} else {
		var mp []ceremony.Problem
		m, mp = ceremony.ParseManifest(manifest)
		probs = append(probs, mp...)
	}
	if len(probs) > 0 {
		h.fail(w, r, &ceremony.ValidationError{Problems: probs})
		return
	}
	if m.Webhook == nil && u.org.WebhookURL != "" {
		secret, err := h.acc.WebhookSecret(u.org)
		if err != nil {
			h.internal(w, r, err)
			return
		}
		m.Webhook = &ceremony.Webhook{URL: u.org.WebhookURL, Secret: secret}
	}
	e, _, err := h.opt.Service.Create(r.Context(), u.owner(), m, files)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("admin: envelope created", "envelope", e.ID, "user", u.user.ID)
	writeJSON(w, http.StatusCreated, summary(e))
}

func (h *Handler) sendEnvelope(w http.ResponseWriter, r *http.Request, u *who) {
	if _, ok := h.owned(w, r, u); !ok {
		return
	}
	e, _, err := h.opt.Service.Send(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("admin: envelope sent", "envelope", e.ID, "user", u.user.ID)
	writeJSON(w, http.StatusOK, summary(e))
}

func (h *Handler) voidEnvelope(w http.ResponseWriter, r *http.Request, u *who) {
	if _, ok := h.owned(w, r, u); !ok {
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if !decode(w, r, &body) {
		return
	}
	e, _, err := h.opt.Service.Void(r.Context(), r.PathValue("id"), body.Reason)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("admin: envelope voided", "envelope", e.ID, "user", u.user.ID)
	writeJSON(w, http.StatusOK, summary(e))
}

// remindEnvelope reminds one signer, or every signer waiting on a link.
func (h *Handler) remindEnvelope(w http.ResponseWriter, r *http.Request, u *who) {
	e, ok := h.owned(w, r, u)
	if !ok {
		return
	}
	var body struct {
		Signer string `json:"signer"`
	}
	if !decode(w, r, &body) {
		return
	}
	n := 0
	for _, s := range e.Signers {
		if (body.Signer != "" && s.ID != body.Signer) || (body.Signer == "" && !s.Status.AwaitsLink()) {
			continue
		}
		if _, err := h.opt.Service.Remind(r.Context(), e.ID, s.ID); err != nil {
			h.fail(w, r, err)
			return
		}
		n++
	}
	if n == 0 {
		writeError(w, http.StatusConflict, "nobody_to_remind", "no signer is waiting on a link")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reminded": n})
}

func (h *Handler) document(w http.ResponseWriter, r *http.Request, u *who) {
	if _, ok := h.owned(w, r, u); !ok {
		return
	}
	d, b, err := h.opt.Service.SignedDocument(r.Context(), r.PathValue("id"), r.PathValue("doc"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	name := strings.TrimSuffix(d.Name, ".pdf")
	if name == "" || strings.ContainsAny(name, "/\\") {
		name = d.ID
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".pdf"}))
	w.Header().Set("Digest", "sha-256="+d.Current)
	_, _ = w.Write(b)
}

func (h *Handler) evidence(w http.ResponseWriter, r *http.Request, u *who) {
	e, ok := h.owned(w, r, u)
	if !ok {
		return
	}
	if h.opt.Evidence == nil {
		writeError(w, http.StatusNotFound, "no_evidence", "this appliance does not produce evidence bundles")
		return
	}
	if !slices.Contains([]ceremony.Status{ceremony.StatusCompleted, ceremony.StatusDeclined}, e.Status) {
		writeError(w, http.StatusConflict, "not_finished", "the evidence bundle exists once the envelope is completed or declined")
		return
	}
	in, err := h.opt.Service.EvidenceInput(r.Context(), e.ID, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := h.opt.Evidence.Build(r.Context(), in)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "evidence-" + e.ID + ".zip"}))
	w.Header().Set("Digest", "sha-256="+ceremony.Digest(b))
	_, _ = w.Write(b)
}
