package signer_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/ledger/verify"
)

// TestSeedFlow drives the seed's ceremony over HTTP: two signers in sequence, two documents
// with required fields, the link taken from the email and the code from the SMS; then checks
// the signed PDFs and every ledger event's inclusion proof.
func TestSeedFlow(t *testing.T) {
	w := newWorld(t)
	id := w.sentEnvelope(seedManifest())

	// Only Alice is invited: the order is sequential.
	if n := w.mailsTo("bob@example.org"); n != 0 {
		t.Fatalf("bob got %d emails before alice signed", n)
	}
	inv := w.lastMailTo("alice@example.org")
	if !strings.Contains(inv.HTML, "Accéder aux documents") || !strings.Contains(inv.Text, "Accéder aux documents") {
		t.Fatalf("french invitation lacks the button:\n%s", inv.HTML)
	}
	if !strings.Contains(inv.Subject, "Compromis de vente") {
		t.Fatalf("subject %q", inv.Subject)
	}
	alice := w.party("+33612345678")
	link := inv.Link()
	if link == "" {
		t.Fatalf("no link in:\n%s", inv.Text)
	}
	if r := alice.open(link); r.Status != http.StatusOK {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	st := alice.state()
	if st.Current != 1 || st.Documents[1].Accessible || st.ReadyToDecide {
		t.Fatalf("fresh state: %+v", st)
	}
	if r := alice.get("/s/api/documents/1"); r.Status != http.StatusOK || !bytes.HasPrefix(r.Body, []byte("%PDF-")) {
		t.Fatalf("download doc 1: %d", r.Status)
	}
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	if r := alice.consent(); r.Status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	code := w.sms.LastCodeFor("+33612345678")
	if code == "" {
		t.Fatal("no code by SMS")
	}
	r := alice.post("/s/api/code/verify", map[string]string{"code": code})
	if r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	var vr stateReply
	r.json(t, &vr)
	if vr.State.Signer.Status != ceremony.SignerSigned {
		t.Fatalf("alice is %s after her code", vr.State.Signer.Status)
	}
	if len(vr.Events) != 1 || vr.Events[0].Type != ceremony.EvOTPVerified {
		t.Fatalf("verify events: %+v", vr.Events)
	}
	if vr.Events[0].Pending || vr.Events[0].Receipt == nil {
		t.Fatalf("otp.verified answered without its receipt: %+v", vr.Events[0])
	}

	// Bob is invited now, in English.
	inv = w.lastMailTo("bob@example.org")
	if !strings.Contains(inv.HTML, "Access the documents") {
		t.Fatalf("english invitation lacks the button:\n%s", inv.HTML)
	}
	bob := w.party("+447700900123")
	if r := bob.open(inv.Link()); r.Status != http.StatusOK {
		t.Fatalf("bob open: %d %s", r.Status, r.Body)
	}
	bob.readAll(map[string]string{"bob_city": "London", "bob_initials": "BS"})
	if r := bob.consent(); r.Status != http.StatusOK {
		t.Fatalf("bob consent: %d %s", r.Status, r.Body)
	}
	if r := bob.post("/s/api/code/verify", map[string]string{"code": w.sms.LastCodeFor("+447700900123")}); r.Status != http.StatusOK {
		t.Fatalf("bob verify: %d %s", r.Status, r.Body)
	}

	// The envelope is complete; the sender sees it and downloads the signed documents.
	r = w.api("GET", "/api/v1/envelopes/"+id, nil)
	var env struct {
		Status    ceremony.Status
		Signers   []struct{ ID, Status string }
		Documents []struct {
			ID      string
			Signed  bool
			Current string `json:"current_sha256"`
		}
		Timeline []ceremony.TimelineEntry
	}
	r.json(t, &env)
	if env.Status != ceremony.StatusCompleted {
		t.Fatalf("envelope %s: %s", env.Status, r.Body)
	}
	for _, d := range env.Documents {
		r := w.api("GET", "/api/v1/envelopes/"+id+"/documents/"+d.ID, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("download %s: %d %s", d.ID, r.Status, r.Body)
		}
		if ceremony.Digest(r.Body) != d.Current {
			t.Fatalf("%s: downloaded bytes do not match the announced digest", d.ID)
		}
		sigs, final, err := ceremonytest.VerifySignatures(r.Body, w.ca)
		if err != nil {
			t.Fatalf("%s: %v", d.ID, err)
		}
		if !final || len(sigs) != 2 || sigs[0].Signer != "alice" || sigs[1].Signer != "bob" {
			t.Fatalf("%s: final=%v, %d signatures", d.ID, final, len(sigs))
		}
		if sigs[0].Cert.Subject.CommonName != "Alice Martin" || sigs[1].Cert.EmailAddresses[0] != "bob@example.org" {
			t.Fatalf("%s: certificates %v / %v", d.ID, sigs[0].Cert.Subject, sigs[1].Cert.EmailAddresses)
		}
	}

	// Every event is in the ledger with a valid inclusion proof, and each certificate is bound
	// to its signer's otp.verified leaf.
	tl := waitReceipts(t, w, id)
	want := []string{"envelope.created", "envelope.sent", "invitation.sent", "link.opened", "page.read", "field.completed", "document.read",
		"consent.given", "otp.sent", "otp.verified", "certificate.issued", "document.signed", "signer.completed", "envelope.completed"}
	seen := map[string]int{}
	verifier, err := verify.NewVerifier(w.ledger.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	otpLeaf := map[string]uint64{}
	for _, e := range tl {
		seen[e.Event.Type]++
		le, err := ceremony.ToLedgerEvent(e.Event)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := le.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(verify.LeafHash(leaf), e.Receipt.LeafHash) {
			t.Fatalf("%s: leaf hash differs from the receipt", e.Event.Type)
		}
		cp, err := verify.OpenCheckpoint(e.Receipt.Checkpoint, verifier, w.ledger.Origin)
		if err != nil {
			t.Fatalf("%s: checkpoint: %v", e.Event.Type, err)
		}
		if err := verify.Inclusion(cp, e.Receipt.Index, e.Receipt.LeafHash, e.Receipt.Proof); err != nil {
			t.Fatalf("%s #%d: inclusion: %v", e.Event.Type, e.Receipt.Index, err)
		}
		switch e.Event.Type {
		case ceremony.EvOTPVerified:
			otpLeaf[e.Event.Signer] = e.Receipt.Index
		case ceremony.EvPageRead:
			// The page digest is in the leaf, so a signer's reading is bound to the content.
			if d, _ := le.Data["digest"].(string); len(d) != 64 {
				t.Errorf("page.read without its page digest: %v", le.Data)
			}
		case ceremony.EvConsentGiven:
			// The consent names every document by digest, not only the consent text.
			if ds, _ := le.Data["documents"].(map[string]string); len(ds) != len(env.Documents) {
				t.Errorf("consent.given documents: %v", le.Data["documents"])
			}
		}
	}
	for _, typ := range want {
		if seen[typ] == 0 {
			t.Errorf("no %s event in the timeline", typ)
		}
	}
	if seen["page.read"] != 2*5 || seen["document.signed"] != 4 || seen["signer.completed"] != 2 || seen["field.completed"] != 4 {
		t.Errorf("event counts: %v", seen)
	}
	for _, c := range w.ca.Issued {
		b, err := ceremonytest.BindingOf(c)
		if err != nil {
			t.Fatal(err)
		}
		signerID := map[string]string{"Alice Martin": "alice", "Bob Smith": "bob"}[c.Subject.CommonName]
		if uint64(b.LeafIndex) != otpLeaf[signerID] {
			t.Errorf("%s's certificate is bound to leaf %d, otp.verified is %d", signerID, b.LeafIndex, otpLeaf[signerID])
		}
	}

	// Both parties receive the signed documents.
	for _, addr := range []string{"alice@example.org", "bob@example.org"} {
		m := w.lastMailTo(addr)
		if len(m.Attachments) != 2 {
			t.Errorf("%s: completion email has %d attachments", addr, len(m.Attachments))
		}
	}
	// After completion, every signer action is refused and nothing changes (the sender's view,
	// the timeline, the ledger); TestActionsAfterCompletion tries every step.
	before := w.settle(id)
	w.rejected("bob reads after completion", before, bob.readPage(1, 1), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
	w.rejected("alice refuses after completion", before, alice.post("/s/api/refuse", map[string]string{"reason": "Trop tard"}), http.StatusConflict, ceremony.CodeEnvelopeNotActive)
}

// waitReceipts returns the envelope's timeline once every event has its receipt.
func waitReceipts(t *testing.T, w *world, id string) []ceremony.TimelineEntry {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tl, err := w.svc.Timeline(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		done := true
		for _, e := range tl {
			done = done && e.Receipt != nil
		}
		if done {
			return tl
		}
		if time.Now().After(deadline) {
			t.Fatal("receipts did not arrive")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
