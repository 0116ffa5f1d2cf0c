package signer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/web/api"
)

// snapshot is an envelope's state and the number of its events.
type snapshot struct {
	state  string
	events int
}

func (w *world) snap(id string) snapshot {
	w.t.Helper()
	e, err := w.svc.Envelope(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := json.Marshal(e)
	tl, err := w.svc.Timeline(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return snapshot{string(b), len(tl)}
}

// refused checks that an answer is the expected rule violation and changed nothing.
func (w *world) refused(id string, before snapshot, r reply, status int, code string) {
	w.t.Helper()
	if r.Status != status || r.errCode() != code {
		w.t.Fatalf("want %d %s, got %d %s", status, code, r.Status, r.Body)
	}
	if after := w.snap(id); after != before {
		w.t.Fatalf("%s changed the state or added events (%d → %d events)", code, before.events, after.events)
	}
}

// lastEvents returns the types of the envelope's last n events.
func (w *world) lastEvents(id string, n int) []string {
	tl, _ := w.svc.Timeline(context.Background(), id)
	var out []string
	for _, e := range tl[max(0, len(tl)-n):] {
		out = append(out, e.Event.Type)
	}
	return out
}

// aliceReady sends the seed envelope and returns it with Alice's session open.
func aliceOpen(t *testing.T) (*world, string, *party) {
	w := newWorld(t)
	id := w.sentEnvelope(seedManifest())
	alice := w.party("+33612345678")
	if r := alice.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	return w, id, alice
}

func TestReadingRules(t *testing.T) {
	w, id, alice := aliceOpen(t)
	s := w.snap(id)
	w.refused(id, s, alice.readPage(2, 1), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.refused(id, s, alice.get("/s/api/documents/2"), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.refused(id, s, alice.readPage(1, 4), http.StatusUnprocessableEntity, ceremony.CodePageOutOfRange)
	w.refused(id, s, alice.readPage(3, 1), http.StatusNotFound, ceremony.CodeDocumentNotFound)
	w.refused(id, s, alice.readPage(1, 0), http.StatusBadRequest, "bad_path")
	w.refused(id, s, alice.post("/s/api/sign", map[string]string{"consent_digest": strings.Repeat("0", 64)}), http.StatusConflict, ceremony.CodeIncomplete)
	w.refused(id, s, alice.post("/s/api/refuse", map[string]string{"reason": "non"}), http.StatusConflict, ceremony.CodeIncomplete)
	w.refused(id, s, alice.post("/s/api/code/verify", map[string]string{"code": "123456"}), http.StatusConflict, ceremony.CodeConsentRequired)
	w.refused(id, s, alice.post("/s/api/code", nil), http.StatusConflict, ceremony.CodeConsentRequired)
	w.refused(id, s, alice.fill(map[string]string{"bob_city": "Paris"}), http.StatusForbidden, ceremony.CodeFieldNotYours)
	w.refused(id, s, alice.fill(map[string]string{"nope": "x"}), http.StatusNotFound, ceremony.CodeFieldNotFound)
	w.refused(id, s, alice.fill(map[string]string{"alice_iban": "FR1"}), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.refused(id, s, alice.fill(map[string]string{"alice_city": ""}), http.StatusUnprocessableEntity, ceremony.CodeFieldInvalid)
	w.refused(id, s, alice.fill(map[string]string{"alice_city": "a\x00b"}), http.StatusUnprocessableEntity, ceremony.CodeFieldInvalid)
	w.refused(id, s, alice.post("/s/api/fields", map[string]any{"values": map[string]string{}, "extra": 1}), http.StatusBadRequest, "bad_json")

	// Every page of document 1 but no field: document 2 stays locked.
	for p := 1; p <= 3; p++ {
		if r := alice.readPage(1, p); r.Status != http.StatusOK {
			t.Fatalf("read: %d %s", r.Status, r.Body)
		}
	}
	if got := w.lastEvents(id, 2); got[0] != "page.read" || got[1] != "document.read" {
		t.Fatalf("last events %v", got)
	}
	s = w.snap(id)
	// A page already read is acknowledged without a new event.
	if r := alice.readPage(1, 2); r.Status != http.StatusOK || w.snap(id) != s {
		t.Fatalf("re-read: %d, state changed: %v", r.Status, w.snap(id) != s)
	}
	w.refused(id, s, alice.readPage(2, 1), http.StatusConflict, ceremony.CodeDocumentLocked)
	if r := alice.fill(map[string]string{"alice_city": "Lyon"}); r.Status != http.StatusOK {
		t.Fatalf("fill: %d %s", r.Status, r.Body)
	}
	s = w.snap(id)
	w.refused(id, s, alice.readPage(1, 1), http.StatusConflict, ceremony.CodeNotCurrentDocument)
	for p := 1; p <= 2; p++ {
		alice.readPage(2, p)
	}
	s = w.snap(id)
	w.refused(id, s, alice.fill(map[string]string{"alice_iban": "DE1234"}), http.StatusUnprocessableEntity, ceremony.CodeFieldInvalid)
	w.refused(id, s, alice.fill(map[string]string{"alice_iban": "FR123456789012345"}), http.StatusUnprocessableEntity, ceremony.CodeFieldInvalid)
	w.refused(id, s, alice.post("/s/api/sign", map[string]string{"consent_digest": strings.Repeat("0", 64)}), http.StatusConflict, ceremony.CodeIncomplete)
	alice.fill(map[string]string{"alice_iban": "FR123456789012"})
	s = w.snap(id)
	w.refused(id, s, alice.post("/s/api/sign", map[string]string{"consent_digest": strings.Repeat("0", 64)}), http.StatusUnprocessableEntity, ceremony.CodeConsentMismatch)
	w.refused(id, s, alice.post("/s/api/refuse", map[string]string{"reason": " \n\t "}), http.StatusUnprocessableEntity, ceremony.CodeReasonRequired)
	w.refused(id, s, alice.post("/s/api/refuse", map[string]string{}), http.StatusUnprocessableEntity, ceremony.CodeReasonRequired)
	w.refused(id, s, alice.post("/s/api/refuse", map[string]string{"reason": strings.Repeat("é", 2001)}), http.StatusUnprocessableEntity, ceremony.CodeReasonTooLong)

	// Refusal with a reason declines the envelope; afterwards every action is refused.
	if r := alice.post("/s/api/refuse", map[string]string{"reason": "Le prix ne correspond pas."}); r.Status != http.StatusOK {
		t.Fatalf("refuse: %d %s", r.Status, r.Body)
	}
	if got := w.lastEvents(id, 2); got[0] != "signer.refused" || got[1] != "envelope.declined" {
		t.Fatalf("refusal events %v", got)
	}
	s = w.snap(id)
	w.refused(id, s, alice.readPage(1, 1), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.refused(id, s, alice.post("/s/api/refuse", map[string]string{"reason": "encore"}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.refused(id, s, alice.consent(), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.refused(id, s, w.api("POST", "/api/v1/envelopes/"+id+"/void", map[string]string{"reason": "x"}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	if n := w.mailsTo("bob@example.org"); n != 0 {
		t.Fatalf("bob was invited to a declined envelope")
	}
}

// TestSkippedPage has Alice read the first document with page 2 left out and fill her field in
// it: the document is not read, so the next document stays closed (download, page, field) and
// she can neither sign nor refuse nor ask for a code; each refusal changes nothing. Reading the
// skipped page completes the document (document.read) and opens the next one.
func TestSkippedPage(t *testing.T) {
	w, id, alice := aliceOpen(t)
	for _, p := range []int{1, 3} {
		if r := alice.readPage(1, p); r.Status != http.StatusOK {
			t.Fatalf("read 1/%d: %d %s", p, r.Status, r.Body)
		}
	}
	if r := alice.fill(map[string]string{"alice_city": "Lyon"}); r.Status != http.StatusOK {
		t.Fatalf("fill: %d %s", r.Status, r.Body)
	}
	for _, typ := range w.lastEvents(id, 3) {
		if typ == ceremony.EvDocumentRead {
			t.Fatal("document.read recorded with a page left out")
		}
	}
	if st := alice.state(); st.Current != 1 || !st.Documents[0].Accessible || st.Documents[1].Accessible || st.ReadyToDecide || st.Consent != nil {
		t.Fatalf("state with a page left out: %+v", st)
	}
	s := w.snap(id)
	before := w.settle(id)
	w.refused(id, s, alice.get("/s/api/documents/2"), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.refused(id, s, alice.readPage(2, 1), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.refused(id, s, alice.readPage(2, 2), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.refused(id, s, alice.fill(map[string]string{"alice_iban": "FR123456789012"}), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.refused(id, s, alice.fill(map[string]string{"alice_city": "Paris", "alice_iban": "FR123456789012"}), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.refused(id, s, alice.post("/s/api/sign", map[string]string{"consent_digest": strings.Repeat("0", 64)}), http.StatusConflict, ceremony.CodeIncomplete)
	w.refused(id, s, alice.post("/s/api/refuse", map[string]string{"reason": "Je refuse."}), http.StatusConflict, ceremony.CodeIncomplete)
	w.refused(id, s, alice.post("/s/api/code", nil), http.StatusConflict, ceremony.CodeConsentRequired)
	w.refused(id, s, alice.post("/s/api/code/verify", map[string]string{"code": "123456"}), http.StatusConflict, ceremony.CodeConsentRequired)
	w.unchanged("actions with a page left out", before)
	if n := len(w.sms.Messages()); n != 0 {
		t.Fatalf("%d SMS sent before the reading was complete", n)
	}

	// The skipped page completes the document and opens the next one.
	if r := alice.readPage(1, 2); r.Status != http.StatusOK {
		t.Fatalf("read 1/2: %d %s", r.Status, r.Body)
	}
	if got := w.lastEvents(id, 2); got[0] != ceremony.EvPageRead || got[1] != ceremony.EvDocumentRead {
		t.Fatalf("events after the skipped page: %v", got)
	}
	if r := alice.get("/s/api/documents/2"); r.Status != http.StatusOK {
		t.Fatalf("document 2 after reading 1: %d %s", r.Status, r.Body)
	}
}

// ready makes Alice read and fill everything.
func ready(t *testing.T) (*world, string, *party) {
	w, id, alice := aliceOpen(t)
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	return w, id, alice
}

func TestCodeLockout(t *testing.T) {
	w, id, alice := ready(t)
	if r := alice.consent(); r.Status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	code := w.sms.LastCodeFor(alice.phone)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	s := w.snap(id)
	w.refused(id, s, alice.post("/s/api/code/verify", map[string]string{"code": "12345"}), http.StatusUnprocessableEntity, ceremony.CodeCodeFormat)
	w.refused(id, s, alice.post("/s/api/code/verify", map[string]string{"code": "12345a"}), http.StatusUnprocessableEntity, ceremony.CodeCodeFormat)
	w.refused(id, s, alice.consent(), http.StatusConflict, ceremony.CodeConsentGiven)
	w.refused(id, s, alice.post("/s/api/code", nil), http.StatusTooManyRequests, ceremony.CodeResendTooSoon)
	for i := 1; i <= 4; i++ {
		r := alice.post("/s/api/code/verify", map[string]string{"code": wrong})
		if r.Status != http.StatusUnprocessableEntity || r.errCode() != ceremony.CodeCodeWrong {
			t.Fatalf("wrong code %d: %d %s", i, r.Status, r.Body)
		}
		if got := w.lastEvents(id, 1); got[0] != "otp.failed" {
			t.Fatalf("wrong code %d recorded as %v", i, got)
		}
	}
	r := alice.post("/s/api/code/verify", map[string]string{"code": wrong})
	if r.Status != http.StatusLocked || r.errCode() != ceremony.CodeLocked {
		t.Fatalf("fifth wrong code: %d %s", r.Status, r.Body)
	}
	if got := w.lastEvents(id, 2); got[0] != "otp.failed" || got[1] != "otp.locked" {
		t.Fatalf("lock events %v", got)
	}
	s = w.snap(id)
	w.refused(id, s, alice.post("/s/api/code/verify", map[string]string{"code": code}), http.StatusLocked, ceremony.CodeLocked)
	w.refused(id, s, alice.readPage(1, 1), http.StatusLocked, ceremony.CodeLocked)
	w.clock.Advance(2 * time.Minute)
	w.refused(id, s, alice.post("/s/api/code", nil), http.StatusLocked, ceremony.CodeLocked)

	// Only the sender can re-invite; then a fresh code works.
	w.refused(id, s, w.api("POST", "/api/v1/envelopes/"+id+"/signers/bob/reinvite", nil), http.StatusConflict, ceremony.CodeNotLocked)
	if r := w.api("POST", "/api/v1/envelopes/"+id+"/signers/alice/reinvite", nil); r.Status != http.StatusOK {
		t.Fatalf("reinvite: %d %s", r.Status, r.Body)
	}
	alice2 := w.party(alice.phone)
	if r := alice2.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open new link: %d %s", r.Status, r.Body)
	}
	if r := alice2.consent(); r.Status != http.StatusOK {
		t.Fatalf("consent again: %d %s", r.Status, r.Body)
	}
	if r := alice2.post("/s/api/code/verify", map[string]string{"code": code}); r.errCode() != ceremony.CodeCodeWrong {
		t.Fatalf("the old code still works: %d %s", r.Status, r.Body)
	}
	fresh := w.sms.LastCodeFor(alice.phone)
	if r := alice2.post("/s/api/code/verify", map[string]string{"code": fresh}); r.Status != http.StatusOK {
		t.Fatalf("fresh code: %d %s", r.Status, r.Body)
	}
	s = w.snap(id)
	// The code cannot be replayed.
	w.refused(id, s, alice2.post("/s/api/code/verify", map[string]string{"code": fresh}), http.StatusConflict, ceremony.CodeSignerFinished)
}

func TestCodeExpiryAndResendLimits(t *testing.T) {
	w, id, alice := ready(t)
	alice.consent()
	code := w.sms.LastCodeFor(alice.phone)
	w.clock.Advance(10*time.Minute + time.Second)
	r := alice.post("/s/api/code/verify", map[string]string{"code": code})
	if r.Status != http.StatusConflict || r.errCode() != ceremony.CodeCodeExpired {
		t.Fatalf("expired code: %d %s", r.Status, r.Body)
	}
	if got := w.lastEvents(id, 1); got[0] != "otp.failed" {
		t.Fatalf("expired code recorded as %v", got)
	}
	s := w.snap(id)
	w.refused(id, s, alice.post("/s/api/code/verify", map[string]string{"code": code}), http.StatusConflict, ceremony.CodeNoCode)
	// Resends: at least 60 s apart, at most 5 in an hour (the first send counts).
	for i := 2; i <= 5; i++ {
		if r := alice.post("/s/api/code", nil); r.Status != http.StatusOK {
			t.Fatalf("send %d: %d %s", i, r.Status, r.Body)
		}
		s = w.snap(id)
		w.refused(id, s, alice.post("/s/api/code", nil), http.StatusTooManyRequests, ceremony.CodeResendTooSoon)
		w.clock.Advance(61 * time.Second)
	}
	s = w.snap(id)
	w.refused(id, s, alice.post("/s/api/code", nil), http.StatusTooManyRequests, ceremony.CodeSendLimit)
	if n := len(w.sms.Messages()); n != 5 {
		t.Fatalf("%d SMS sent, want 5", n)
	}
	w.clock.Advance(time.Hour)
	if r := alice.post("/s/api/code", nil); r.Status != http.StatusOK {
		t.Fatalf("send after an hour: %d %s", r.Status, r.Body)
	}
}

func TestAnotherSignersCode(t *testing.T) {
	w := newWorld(t)
	m := seedManifest()
	m["order"] = "parallel"
	id := w.sentEnvelope(m)
	alice, bob := w.party("+33612345678"), w.party("+447700900123")
	alice.open(w.lastMailTo("alice@example.org").Link())
	bob.open(w.lastMailTo("bob@example.org").Link())
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	bob.readAll(map[string]string{"bob_city": "London", "bob_initials": "BS"})
	alice.consent()
	bob.consent()
	bobCode, aliceCode := w.sms.LastCodeFor(bob.phone), w.sms.LastCodeFor(alice.phone)
	if bobCode == aliceCode {
		t.Skip("both codes drew the same 6 digits")
	}
	before := w.settle(id)
	r := alice.post("/s/api/code/verify", map[string]string{"code": bobCode})
	if r.Status != http.StatusUnprocessableEntity || r.errCode() != ceremony.CodeCodeWrong {
		t.Fatalf("bob's code for alice: %d %s", r.Status, r.Body)
	}
	var wrong struct {
		Error struct {
			Detail struct {
				AttemptsLeft int `json:"attempts_left"`
			}
		}
		Events []ceremony.EventRef
	}
	r.json(t, &wrong)
	if wrong.Error.Detail.AttemptsLeft != 4 || len(wrong.Events) != 1 || wrong.Events[0].Type != ceremony.EvOTPFailed {
		t.Fatalf("bob's code for alice answered %s", r.Body)
	}
	// One event, otp.failed for Alice (who submitted it), in the timeline and the ledger.
	after := w.settle(id)
	if after.events[id] != before.events[id]+1 || after.ledger != before.ledger+1 {
		t.Fatalf("bob's code for alice recorded %d events, %d ledger entries", after.events[id]-before.events[id], after.ledger-before.ledger)
	}
	tl, _ := w.svc.Timeline(context.Background(), id)
	if last := tl[len(tl)-1]; last.Event.Type != ceremony.EvOTPFailed || last.Event.Signer != "alice" || last.Event.ID != wrong.Events[0].ID || last.Receipt == nil {
		t.Fatalf("bob's code for alice recorded as %+v", last)
	}
	if a, b := alice.state().Code, bob.state().Code; a == nil || a.AttemptsLeft != 4 || b == nil || b.AttemptsLeft != 5 || !b.Active {
		t.Fatalf("attempts left: alice %+v, bob %+v", a, b)
	}
	if r := alice.post("/s/api/code/verify", map[string]string{"code": aliceCode}); r.Status != http.StatusOK {
		t.Fatalf("alice's code: %d %s", r.Status, r.Body)
	}
	if r := bob.post("/s/api/code/verify", map[string]string{"code": bobCode}); r.Status != http.StatusOK {
		t.Fatalf("bob's code: %d %s", r.Status, r.Body)
	}
	e, _ := w.svc.Envelope(context.Background(), id)
	if e.Status != ceremony.StatusCompleted {
		t.Fatalf("parallel envelope is %s", e.Status)
	}
}

func TestLinksSessionsAndCSRF(t *testing.T) {
	w, id, alice := aliceOpen(t)
	s := w.snap(id)
	link := w.lastMailTo("alice@example.org").Link()
	token := link[strings.LastIndex(link, "/")+1:]
	tampered := token[:10] + string(rune('A'+(token[10]-'A'+1)%26)) + token[11:]
	stranger := w.party("")
	w.refused(id, s, stranger.open(w.srv.URL+"/s/"+tampered), http.StatusUnauthorized, "link_invalid")
	w.refused(id, s, stranger.open(w.srv.URL+"/s/"+token[:20]), http.StatusUnauthorized, "link_invalid")
	w.refused(id, s, stranger.get("/s/api/state"), http.StatusUnauthorized, "no_session")
	w.refused(id, s, stranger.readPage(1, 1), http.StatusUnauthorized, "no_session")

	// CSRF: missing, wrong, cross-site.
	csrf := alice.csrf
	alice.csrf = ""
	w.refused(id, s, alice.readPage(1, 1), http.StatusForbidden, "csrf_invalid")
	alice.csrf = csrf[:42] + "x"
	w.refused(id, s, alice.readPage(1, 1), http.StatusForbidden, "csrf_invalid")
	alice.csrf = csrf
	req, _ := http.NewRequest("POST", w.srv.URL+"/s/api/documents/1/pages/1/read", nil)
	req.Header.Set("X-CSRF-Token", csrf)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := alice.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site change: %d", resp.StatusCode)
	}

	// A browser is redirected off the token URL, with an HttpOnly SameSite=Strict cookie.
	browser := w.party("")
	req, _ = http.NewRequest("GET", link, nil)
	resp, err = browser.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/s/" {
		t.Fatalf("browser exchange: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/s/" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("cookie %+v", c)
	}

	// Another envelope's session cannot see this envelope's events.
	id2 := w.sentEnvelope(seedManifest())
	other := w.party("")
	other.open(w.lastMailTo("alice@example.org").Link())
	if st := other.state(); st.Envelope.ID != id2 {
		t.Fatalf("the second link opened envelope %s", st.Envelope.ID)
	}
	tl, _ := w.svc.Timeline(context.Background(), id)
	if r := other.get("/s/api/receipts/" + tl[0].Event.ID); r.Status != http.StatusNotFound {
		t.Fatalf("receipt of another envelope: %d", r.Status)
	}

	// Voiding revokes links and sessions.
	if r := w.api("POST", "/api/v1/envelopes/"+id+"/void", map[string]string{"reason": "Erreur de prix"}); r.Status != http.StatusOK {
		t.Fatalf("void: %d %s", r.Status, r.Body)
	}
	s = w.snap(id)
	w.refused(id, s, alice.readPage(1, 1), http.StatusUnauthorized, "link_invalid")
	w.refused(id, s, w.party("").open(link), http.StatusUnauthorized, "link_invalid")
	w.refused(id, s, w.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
}

// stateKeys counts the keys under prefix in the appliance's state database.
func (w *world) stateKeys(prefix string) int {
	w.t.Helper()
	n := 0
	err := w.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func TestMalformedEnvelopes(t *testing.T) {
	w := newWorld(t)
	stateKeys := w.stateKeys("ceremony/") // what the service stores when it starts (its code key…)
	files := seedFiles()
	docs := filepath.Join(w.dir, "documents")
	count := func() int {
		n := 0
		filepath.Walk(docs, func(_ string, fi os.FileInfo, _ error) error {
			if fi != nil && !fi.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	problems := func(r reply) map[string]string {
		t.Helper()
		if r.Status != http.StatusUnprocessableEntity || r.errCode() != "invalid_envelope" {
			t.Fatalf("want 422 invalid_envelope, got %d %s", r.Status, r.Body)
		}
		var v struct {
			Error struct{ Problems []ceremony.Problem }
		}
		r.json(t, &v)
		out := map[string]string{}
		for _, p := range v.Error.Problems {
			out[p.Path] = p.Message
		}
		return out
	}
	// Many problems at once, each with its path.
	m := seedManifest()
	sg := m["signers"].([]map[string]any)
	sg[0]["email"] = "alice at example"
	sg[1]["phone"] = "07700 900123"
	sg[1]["locale"] = "de"
	dd := m["documents"].([]map[string]any)
	f0 := dd[0]["fields"].([]map[string]any)
	f0[0]["rect"] = map[string]float64{"x": 500, "y": 800, "w": 200, "h": 100}
	f0[1]["page"] = 9
	f0[1]["signer"] = "carol"
	f1 := dd[1]["fields"].([]map[string]any)
	f1[0]["pattern"] = "FR[0-9"
	m["order"] = "random"
	bad := map[string][]byte{"compromis.pdf": files["compromis.pdf"], "annexe.pdf": []byte("%PDF-1.7\nnot really")}
	got := problems(w.upload(m, bad))
	for _, path := range []string{"signers/0/email", "signers/1/phone", "signers/1/locale", "documents/0/fields/0/rect", "documents/0/fields/1/page",
		"documents/0/fields/1/signer", "documents/1/fields/0/pattern", "documents/1/file", "order"} {
		if got[path] == "" {
			t.Errorf("no problem reported at %s (got %v)", path, got)
		}
	}
	if count() != 0 {
		t.Fatalf("%d documents stored for an invalid envelope", count())
	}
	// Structural problems.
	if p := problems(w.upload(nil, files)); p["manifest"] == "" {
		t.Errorf("missing manifest: %v", p)
	}
	if p := problems(w.upload("{not json", files)); p["manifest"] == "" {
		t.Errorf("bad json: %v", p)
	}
	if p := problems(w.upload(`{"title":"x","surprise":1}`, files)); p["manifest"] == "" {
		t.Errorf("unknown field: %v", p)
	}
	if p := problems(w.upload(`{"title":1}`, files)); p["manifest/title"] == "" {
		t.Errorf("wrong type: %v", p)
	}
	if p := problems(w.upload(seedManifest(), map[string][]byte{"compromis.pdf": files["compromis.pdf"], "annexe.pdf": []byte("GIF89a")})); p["documents/1/file"] == "" {
		t.Errorf("not a PDF: %v", p)
	}
	extra := seedFiles()
	extra["extra.pdf"] = files["annexe.pdf"]
	if p := problems(w.upload(seedManifest(), extra)); p["files/extra.pdf"] == "" {
		t.Errorf("unused file: %v", p)
	}
	if count() != 0 {
		t.Fatalf("%d documents stored after invalid envelopes", count())
	}
	// Nor any envelope record, token, event or due item in Badger, nor any ledger event.
	if n := w.stateKeys("ceremony/"); n != stateKeys {
		t.Fatalf("%d ceremony keys stored after invalid envelopes, %d before", n, stateKeys)
	}
	for _, prefix := range []string{"ceremony/env/", "ceremony/ev/", "ceremony/evid/", "ceremony/token/", "ceremony/active/", "ceremony/due/", "ceremony/pending/"} {
		if n := w.stateKeys(prefix); n != 0 {
			t.Fatalf("%d keys under %s after invalid envelopes", n, prefix)
		}
	}
	time.Sleep(50 * time.Millisecond) // time for a checkpoint over any appended event
	if cp, err := w.ledger.Log.Checkpoint(context.Background()); err != nil || cp.Size != 0 {
		t.Fatalf("the ledger holds %d events after invalid envelopes (%v)", cp.Size, err)
	}
	// Authentication and ownership.
	r := do(t, http.DefaultClient, "GET", w.srv.URL+"/api/v1/envelopes/x", nil, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", r.Status)
	}
	r = do(t, http.DefaultClient, "GET", w.srv.URL+"/api/v1/envelopes/x", map[string]string{"Authorization": "Bearer " + strings.Repeat("A", 43)}, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", r.Status)
	}
	id := w.sentEnvelope(seedManifest())
	if r := w.api("POST", "/api/v1/envelopes/"+id+"/send", nil); r.Status != http.StatusConflict || r.errCode() != ceremony.CodeEnvelopeNotDraft {
		t.Fatalf("send twice: %d %s", r.Status, r.Body)
	}
	if r := w.api("GET", "/api/v1/envelopes/"+id+"/documents/compromis", nil); r.Status != http.StatusConflict || r.errCode() != ceremony.CodeNotSigned {
		t.Fatalf("download unsigned: %d %s", r.Status, r.Body)
	}
	other, _ := api.NewKey()
	if err := api.RegisterKey(context.Background(), w.db, "other-office", other); err != nil {
		t.Fatal(err)
	}
	r = do(t, http.DefaultClient, "GET", w.srv.URL+"/api/v1/envelopes/"+id, map[string]string{"Authorization": "Bearer " + other}, nil)
	if r.Status != http.StatusNotFound || r.errCode() != ceremony.CodeEnvelopeNotFound {
		t.Fatalf("another key's envelope: %d %s", r.Status, r.Body)
	}
	if err := api.RegisterKey(context.Background(), w.db, "other-office", other); err != nil {
		t.Fatalf("registering the same key twice: %v", err)
	}
	if err := api.RegisterKey(context.Background(), w.db, "thief", other); err == nil {
		t.Fatal("the same key registered under a second name")
	}
}
