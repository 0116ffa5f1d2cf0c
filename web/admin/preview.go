package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/paraphe/paraphe/ceremony"
)

// The preview: before sending, a sender sees what one signer of a draft will see (the landing
// page, each document's pages with that signer's fields and signature boxes, the reading order
// and the decision), with nothing sent or recorded. The page's script draws it (static/preview.js)
// from a PreviewView: the one of GET /admin/api/envelopes/{id}/preview?signer=ID for a draft, or
// one it builds from the preparation page's own data before anything is saved.
//
// Both routes only read: the signer's view comes from ceremony.Service.State, which loads the
// envelope and computes, and the documents from the document store. No session, link, token,
// event or envelope change is made, and only drafts are previewed (a sent envelope's signers
// have their own progress, which the envelope page shows).

// PreviewView is what one signer of a draft will see.
type PreviewView struct {
	// Organization is the sender as the signer's pages name it.
	Organization string         `json:"organization"`
	Title        string         `json:"title"`
	Message      string         `json:"message,omitempty"`
	ExpiresAt    time.Time      `json:"expires_at"`
	Order        ceremony.Order `json:"order"`
	Signer       PreviewSigner  `json:"signer"`
	// InvitedFirst says that the signer receives their link when the envelope is sent (parallel
	// order, or the lowest order number); otherwise once the signers before them have signed.
	InvitedFirst bool         `json:"invited_first"`
	Documents    []PreviewDoc `json:"documents"`
	// Consent is the text the signer accepts with « Signer », in the signer's language.
	Consent string `json:"consent"`
}

// PreviewSigner is the signer previewed.
type PreviewSigner struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Locale string `json:"locale"`
	Order  int    `json:"order"`
	// Phone is masked, as the signer's pages show it.
	Phone string `json:"phone"`
}

// PreviewDoc is one document as the signer previewed meets it.
type PreviewDoc struct {
	Number int    `json:"number"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	Pages  int    `json:"pages"`
	// Accessible is false for a document locked until the ones before it are read and completed.
	Accessible bool `json:"accessible"`
	// Fields and Signatures are the signer's own, never another signer's.
	Fields     []ceremony.Field        `json:"fields"`
	Signatures []ceremony.SignatureBox `json:"signatures"`
	// URL serves the PDF the signer reads.
	URL string `json:"url"`
}

// previewable loads a draft envelope of the user's organisation for a preview; on an error it
// answers and returns false.
func (h *Handler) previewable(w http.ResponseWriter, r *http.Request, u *who) (*ceremony.Envelope, bool) {
	e, ok := h.owned(w, r, u)
	if !ok {
		return nil, false
	}
	if e.Status != ceremony.StatusDraft {
		writeError(w, http.StatusConflict, "not_draft", fmt.Sprintf("only a draft is previewed; this envelope is %s", e.Status))
		return nil, false
	}
	return e, true
}

// preview answers GET /admin/api/envelopes/{id}/preview?signer=ID.
func (h *Handler) preview(w http.ResponseWriter, r *http.Request, u *who) {
	e, ok := h.previewable(w, r, u)
	if !ok {
		return
	}
	sid := r.URL.Query().Get("signer")
	si := -1
	for i, s := range e.Signers {
		if s.ID == sid {
			si = i
		}
	}
	if sid == "" || si < 0 {
		writeError(w, http.StatusNotFound, ceremony.CodeSignerNotFound, fmt.Sprintf("no signer %q in this envelope", sid))
		return
	}
	v, err := h.previewOf(r, e, si)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// previewOf builds signer si's view of draft e, reading only.
func (h *Handler) previewOf(r *http.Request, e *ceremony.Envelope, si int) (*PreviewView, error) {
	sg := e.Signers[si]
	st, err := h.opt.Service.State(r.Context(), &ceremony.SignerRef{Envelope: e.ID, Signer: sg.ID})
	if err != nil {
		return nil, err
	}
	consent, _ := ceremony.ConsentDigest(e, sg.Locale)
	v := &PreviewView{Organization: st.Envelope.Organization, Title: st.Envelope.Title, Message: st.Envelope.Message,
		ExpiresAt: st.Envelope.ExpiresAt, Order: e.Order, Consent: consent, Documents: []PreviewDoc{},
		Signer: PreviewSigner{ID: sg.ID, Name: st.Signer.Name, Locale: st.Signer.Locale, Order: sg.Order, Phone: st.Signer.Phone}}
	v.InvitedFirst = true
	if e.Order != ceremony.Parallel {
		for _, o := range e.Signers {
			if o.Order < sg.Order {
				v.InvitedFirst = false
			}
		}
	}
	for i, dv := range st.Documents {
		d := PreviewDoc{Number: dv.Number, ID: dv.ID, Name: dv.Name, Pages: dv.Pages, Accessible: dv.Accessible,
			Fields: []ceremony.Field{}, Signatures: []ceremony.SignatureBox{},
			URL: "/admin/api/envelopes/" + e.ID + "/preview/documents/" + strconv.Itoa(dv.Number)}
		for _, f := range dv.Fields {
			if f.Signer == sg.ID {
				d.Fields = append(d.Fields, f.Field)
			}
		}
		for _, b := range e.Documents[i].Signatures {
			if b.Signer == sg.ID {
				d.Signatures = append(d.Signatures, b)
			}
		}
		v.Documents = append(v.Documents, d)
	}
	return v, nil
}

// previewDocument answers GET /admin/api/envelopes/{id}/preview/documents/{n}: the PDF signers
// read (as prepared, fields added), of a draft.
func (h *Handler) previewDocument(w http.ResponseWriter, r *http.Request, u *who) {
	e, ok := h.previewable(w, r, u)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || n > len(e.Documents) {
		writeError(w, http.StatusNotFound, ceremony.CodeDocumentNotFound, "no such document")
		return
	}
	b, err := h.opt.Service.Documents().Get(e.Documents[n-1].Prepared)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", "inline")
	_, _ = w.Write(b)
}
