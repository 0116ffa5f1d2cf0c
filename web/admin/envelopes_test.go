package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/web/signer"
)

// oneSignerManifest is an envelope for one signer and one document, named as given.
func oneSignerManifest(title, name, email, doc string) map[string]any {
	return map[string]any{
		"title":   title,
		"signers": []map[string]any{{"id": "s1", "name": name, "email": email, "phone": "+33612345678", "locale": "fr", "order": 1}},
		"documents": []map[string]any{{"id": "d1", "file": "doc.pdf", "name": doc, "fields": []map[string]any{
			{"id": "city", "label": "Ville", "signer": "s1", "page": 1, "rect": map[string]float64{"x": 72, "y": 600, "w": 150, "h": 20}, "required": true}}}},
	}
}

// createOne creates a draft envelope through the web app and returns its id.
func (c *client) createOne(title, name, email, doc string) string {
	c.w.t.Helper()
	r := c.create(oneSignerManifest(title, name, email, doc), map[string][]byte{"doc.pdf": ceremonytest.MinimalPDF(1, title)})
	if r.status != http.StatusCreated {
		c.w.t.Fatalf("create %q: %d %s", title, r.status, r.body)
	}
	var v EnvelopeSummary
	r.json(c.w.t, &v)
	return v.ID
}

// search lists the envelopes matching q and status through the web app, by title, sorted.
func (c *client) search(q, status string) []string {
	c.w.t.Helper()
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if status != "" {
		v.Set("status", status)
	}
	r := c.get("/admin/api/envelopes?" + v.Encode())
	if r.status != http.StatusOK {
		c.w.t.Fatalf("search q=%q status=%q: %d %s", q, status, r.status, r.body)
	}
	var list struct{ Envelopes []EnvelopeSummary }
	r.json(c.w.t, &list)
	out := []string{}
	for _, e := range list.Envelopes {
		out = append(out, e.Title)
	}
	slices.Sort(out)
	return out
}

// TestEnvelopeSearch: the envelope list's search (?q=, every word in the title, a signer's name
// or email, or a document's name, in any case) and status filter (?status=), over envelopes of
// several titles, signers and statuses; another organisation's envelopes never appear.
func TestEnvelopeSearch(t *testing.T) {
	w := newWorld(t)
	a := w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	colleague := w.user("Notaires Associés", "chef@notaires.test", RoleAdmin)
	other := w.user("Cabinet Rival", "rival@rival.test", RoleSender)

	a.createOne("Vente Martin", "Alice Martin", "alice@example.org", "Compromis de vente") // stays a draft
	bail := colleague.createOne("Bail commercial", "Bob Dupont", "bob@bail.test", "Contrat de bail")
	if r := colleague.post("/admin/api/envelopes/"+bail+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	durand := a.createOne("Vente Durand", "Chloé Petit", "chloe@example.org", "Annexe technique")
	if r := a.post("/admin/api/envelopes/"+durand+"/void", map[string]string{"reason": "erreur de saisie"}); r.status != http.StatusOK {
		t.Fatalf("void: %d %s", r.status, r.body)
	}
	// Another organisation's envelopes match the same words and never appear.
	other.createOne("Vente Martin (rival)", "Alice Martin", "alice@example.org", "Compromis de vente")
	rivalBail := other.createOne("Bail commercial (rival)", "Bob Dupont", "bob@bail.test", "Annexe technique")
	if r := other.post("/admin/api/envelopes/"+rivalBail+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}

	all := []string{"Bail commercial", "Vente Durand", "Vente Martin"}
	for _, tc := range []struct {
		q, status string
		want      []string
	}{
		{"", "", all},
		{"   ", "", all},
		{"vente", "", []string{"Vente Durand", "Vente Martin"}},
		{"VENTE martin", "", []string{"Vente Martin"}},                 // every word, any case
		{"martin dupont", "", []string{}},                              // words of two different envelopes
		{"dupont", "", []string{"Bail commercial"}},                    // a signer's name
		{"chloé", "", []string{"Vente Durand"}},                        // accented
		{"bail.test", "", []string{"Bail commercial"}},                 // a signer's email
		{"alice@example.org", "", []string{"Vente Martin"}},            // a whole email
		{"annexe", "", []string{"Vente Durand"}},                       // a document's name
		{"compromis vente", "", []string{"Vente Martin"}},              // document and title
		{"rival", "", []string{}},                                      // only in the other organisation's titles
		{"", "draft", []string{"Vente Martin"}},                        // status alone
		{"", "sent", []string{"Bail commercial"}},                      //
		{"", "voided", []string{"Vente Durand"}},                       //
		{"", "completed", []string{}},                                  //
		{"vente", "voided", []string{"Vente Durand"}},                  // both
		{"vente", "sent", []string{}},                                  //
		{"introuvable", "", []string{}},                                //
		{"martin", "draft", []string{"Vente Martin"}},                  //
		{"bob@bail.test contrat", "sent", []string{"Bail commercial"}}, //
	} {
		if got := a.search(tc.q, tc.status); !slices.Equal(got, tc.want) {
			t.Errorf("q=%q status=%q: %q, want %q", tc.q, tc.status, got, tc.want)
		}
	}
	// The other organisation finds only its own.
	if got, want := other.search("vente martin", ""), []string{"Vente Martin (rival)"}; !slices.Equal(got, want) {
		t.Errorf("the other organisation's search: %q, want %q", got, want)
	}
	if got, want := other.search("", "sent"), []string{"Bail commercial (rival)"}; !slices.Equal(got, want) {
		t.Errorf("the other organisation's sent envelopes: %q, want %q", got, want)
	}
	// The envelope list page applies the same search.
	page := a.get("/admin/?q=" + url.QueryEscape("vente") + "&status=voided")
	if page.status != http.StatusOK || !contains(page.body, "Vente Durand") || contains(page.body, "Vente Martin") || contains(page.body, "Bail commercial") || contains(page.body, "rival") {
		t.Errorf("the envelope list page for q=vente status=voided: %d\n%s", page.status, page.body)
	}
}

// signerWithCSRF opens a signer's latest invitation link with the signer protocol and returns a
// client with the signer's session and its CSRF token.
func (w *world) signerWithCSRF(t *testing.T, email string) (*client, string) {
	t.Helper()
	c := w.client()
	req, _ := http.NewRequest("GET", w.invitation(t, email), nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK || st.CSRF == "" {
		t.Fatalf("open %s's link: %d %v", email, resp.StatusCode, err)
	}
	return c, st.CSRF
}

// TestRemindAndVoidByOwner: the envelope's organisation reminds its signer (an email with a
// fresh link and a reminder.sent event on the timeline) and voids it (status voided with the
// reason); after that, the signer's actions are refused, and so are reminders and a second void.
func TestRemindAndVoidByOwner(t *testing.T) {
	w := newWorld(t)
	c := w.user("Notaires Associés", "clerc@notaires.test", RoleSender)
	ctx := context.Background()
	id := c.mustCreate("Vente Martin")

	// A draft has nobody to remind.
	if r := c.post("/admin/api/envelopes/"+id+"/remind", map[string]string{}); r.status != http.StatusConflict {
		t.Fatalf("remind a draft: %d %s", r.status, r.body)
	}
	if r := c.post("/admin/api/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	invitations := len(w.outboxFor("alice@example.org"))
	if invitations != 1 {
		t.Fatalf("%d emails to alice after sending, want 1", invitations)
	}
	first := w.invitation(t, "alice@example.org")

	r := c.post("/admin/api/envelopes/"+id+"/remind", map[string]string{})
	if r.status != http.StatusOK {
		t.Fatalf("remind: %d %s", r.status, r.body)
	}
	var rem struct{ Reminded int }
	r.json(t, &rem)
	if rem.Reminded != 1 {
		t.Fatalf("reminded %d signers, want 1", rem.Reminded)
	}
	// One signer by id, too.
	if r := c.post("/admin/api/envelopes/"+id+"/remind", map[string]string{"signer": "alice"}); r.status != http.StatusOK {
		t.Fatalf("remind alice: %d %s", r.status, r.body)
	}
	mails := w.outboxFor("alice@example.org")
	if len(mails) != 3 {
		t.Fatalf("%d emails to alice after two reminders, want 3", len(mails))
	}
	if link := w.invitation(t, "alice@example.org"); link == first {
		t.Fatal("the reminder carries the invitation's link, want a fresh one")
	}
	var d EnvelopeDetail
	c.get("/admin/api/envelopes/"+id).json(t, &d)
	reminders := 0
	for _, it := range d.Timeline {
		if it.Type == ceremony.EvReminderSent {
			reminders++
			if it.Signer != "Alice Martin" {
				t.Errorf("reminder for %q, want Alice Martin", it.Signer)
			}
		}
	}
	if reminders != 2 {
		t.Fatalf("%d reminder.sent on the timeline, want 2: %+v", reminders, d.Timeline)
	}

	// The signer opens the link, then the envelope is voided.
	sc, csrf := w.signerWithCSRF(t, "alice@example.org")
	read := func() reply {
		return sc.do(http.MethodPost, "/s/api/documents/1/pages/1/read", strings.NewReader("{}"), map[string]string{signer.CSRFHeader: csrf})
	}
	if r := read(); r.status != http.StatusOK {
		t.Fatalf("read a page before the void: %d %s", r.status, r.body)
	}
	if r := c.post("/admin/api/envelopes/"+id+"/void", map[string]string{"reason": "Erreur dans le prix"}); r.status != http.StatusOK {
		t.Fatalf("void: %d %s", r.status, r.body)
	} else {
		var s EnvelopeSummary
		r.json(t, &s)
		if s.Status != ceremony.StatusVoided {
			t.Fatalf("void answered status %s", s.Status)
		}
	}
	e, err := w.svc.Envelope(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != ceremony.StatusVoided || e.Reason != "Erreur dans le prix" || e.ClosedAt.IsZero() {
		t.Fatalf("after the void: status %s, reason %q, closed %v", e.Status, e.Reason, e.ClosedAt)
	}
	c.get("/admin/api/envelopes/"+id).json(t, &d)
	if d.Status != ceremony.StatusVoided || d.Reason != "Erreur dans le prix" || !slices.ContainsFunc(d.Timeline, func(it TimelineItem) bool { return it.Type == ceremony.EvEnvelopeVoided }) {
		t.Fatalf("the envelope's detail after the void: %s %q %+v", d.Status, d.Reason, d.Timeline)
	}

	// The signer's actions are refused: the session open before the void ends with it, and the
	// link no longer opens one.
	refused := func(what string, r reply) {
		t.Helper()
		if !(r.status == http.StatusUnauthorized && r.code() == "link_invalid") && !(r.status == http.StatusConflict && r.code() == ceremony.CodeEnvelopeNotActive) {
			t.Fatalf("%s after the void: %d %s, want refused", what, r.status, r.body)
		}
	}
	refused("read a page", read())
	refused("fill a field", sc.do(http.MethodPost, "/s/api/fields", strings.NewReader(`{"values":{"city":"Lyon"}}`), map[string]string{signer.CSRFHeader: csrf}))
	refused("sign", sc.do(http.MethodPost, "/s/api/sign", strings.NewReader(`{"consent_digest":"x"}`), map[string]string{signer.CSRFHeader: csrf}))
	again := w.client()
	open := again.do(http.MethodGet, strings.TrimPrefix(w.invitation(t, "alice@example.org"), w.srv.URL), nil, map[string]string{"Accept": "application/json"})
	refused("open the link", open)
	// Reminders and a second void are refused, and nothing more is sent.
	if r := c.post("/admin/api/envelopes/"+id+"/remind", map[string]string{"signer": "alice"}); r.status != http.StatusConflict {
		t.Fatalf("remind after the void: %d %s", r.status, r.body)
	}
	if r := c.post("/admin/api/envelopes/"+id+"/void", map[string]string{"reason": "encore"}); r.status != http.StatusConflict {
		t.Fatalf("void twice: %d %s", r.status, r.body)
	}
	if n := len(w.outboxFor("alice@example.org")); n != 3 {
		t.Fatalf("%d emails to alice after the void, want 3", n)
	}
}
