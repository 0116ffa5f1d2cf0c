package signer_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/web/api"
)

// TestAnotherEnvelopesSession gives Alice two envelopes (the same signer id, "alice", in both)
// and mixes them up: one envelope's session with the other's CSRF token, one's events asked
// for through the other's session, progress made in one used in the other, one's code entered
// in the other, and another API key acting on it. Each is refused with its precise code; the
// envelope under attack (its sender's view, timeline and ledger events) never changes, and
// the other changes only by the otp.failed its own signer's wrong code records.
func TestAnotherEnvelopesSession(t *testing.T) {
	w := newWorld(t)
	idA := w.sentEnvelope(seedManifest())
	inA := w.party("+33612345678")
	if r := inA.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open A: %d %s", r.Status, r.Body)
	}
	idB := w.sentEnvelope(seedManifest())
	inB := w.party("+33612345678")
	if r := inB.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open B: %d %s", r.Status, r.Body)
	}
	if inA.state().Envelope.ID != idA || inB.state().Envelope.ID != idB {
		t.Fatal("the sessions opened the wrong envelopes")
	}
	// In A, Alice completes the first document: the second opens to her there, not in B.
	for p := 1; p <= 3; p++ {
		inA.readPage(1, p)
	}
	if r := inA.fill(map[string]string{"alice_city": "Lyon"}); r.Status != http.StatusOK {
		t.Fatalf("fill in A: %d %s", r.Status, r.Body)
	}
	before := w.settle(idA, idB)

	// B's session with A's CSRF token, and A's session with B's.
	mixed := &party{w: w, c: inB.c, csrf: inA.csrf}
	w.rejected("B's session with A's CSRF token", before, mixed.readPage(1, 1), http.StatusForbidden, "csrf_invalid")
	w.rejected("B's session with A's CSRF token", before, mixed.fill(map[string]string{"alice_city": "Paris"}), http.StatusForbidden, "csrf_invalid")
	mixed = &party{w: w, c: inA.c, csrf: inB.csrf}
	w.rejected("A's session with B's CSRF token", before, mixed.readPage(2, 1), http.StatusForbidden, "csrf_invalid")
	w.rejected("A's session with B's CSRF token", before, mixed.post("/s/api/refuse", map[string]string{"reason": "non"}), http.StatusForbidden, "csrf_invalid")

	// A's events are not B's: its receipts are not found through B's session.
	tlA, _ := w.svc.Timeline(context.Background(), idA)
	for _, e := range tlA {
		w.rejected("A's receipt through B's session", before, inB.get("/s/api/receipts/"+e.Event.ID), http.StatusNotFound, "event_not_found")
	}
	// A's progress does not carry over to B: there, the second document is still locked.
	w.rejected("B's second document", before, inB.get("/s/api/documents/2"), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.rejected("B's second document", before, inB.readPage(2, 1), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.rejected("B's second document's field", before, inB.fill(map[string]string{"alice_iban": "FR123456789012"}), http.StatusConflict, ceremony.CodeDocumentLocked)
	w.rejected("refusing B unread", before, inB.post("/s/api/refuse", map[string]string{"reason": "non"}), http.StatusConflict, ceremony.CodeIncomplete)
	if st := inB.state(); st.Current != 1 || st.Documents[1].Accessible {
		t.Fatalf("B's state took A's progress: %+v", st)
	}

	// Another API key sees neither envelope and can change neither.
	other, _ := api.NewKey()
	if err := api.RegisterKey(context.Background(), w.db, "other-office", other); err != nil {
		t.Fatal(err)
	}
	as := func(method, path string, body string) reply {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		return do(t, http.DefaultClient, method, w.srv.URL+path, map[string]string{"Authorization": "Bearer " + other, "Content-Type": "application/json"}, rd)
	}
	for _, id := range []string{idA, idB} {
		w.rejected("another key's GET", before, as("GET", "/api/v1/envelopes/"+id, ""), http.StatusNotFound, ceremony.CodeEnvelopeNotFound)
		w.rejected("another key's void", before, as("POST", "/api/v1/envelopes/"+id+"/void", `{"reason":"Erreur"}`), http.StatusNotFound, ceremony.CodeEnvelopeNotFound)
		w.rejected("another key's remind", before, as("POST", "/api/v1/envelopes/"+id+"/remind", `{}`), http.StatusNotFound, ceremony.CodeEnvelopeNotFound)
		w.rejected("another key's reinvite", before, as("POST", "/api/v1/envelopes/"+id+"/signers/alice/reinvite", ""), http.StatusNotFound, ceremony.CodeEnvelopeNotFound)
		w.rejected("another key's receipt", before, as("GET", "/api/v1/envelopes/"+id+"/events/"+tlA[0].Event.ID+"/receipt", ""), http.StatusNotFound, ceremony.CodeEnvelopeNotFound)
	}
	// The owner's key cannot reach A's events through B either.
	w.rejected("A's receipt under B", before, w.api("GET", "/api/v1/envelopes/"+idB+"/events/"+tlA[0].Event.ID+"/receipt", nil), http.StatusNotFound, "event_not_found")

	// Alice chooses to sign in both; A's code entered in B is a wrong code for B: otp.failed
	// for Alice in B, nothing in A.
	inA.readPage(2, 1)
	inA.readPage(2, 2)
	if r := inA.fill(map[string]string{"alice_iban": "FR123456789012"}); r.Status != http.StatusOK {
		t.Fatalf("fill in A: %d %s", r.Status, r.Body)
	}
	inA.consent()
	codeA := w.sms.LastCodeFor(inA.phone)
	inB.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	inB.consent()
	codeB := w.sms.LastCodeFor(inB.phone)
	if codeA == codeB {
		t.Skip("both codes drew the same 6 digits")
	}
	before = w.settle(idA, idB)
	r := inB.post("/s/api/code/verify", map[string]string{"code": codeA})
	if r.Status != http.StatusUnprocessableEntity || r.errCode() != ceremony.CodeCodeWrong {
		t.Fatalf("A's code in B: %d %s", r.Status, r.Body)
	}
	tlB, _ := w.svc.Timeline(context.Background(), idB)
	if last := tlB[len(tlB)-1].Event; last.Type != ceremony.EvOTPFailed || last.Signer != "alice" {
		t.Fatalf("A's code in B recorded as %s for %q", last.Type, last.Signer)
	}
	if n := w.receipted(idB); n != before.events[idB]+1 {
		t.Fatalf("A's code in B recorded %d events", n-before.events[idB])
	}
	w.unchanged("A's code entered in B", settled{envelopes: map[string]string{idA: before.envelopes[idA]}, events: map[string]int{idA: before.events[idA]}, ledger: before.ledger + 1})
	if st := inA.state(); st.Code == nil || st.Code.AttemptsLeft != 5 {
		t.Fatalf("A's attempts: %+v", st.Code)
	}
	if st := inB.state(); st.Code == nil || st.Code.AttemptsLeft != 4 {
		t.Fatalf("B's attempts: %+v", st.Code)
	}
	// Each code still works where it belongs.
	if r := inA.post("/s/api/code/verify", map[string]string{"code": codeA}); r.Status != http.StatusOK {
		t.Fatalf("A's code in A: %d %s", r.Status, r.Body)
	}
	if r := inB.post("/s/api/code/verify", map[string]string{"code": codeB}); r.Status != http.StatusOK {
		t.Fatalf("B's code in B: %d %s", r.Status, r.Body)
	}
}
