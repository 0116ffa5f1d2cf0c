package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/web/api"
)

// Template is a reusable envelope: documents with their fields, owned by roles that become
// signers when the template is used.
type Template struct {
	ID        string             `json:"id"`
	Org       string             `json:"org"`
	Name      string             `json:"name"`
	Created   time.Time          `json:"created"`
	Title     string             `json:"title"`
	Message   string             `json:"message,omitempty"`
	Order     ceremony.Order     `json:"order"`
	Roles     []TemplateRole     `json:"roles"`
	Documents []TemplateDocument `json:"documents"`
}

// TemplateRole is a signer to be named when the template is used.
type TemplateRole struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Order int    `json:"order"`
}

// TemplateDocument is a PDF of a template (in the ceremony's document store), its fields and
// its signature boxes, whose Signer is a role's id.
type TemplateDocument struct {
	Name       string                  `json:"name"`
	Digest     string                  `json:"digest"`
	Fields     []ceremony.Field        `json:"fields"`
	Signatures []ceremony.SignatureBox `json:"signatures,omitempty"`
}

// TemplateSummary is one line of the template list.
type TemplateSummary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	Documents int       `json:"documents"`
	Roles     int       `json:"roles"`
}

func (h *Handler) templates(r *http.Request, u *who) ([]TemplateSummary, error) {
	out := []TemplateSummary{}
	err := h.opt.DB.View(func(txn *badger.Txn) error {
		return scanPrefix(txn, kTemplate+u.org.ID+"/", func(_ string, v []byte) error {
			var t Template
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			out = append(out, TemplateSummary{ID: t.ID, Name: t.Name, Created: t.Created, Documents: len(t.Documents), Roles: len(t.Roles)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("admin: templates: %w", err)
	}
	slices.SortFunc(out, func(a, b TemplateSummary) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out, nil
}

func (h *Handler) listTemplates(w http.ResponseWriter, r *http.Request, u *who) {
	list, err := h.templates(r, u)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": list})
}

func (h *Handler) template(r *http.Request, u *who) (*Template, error) {
	var t Template
	id := r.PathValue("id")
	if !validID(id) {
		return nil, ErrNotFound
	}
	if err := h.opt.DB.View(func(txn *badger.Txn) error { return get(txn, kTemplate+u.org.ID+"/"+id, &t) }); err != nil {
		return nil, err
	}
	return &t, nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (h *Handler) getTemplate(w http.ResponseWriter, r *http.Request, u *who) {
	t, err := h.template(r, u)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "template_not_found", "no such template")
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *Handler) templateDocument(w http.ResponseWriter, r *http.Request, u *who) {
	t, err := h.template(r, u)
	n, nerr := strconv.Atoi(r.PathValue("n"))
	if errors.Is(err, ErrNotFound) || nerr != nil || (err == nil && (n < 1 || n > len(t.Documents))) {
		writeError(w, http.StatusNotFound, "template_not_found", "no such template document")
		return
	}
	if err != nil {
		h.internal(w, r, err)
		return
	}
	b, err := h.opt.Service.Documents().Get(t.Documents[n-1].Digest)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	_, _ = w.Write(b)
}

// createTemplate stores a template from a multipart body: a "template" part (JSON: name, title,
// message, order, roles, documents with file names, fields and signature boxes) and the PDFs.
func (h *Handler) createTemplate(w http.ResponseWriter, r *http.Request, u *who) {
	r.Body = http.MaxBytesReader(w, r.Body, h.opt.MaxUpload)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, http.StatusUnsupportedMediaType, "bad_content_type", "send multipart/form-data")
		return
	}
	var body struct {
		Name      string         `json:"name"`
		Title     string         `json:"title"`
		Message   string         `json:"message"`
		Order     ceremony.Order `json:"order"`
		Roles     []TemplateRole `json:"roles"`
		Documents []struct {
			Name       string                  `json:"name"`
			File       string                  `json:"file"`
			Fields     []ceremony.Field        `json:"fields"`
			Signatures []ceremony.SignatureBox `json:"signatures"`
		} `json:"documents"`
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	raw, files, probs, err := api.ReadUpload(mr, h.opt.MaxUpload)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_multipart", err.Error())
		return
	}
	if len(probs) > 0 || raw == nil {
		writeError(w, http.StatusBadRequest, "bad_multipart", "send one manifest part (the template) and its PDFs")
		return
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", "the template is not the expected JSON: "+err.Error())
		return
	}
	if err := checkName("a template's name", body.Name, 200); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_template", strings.TrimPrefix(err.Error(), "admin: "))
		return
	}
	// The template must make a valid envelope once its roles are people: validate it as one.
	m := &ceremony.Manifest{Title: body.Title, Message: body.Message, Order: body.Order}
	if m.Title == "" {
		m.Title = body.Name
	}
	for i, role := range body.Roles {
		m.Signers = append(m.Signers, ceremony.ManifestSigner{ID: role.ID, Name: role.Label, Email: fmt.Sprintf("role%d@template.invalid", i),
			Phone: "+33600000000", Locale: "fr", Order: role.Order})
	}
	for i, d := range body.Documents {
		m.Documents = append(m.Documents, ceremony.ManifestDocument{ID: fmt.Sprintf("d%d", i+1), File: d.File, Name: d.Name, Fields: d.Fields,
			Signatures: d.Signatures})
	}
	if _, probs := m.Validate(files, h.opt.Now(), ceremony.DefaultLimits(), func(b []byte) (ceremony.PDFInfo, error) {
		return h.opt.Service.Inspect(r.Context(), b)
	}); len(probs) > 0 {
		h.fail(w, r, &ceremony.ValidationError{Problems: probs})
		return
	}
	t := Template{ID: randomID(), Org: u.org.ID, Name: body.Name, Created: h.opt.Now().UTC(), Title: m.Title, Message: m.Message,
		Order: m.Order, Roles: body.Roles}
	for i, d := range body.Documents {
		digest, err := h.opt.Service.Documents().Put(files[d.File])
		if err != nil {
			h.internal(w, r, err)
			return
		}
		t.Documents = append(t.Documents, TemplateDocument{Name: m.Documents[i].Name, Digest: digest, Fields: m.Documents[i].Fields,
			Signatures: m.Documents[i].Signatures})
	}
	if err := h.opt.DB.Update(func(txn *badger.Txn) error { return set(txn, kTemplate+u.org.ID+"/"+t.ID, t) }); err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, TemplateSummary{ID: t.ID, Name: t.Name, Created: t.Created, Documents: len(t.Documents), Roles: len(t.Roles)})
}

func (h *Handler) deleteTemplate(w http.ResponseWriter, r *http.Request, u *who) {
	if _, err := h.template(r, u); err != nil {
		if errors.Is(err, ErrNotFound) {
			writeError(w, http.StatusNotFound, "template_not_found", "no such template")
			return
		}
		h.internal(w, r, err)
		return
	}
	if err := h.opt.DB.Update(func(txn *badger.Txn) error {
		return txn.Delete([]byte(kTemplate + u.org.ID + "/" + r.PathValue("id")))
	}); err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
}
