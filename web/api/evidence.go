package api

import (
	"mime"
	"net/http"

	"github.com/paraphe/paraphe/ceremony"
)

// evidence serves the evidence bundle of a finished envelope: every party's clear values, or
// with ?signer=ID one signer's (see ceremony.Service.EvidenceInput).
func (h *handler) evidence(w http.ResponseWriter, r *http.Request, owner string) {
	e := h.envelope(w, r, owner)
	if e == nil {
		return
	}
	signer := r.URL.Query().Get("signer")
	in, err := h.opt.Service.EvidenceInput(r.Context(), e.ID, signer)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := h.opt.Evidence.Build(r.Context(), in)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	name := "evidence-" + e.ID
	if signer != "" {
		name += "-" + signer
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".zip"}))
	w.Header().Set("Digest", "sha-256="+ceremony.Digest(b))
	_, _ = w.Write(b)
}

// erase deletes a finished envelope's personal data and documents after its retention period.
func (h *handler) erase(w http.ResponseWriter, r *http.Request, owner string) {
	id := r.PathValue("id")
	if er, err := h.opt.Service.Erased(r.Context(), id); err == nil {
		if er.Owner != owner {
			writeError(w, &ceremony.Error{Status: http.StatusNotFound, Code: ceremony.CodeEnvelopeNotFound, Message: "no envelope " + id})
			return
		}
	} else if e := h.envelope(w, r, owner); e == nil {
		return
	}
	er, evs, err := h.opt.Service.Erase(r.Context(), id, h.opt.Retention)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := map[string]any{"erased": er}
	if len(evs) > 0 {
		out["events"] = h.opt.Service.Receipts(r.Context(), evs, h.opt.ReceiptWait)
	}
	writeJSON(w, http.StatusOK, out)
}
