package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
)

// twoSignerManifest is a draft for Alice (order 1) and Bob (order 2): two documents, text fields
// for each (one of Bob's with a maximum length and a pattern) and signature boxes (Bob has none
// in the annex).
func twoSignerManifest(title string) map[string]any {
	rect := func(x, y, w, h float64) map[string]float64 { return map[string]float64{"x": x, "y": y, "w": w, "h": h} }
	return map[string]any{
		"title": title, "message": "Merci de relire avant de signer.", "order": "sequential",
		"signers": []map[string]any{
			{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "phone": "+33612345678", "locale": "fr", "order": 1},
			{"id": "bob", "name": "Bob Dupont", "email": "bob@example.org", "phone": "+33698765432", "locale": "en", "order": 2},
		},
		"documents": []map[string]any{
			{"id": "compromis", "file": "compromis.pdf", "name": "Compromis", "fields": []map[string]any{
				{"id": "ville", "label": "Ville d'Alice", "signer": "alice", "page": 1, "rect": rect(72, 600, 150, 20), "required": true},
				{"id": "cp", "label": "Code postal de Bob", "signer": "bob", "page": 2, "rect": rect(72, 500, 100, 20), "required": true,
					"max_length": 5, "pattern": "[0-9]{5}"},
			}, "signatures": []map[string]any{
				{"signer": "alice", "page": 2, "rect": rect(72, 100, 150, 45)},
				{"signer": "bob", "page": 2, "rect": rect(300, 100, 150, 45)},
			}},
			{"id": "annexe", "file": "annexe.pdf", "name": "Annexe", "fields": []map[string]any{
				{"id": "note", "label": "Note de Bob", "signer": "bob", "page": 1, "rect": rect(72, 400, 200, 20)},
			}, "signatures": []map[string]any{
				{"signer": "alice", "page": 1, "rect": rect(72, 100, 150, 45)},
			}},
		},
	}
}

func (c *client) mustCreateTwo(title string) string {
	c.w.t.Helper()
	r := c.create(twoSignerManifest(title), map[string][]byte{"compromis.pdf": ceremonytest.MinimalPDF(2, "Compromis"), "annexe.pdf": ceremonytest.MinimalPDF(1, "Annexe")})
	if r.status != http.StatusCreated {
		c.w.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var v EnvelopeSummary
	r.json(c.w.t, &v)
	return v.ID
}

// snapshot is everything a preview must leave as it was: the stored envelope, its timeline
// (the ledger's events of the envelope), the outbox and the signer sessions' keys.
func (w *world) snapshot(id string) string {
	w.t.Helper()
	ctx := context.Background()
	e, err := w.svc.Envelope(ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	tl, err := w.svc.Timeline(ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	msgs, err := w.outbox.Messages(1000)
	if err != nil {
		w.t.Fatal(err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, v := range []any{e, len(tl), len(msgs)} {
		if err := enc.Encode(v); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, t := range tl {
		b.WriteString(t.Event.Type + "\n")
	}
	return b.String()
}

// TestPreviewAsSigner: GET /admin/api/envelopes/{id}/preview?signer= gives a draft's signer their
// own view (the landing information, the documents in order with the first open and the others
// locked, only their fields with label, required mark, maximum length and pattern, only their
// signature boxes, their consent text, when they are invited) and nothing of the other signer;
// it is refused for a signer not in the envelope, for another organisation's envelope and for
// a sent envelope; the PDF route serves the prepared documents to the owner only; and none of
// it changes anything: the envelope, its ledger events and the outbox stay as they were.
func TestPreviewAsSigner(t *testing.T) {
	w := newWorld(t)
	c := w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	other := w.user("Cabinet Rival", "rival@rival.test", RoleAdmin)
	id := c.mustCreateTwo("Vente Martin – Dupont")
	before := w.snapshot(id)

	get := func(signer string) PreviewView {
		t.Helper()
		r := c.get("/admin/api/envelopes/" + id + "/preview?signer=" + signer)
		if r.status != http.StatusOK {
			t.Fatalf("preview as %s: %d %s", signer, r.status, r.body)
		}
		var v PreviewView
		r.json(t, &v)
		return v
	}
	labels := func(v PreviewView) (fields []string, boxes []string) {
		for _, d := range v.Documents {
			for _, f := range d.Fields {
				fields = append(fields, d.ID+"/"+f.Label)
				if f.Signer != v.Signer.ID {
					t.Errorf("preview as %s holds %s's field %q", v.Signer.ID, f.Signer, f.Label)
				}
			}
			for _, b := range d.Signatures {
				boxes = append(boxes, d.ID+"/"+b.Signer)
			}
		}
		return
	}

	alice := get("alice")
	f, b := labels(alice)
	if !slices.Equal(f, []string{"compromis/Ville d'Alice"}) || !slices.Equal(b, []string{"compromis/alice", "annexe/alice"}) {
		t.Fatalf("Alice's preview: fields %q, boxes %q", f, b)
	}
	if alice.Title != "Vente Martin – Dupont" || alice.Message != "Merci de relire avant de signer." || alice.Organization != "Notaires Associés" ||
		alice.Signer.Name != "Alice Martin" || alice.Signer.Phone == "+33612345678" || !strings.HasSuffix(alice.Signer.Phone, "78") ||
		!alice.InvitedFirst || alice.Order != ceremony.Sequential || alice.ExpiresAt.IsZero() {
		t.Fatalf("Alice's preview: %+v", alice)
	}
	if len(alice.Documents) != 2 || alice.Documents[0].Name != "Compromis" || alice.Documents[1].Name != "Annexe" ||
		!alice.Documents[0].Accessible || alice.Documents[1].Accessible || alice.Documents[0].Pages != 2 || alice.Documents[1].Pages != 1 {
		t.Fatalf("Alice's documents (in order, the first open, the second locked): %+v", alice.Documents)
	}
	if !strings.Contains(alice.Consent, "J’ai lu chaque page") || !strings.Contains(alice.Consent, "Compromis") {
		t.Fatalf("Alice's consent text (French, naming the documents): %q", alice.Consent)
	}

	bob := get("bob")
	f, b = labels(bob)
	if !slices.Equal(f, []string{"compromis/Code postal de Bob", "annexe/Note de Bob"}) || !slices.Equal(b, []string{"compromis/bob"}) {
		t.Fatalf("Bob's preview: fields %q, boxes %q", f, b)
	}
	cp := bob.Documents[0].Fields[0]
	if !cp.Required || cp.MaxLength != 5 || cp.Pattern != "[0-9]{5}" || bob.Documents[1].Fields[0].Required || bob.Documents[1].Fields[0].MaxLength == 0 {
		t.Fatalf("Bob's fields lost their rules: %+v", bob.Documents)
	}
	if bob.InvitedFirst || bob.Signer.Order != 2 || !strings.HasPrefix(bob.Consent, "I have read every page") {
		t.Fatalf("Bob's preview: invited first %v, order %d, consent %q", bob.InvitedFirst, bob.Signer.Order, bob.Consent)
	}
	// Nothing of Alice's in Bob's answer, and the other way round.
	rb := c.get("/admin/api/envelopes/" + id + "/preview?signer=bob")
	ra := c.get("/admin/api/envelopes/" + id + "/preview?signer=alice")
	for _, s := range []string{"Ville d'Alice", "alice@example.org", "+33612345678", `"alice"`} {
		if contains(rb.body, s) {
			t.Errorf("Bob's preview holds %q: %s", s, rb.body)
		}
	}
	for _, s := range []string{"Code postal de Bob", "Note de Bob", `"bob"`, "+33698765432"} {
		if contains(ra.body, s) {
			t.Errorf("Alice's preview holds %q: %s", s, ra.body)
		}
	}

	// The documents, as prepared, for the owner.
	for _, d := range alice.Documents {
		r := c.get(d.URL)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
			t.Fatalf("GET %s: %d %s", d.URL, r.status, r.header.Get("Content-Type"))
		}
	}

	// Refusals.
	for _, tc := range []struct {
		who         *client
		path        string
		status      int
		code, where string
	}{
		{c, "/preview?signer=carol", http.StatusNotFound, ceremony.CodeSignerNotFound, "a signer not in the envelope"},
		{c, "/preview", http.StatusNotFound, ceremony.CodeSignerNotFound, "no signer"},
		{c, "/preview/documents/3", http.StatusNotFound, ceremony.CodeDocumentNotFound, "a document not in the envelope"},
		{other, "/preview?signer=alice", http.StatusNotFound, ceremony.CodeEnvelopeNotFound, "another organisation"},
		{other, "/preview/documents/1", http.StatusNotFound, ceremony.CodeEnvelopeNotFound, "another organisation's document"},
		{w.client(), "/preview?signer=alice", http.StatusUnauthorized, "unauthorized", "no session"},
	} {
		r := tc.who.get("/admin/api/envelopes/" + id + tc.path)
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.where, r.status, r.body, tc.status, tc.code)
		}
		if contains(r.body, "Ville d'Alice") || contains(r.body, "%PDF") {
			t.Errorf("%s: the refusal leaks the envelope: %s", tc.where, r.body)
		}
	}

	// Nothing changed: no event, no message, the same envelope.
	if after := w.snapshot(id); after != before {
		t.Fatalf("the preview changed the envelope or the ledger:\nbefore %s\nafter  %s", before, after)
	}

	// A sent envelope is not previewed (its signers have their own progress).
	if r := c.post("/admin/api/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	if r := c.get("/admin/api/envelopes/" + id + "/preview?signer=alice"); r.status != http.StatusConflict || r.code() != "not_draft" {
		t.Fatalf("preview of a sent envelope: %d %s", r.status, r.body)
	}
}

// TestPreviewPages: a draft's page offers « Preview as … » with its signers and the preview
// dialog (its banner, disabled « Signer » and « Refuser »), in French and English; a sent
// envelope's page does not; the preparation page has the button too.
func TestPreviewPages(t *testing.T) {
	w := newWorld(t)
	c := w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	id := c.mustCreateTwo("Vente Martin – Dupont")
	for lang, want := range map[string][]string{
		"fr": {"Aperçu en tant que …", "Aperçu — rien n’est envoyé ni enregistré", ">Signer</button>", ">Refuser</button>"},
		"en": {"Preview as …", "Preview — nothing is sent or recorded", ">Sign</button>", ">Refuse</button>"},
	} {
		r := c.get("/admin/envelopes/" + id + "?lang=" + lang)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", lang, r.status)
		}
		for _, s := range append(want, `id="preview-signer"`, `<option value="alice">Alice Martin</option>`, `<option value="bob">Bob Dupont</option>`,
			`id="pv-sign" disabled`, `id="pv-refuse" disabled`) {
			if !contains(r.body, s) {
				t.Errorf("%s: the draft's page lacks %q", lang, s)
			}
		}
		if contains(r.body, "<script>") || contains(r.body, "style=") {
			t.Errorf("%s: inline script or style", lang)
		}
		p := c.get("/admin/envelopes/new?lang=" + lang)
		if !contains(p.body, `id="preview-open"`) || !contains(p.body, `id="preview-banner"`) || !contains(p.body, want[0]) {
			t.Errorf("%s: the preparation page lacks « Preview as … » or its dialog", lang)
		}
	}
	if r := c.post("/admin/api/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	if r := c.get("/admin/envelopes/" + id); contains(r.body, `id="preview-open"`) {
		t.Error("a sent envelope's page offers the preview")
	}
}
