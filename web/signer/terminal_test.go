package signer_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
)

// settled is what the sender and the ledger see of some envelopes once every event of theirs
// has its receipt: the GET /api/v1/envelopes/{id} answer (the envelope and its timeline), the
// number of events, and the size of the ledger.
type settled struct {
	envelopes map[string]string
	events    map[string]int
	ledger    uint64
}

// receipted waits until every event of the envelope has its receipt, and returns the number
// of events.
func (w *world) receipted(id string) int {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tl, err := w.svc.Timeline(context.Background(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		done := true
		for _, e := range tl {
			done = done && e.Receipt != nil
		}
		if done {
			return len(tl)
		}
		if time.Now().After(deadline) {
			w.t.Fatal("receipts did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle returns the settled view of the envelopes.
func (w *world) settle(ids ...string) settled {
	w.t.Helper()
	s := settled{envelopes: map[string]string{}, events: map[string]int{}}
	for _, id := range ids {
		s.events[id] = w.receipted(id)
		r := w.api("GET", "/api/v1/envelopes/"+id, nil)
		if r.Status != http.StatusOK {
			w.t.Fatalf("get %s: %d %s", id, r.Status, r.Body)
		}
		s.envelopes[id] = string(r.Body)
	}
	cp, err := w.ledger.Log.Checkpoint(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	s.ledger = cp.Size
	return s
}

// unchanged fails the test if any of the envelopes of before, or the ledger, changed.
func (w *world) unchanged(what string, before settled) {
	w.t.Helper()
	var ids []string
	for id := range before.envelopes {
		ids = append(ids, id)
	}
	after := w.settle(ids...)
	var diffs []string
	for _, id := range ids {
		if after.events[id] != before.events[id] {
			diffs = append(diffs, fmt.Sprintf("envelope %s: %d → %d events (last %v)", id, before.events[id], after.events[id], w.lastEvents(id, after.events[id]-before.events[id])))
		} else if after.envelopes[id] != before.envelopes[id] {
			diffs = append(diffs, fmt.Sprintf("envelope %s: the sender's view changed:\n%s\n→\n%s", id, before.envelopes[id], after.envelopes[id]))
		}
	}
	if after.ledger != before.ledger {
		diffs = append(diffs, fmt.Sprintf("the ledger grew from %d to %d entries", before.ledger, after.ledger))
	}
	if len(diffs) > 0 {
		w.t.Fatalf("%s changed the state:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// rejected checks that an answer is the precise error and that it changed none of the
// envelopes of before, nor the ledger.
func (w *world) rejected(what string, before settled, r reply, status int, code string) {
	w.t.Helper()
	if r.Status != status || r.errCode() != code {
		w.t.Fatalf("%s: want %d %s, got %d %s", what, status, code, r.Status, r.Body)
	}
	w.unchanged(what, before)
}

// action is one step a signer can ask for.
type action struct {
	name string
	do   func() reply
}

// signerActions are every state-changing step of a signer, each with a well-formed body:
// reading a page, filling one of their fields, refusing with a reason, choosing to sign,
// asking for a code and entering one.
func signerActions(p *party, field, code string) []action {
	return []action{
		{"read page 1/1", func() reply { return p.readPage(1, 1) }},
		{"read page 2/1", func() reply { return p.readPage(2, 1) }},
		{"fill " + field, func() reply { return p.fill(map[string]string{field: "Paris"}) }},
		{"refuse", func() reply { return p.post("/s/api/refuse", map[string]string{"reason": "Je ne suis pas d'accord."}) }},
		{"sign", func() reply {
			return p.post("/s/api/sign", map[string]string{"consent_digest": strings.Repeat("0", 64)})
		}},
		{"ask for a code", func() reply { return p.post("/s/api/code", nil) }},
		{"enter a code", func() reply { return p.post("/s/api/code/verify", map[string]string{"code": code}) }},
	}
}

// TestActionsAfterCompletion completes the seed's envelope, then tries every signer step with
// each party's session (replaying their own code too) and the sender's steps: each is refused
// with 409 envelope_not_active, and neither the envelope, its timeline nor the ledger changes.
func TestActionsAfterCompletion(t *testing.T) {
	w := newWorld(t)
	id := w.sentEnvelope(seedManifest())
	alice := w.party("+33612345678")
	if r := alice.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	alice.consent()
	aliceCode := w.sms.LastCodeFor(alice.phone)
	if r := alice.post("/s/api/code/verify", map[string]string{"code": aliceCode}); r.Status != http.StatusOK {
		t.Fatalf("alice verify: %d %s", r.Status, r.Body)
	}
	bob := w.party("+447700900123")
	bobLink := w.lastMailTo("bob@example.org").Link()
	if r := bob.open(bobLink); r.Status != http.StatusOK {
		t.Fatalf("bob open: %d %s", r.Status, r.Body)
	}
	bob.readAll(map[string]string{"bob_city": "London", "bob_initials": "BS"})
	bob.consent()
	bobCode := w.sms.LastCodeFor(bob.phone)
	if r := bob.post("/s/api/code/verify", map[string]string{"code": bobCode}); r.Status != http.StatusOK {
		t.Fatalf("bob verify: %d %s", r.Status, r.Body)
	}
	if st := bob.state(); st.Envelope.Status != ceremony.StatusCompleted {
		t.Fatalf("envelope is %s", st.Envelope.Status)
	}
	before := w.settle(id)
	for _, p := range []struct {
		who   string
		party *party
		field string
		code  string
	}{{"alice", alice, "alice_city", aliceCode}, {"bob", bob, "bob_city", bobCode}} {
		for _, a := range signerActions(p.party, p.field, p.code) {
			w.rejected(p.who+": "+a.name+" after completion", before, a.do(), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
		}
	}
	// The sender cannot void, remind or re-invite a completed envelope either.
	w.rejected("void after completion", before, w.api("POST", "/api/v1/envelopes/"+id+"/void", map[string]string{"reason": "Erreur"}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	// Reminding everyone finds nobody waiting (docs/API.md); reminding one signer names the rule.
	w.rejected("remind after completion", before, w.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{}), http.StatusConflict, "nobody_to_remind")
	w.rejected("remind alice after completion", before, w.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{"signer": "alice"}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.rejected("reinvite after completion", before, w.api("POST", "/api/v1/envelopes/"+id+"/signers/alice/reinvite", nil), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.rejected("send after completion", before, w.api("POST", "/api/v1/envelopes/"+id+"/send", nil), http.StatusConflict, ceremony.CodeEnvelopeNotDraft)
	// Reopening a link of a completed envelope records nothing (no link.opened).
	if r := w.party(bob.phone).open(bobLink); r.Status != http.StatusOK {
		t.Fatalf("reopen: %d %s", r.Status, r.Body)
	}
	w.unchanged("reopening the link after completion", before)
}

// TestActionsAfterExpiry lets the envelope's deadline pass while Alice has chosen to sign and
// holds a code: before the scheduler records the expiry and after it, every step of Alice's
// (the code she was sent included) and of Bob's is refused with 409 envelope_not_active, and
// nothing changes but the one envelope.expired event.
func TestActionsAfterExpiry(t *testing.T) {
	w := newWorld(t)
	m := seedManifest()
	m["expires_in"] = "2h"
	m["reminders"] = []string{}
	id := w.sentEnvelope(m)
	alice := w.party("+33612345678")
	if r := alice.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	if r := alice.consent(); r.Status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	code := w.sms.LastCodeFor(alice.phone)
	w.clock.Advance(2*time.Hour - 5*time.Minute)
	// Bob is not invited yet (sequential order); his turn never comes.
	before := w.settle(id)
	w.clock.Advance(5*time.Minute + time.Second)
	for _, a := range signerActions(alice, "alice_city", code) {
		w.rejected("alice: "+a.name+" past the deadline", before, a.do(), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	}
	w.rejected("download past the deadline", before, alice.get("/s/api/documents/1"), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.rejected("remind past the deadline", before, w.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)

	// The scheduler records the expiry: one envelope.expired event.
	if err := w.svc.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.lastEvents(id, 1); got[0] != ceremony.EvEnvelopeExpired {
		t.Fatalf("last event %v, want envelope.expired", got)
	}
	after := w.settle(id)
	if after.events[id] != before.events[id]+1 {
		t.Fatalf("expiry recorded %d events", after.events[id]-before.events[id])
	}
	var env struct{ Status ceremony.Status }
	w.api("GET", "/api/v1/envelopes/"+id, nil).json(t, &env)
	if env.Status != ceremony.StatusExpired {
		t.Fatalf("envelope is %s", env.Status)
	}
	before = after
	for _, a := range signerActions(alice, "alice_city", code) {
		w.rejected("alice: "+a.name+" after expiry", before, a.do(), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	}
	w.rejected("void after expiry", before, w.api("POST", "/api/v1/envelopes/"+id+"/void", map[string]string{"reason": "Erreur"}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.rejected("remind after expiry", before, w.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.rejected("reinvite after expiry", before, w.api("POST", "/api/v1/envelopes/"+id+"/signers/bob/reinvite", nil), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	// Running the scheduler again records nothing more, and Bob is never invited.
	if err := w.svc.RunDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.unchanged("the scheduler after expiry", before)
	if n := w.mailsTo("bob@example.org"); n != 0 {
		t.Fatalf("bob got %d emails for an expired envelope", n)
	}
}
