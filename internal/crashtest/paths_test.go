package crashtest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

// TestKillSequentialTwoDocuments drives an envelope of two signers in sequential order and two
// documents, which each signer signs, and SIGKILLs the appliance at the steps that happen
// without a request to wait for: between the signatures of a signer's two documents (after the
// first was appended to the ledger, and after the first was written but not yet appended),
// after the first signer's last signature and before the second signer is invited, after the
// second signer's invitation was emailed and written but not appended, during B-LT/B-LTA (the
// first document extended, the envelope not yet completed) and after envelope.completed but
// before the completion emails. It also kills after a reminder, and while a reminder is
// recorded. The appliance is held at each of these points by the crash hold of package
// ceremony (ceremony.CrashHoldEnv), so that the kill lands there on every run. After each
// restart, besides the checks of TestKillAtEachStep, the ceremony must go on to the end by
// itself and no step may be recorded twice.
func TestKillSequentialTwoDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and restarts the appliance many times")
	}
	deadline := time.Now().Add(4 * time.Minute)
	a := newAppliance(t)
	a.start()
	id := a.createWith(map[string]any{
		"title": "Crash test, two signers", "order": "sequential",
		"signers": []map[string]any{
			{"id": "s1", "name": "Camille Durand", "email": "s1@example.org", "phone": "+33612345671", "locale": "fr", "order": 1},
			{"id": "s2", "name": "Dominique Martin", "email": "s2@example.org", "phone": "+33612345672", "locale": "fr", "order": 2},
		},
		"documents": []map[string]any{
			{"id": "d1", "file": "d1.pdf", "fields": []map[string]any{
				{"id": "city1", "label": "Fait à", "signer": "s1", "page": 1, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 20}, "required": true}}},
			{"id": "d2", "file": "d2.pdf", "fields": []map[string]any{
				{"id": "city2", "label": "Fait à", "signer": "s2", "page": 1, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 20}, "required": true}}},
		},
	}, map[string][]byte{"d1.pdf": ceremonytest.MinimalPDF(2, "Crash test d1"), "d2.pdf": ceremonytest.MinimalPDF(1, "Crash test d2")})
	c := &checker{a: a, id: id}
	c.verifier = a.verifier()
	st, b := a.api("POST", "/api/v1/envelopes/"+id+"/send", nil)
	c.ok(reply{st, b}, "send")
	c.expectAll("sent", "invited", "waiting")
	c.crash("after send", nil)

	// The first signer reads and fills both documents and chooses to sign.
	s1 := a.signer(a.outboxLink("s1@example.org"))
	c.readAndChoose(s1, map[int]map[string]string{1: {"city1": "Lyon"}})
	c.expectAll("sent", "consented", "waiting")
	code := a.outboxCode("+33612345671")

	// Verified: d1 is signed and appended, then the process stops before d2. The restarted
	// appliance signs d2 (with a new key and certificate) and stops again after the signer's
	// completion, before the second signer is invited; restarted again, it invites her and
	// stops once the invitation is emailed and written, before it is appended.
	c.arm("appended:" + ceremony.EvDocumentSigned)
	c.held("between the documents of the first signer", "appended:"+ceremony.EvDocumentSigned,
		func() { s1.post("/s/api/code/verify", map[string]string{"code": code}) }, "appended:"+ceremony.EvSignerCompleted)
	c.signedBy("between the documents of the first signer", "s1", "d1")
	c.held("before the second signer is invited", "appended:"+ceremony.EvSignerCompleted, nil, "written:"+ceremony.EvInvitationSent)
	c.signedBy("before the second signer is invited", "s1", "d1", "d2")
	c.held("during the invitation of the second signer", "written:"+ceremony.EvInvitationSent, nil, "")
	c.waitSigner(1, "invited", deadline)
	c.expectAll("sent", "signed", "invited")
	c.crash("after the second invitation", nil)
	if n := a.emailsTo("s2@example.org", false); n != 1 {
		t.Fatalf("the second signer got %d invitation emails, want 1", n)
	}

	// A reminder, acknowledged, then one interrupted between its state and its append.
	st, b = a.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{"signer": "s2"})
	c.ok(reply{st, b}, "remind")
	c.crash("after a reminder", nil)
	c.arm("written:" + ceremony.EvReminderSent)
	c.held("during a reminder", "written:"+ceremony.EvReminderSent,
		func() { a.api("POST", "/api/v1/envelopes/"+id+"/remind", map[string]string{"signer": "s2"}) }, "")
	if n := c.count(ceremony.EvReminderSent, "s2"); n != 2 {
		t.Fatalf("after two reminders and a kill during the second, %d reminder.sent events", n)
	}

	// The second signer signs: d1 is written but not appended when the process stops; the
	// restart appends it, signs d2 and stops after B-LT/B-LTA of d1; the next restart finalizes
	// and stops after envelope.completed, before the completion emails; the last one sends them.
	s2 := a.signer(a.outboxLink("s2@example.org"))
	c.readAndChoose(s2, map[int]map[string]string{2: {"city2": "Paris"}})
	c.expectAll("sent", "signed", "consented")
	code = a.outboxCode("+33612345672")
	c.arm("written:" + ceremony.EvDocumentSigned)
	c.held("between the documents of the second signer", "written:"+ceremony.EvDocumentSigned,
		func() { s2.post("/s/api/code/verify", map[string]string{"code": code}) }, "finalize")
	c.held("during B-LT/B-LTA", "finalize", nil, "appended:"+ceremony.EvEnvelopeCompleted)
	c.signedBy("during B-LT/B-LTA", "s2", "d1", "d2")
	c.held("before the completion emails", "appended:"+ceremony.EvEnvelopeCompleted, nil, "")
	c.waitStatus("completed", deadline)
	c.expectAll("completed", "signed", "signed")
	c.crash("after completion", nil)
	for _, to := range []string{"s1@example.org", "s2@example.org"} {
		if n := c.completionEmails(to, deadline); n != 1 {
			t.Fatalf("%s got %d completion emails, want 1", to, n)
		}
	}
	if time.Now().After(deadline) {
		t.Fatalf("the crash test took more than its 4 minutes")
	}
}

// TestKillRefusalAndVoid kills the appliance after a refusal and after a void, acknowledged,
// and while each is recorded (its state written, its events not yet appended), and after a
// reminder sent before the void. The envelopes must stay declined and voided, with their
// events once each, and their links must stop working.
func TestKillRefusalAndVoid(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and restarts the appliance many times")
	}
	a := newAppliance(t)
	a.start()
	refused := &checker{a: a, id: a.create()}
	refused.verifier = a.verifier()
	st, b := a.api("POST", "/api/v1/envelopes/"+refused.id+"/send", nil)
	refused.ok(reply{st, b}, "send")
	s := a.signer(a.outboxLink("signer@example.org"))
	for p := 1; p <= 3; p++ {
		refused.ok(s.post(fmt.Sprintf("/s/api/documents/1/pages/%d/read", p), nil), "read")
	}
	refused.ok(s.post("/s/api/fields", map[string]any{"values": map[string]string{"city": "Lyon"}}), "fields")
	refused.expect("sent", "invited", 0)
	refused.arm("written:" + ceremony.EvSignerRefused)
	refused.held("during the refusal", "written:"+ceremony.EvSignerRefused,
		func() { s.post("/s/api/refuse", map[string]string{"reason": "Le prix ne correspond pas."}) }, "")
	refused.expect("declined", "refused", 0)
	refused.crash("after the refusal", nil)

	voided := &checker{a: a, id: a.create(), verifier: refused.verifier}
	st, b = a.api("POST", "/api/v1/envelopes/"+voided.id+"/send", nil)
	voided.ok(reply{st, b}, "send")
	st, b = a.api("POST", "/api/v1/envelopes/"+voided.id+"/remind", map[string]string{"signer": "s"})
	voided.ok(reply{st, b}, "remind")
	voided.expect("sent", "invited", 0)
	voided.crash("after a reminder", nil)
	link := a.outboxLink("signer@example.org")
	voided.arm("written:" + ceremony.EvEnvelopeVoided)
	voided.held("during the void", "written:"+ceremony.EvEnvelopeVoided,
		func() {
			a.api("POST", "/api/v1/envelopes/"+voided.id+"/void", map[string]string{"reason": "Erreur sur le prix"})
		}, "")
	voided.expect("voided", "invited", 0)
	voided.crash("after the void", nil)
	if st, _ := a.do(a.client, "GET", link, map[string]string{"Accept": "application/json"}, nil); st == http.StatusOK {
		t.Fatalf("the link of a voided envelope works after the restart")
	}
	// The scheduler ran on both envelopes since: nothing more was recorded for them.
	refused.crash("after the void, the refused envelope", nil)
	if n := refused.count(ceremony.EvEnvelopeDeclined, ""); n != 1 {
		t.Fatalf("%d envelope.declined events", n)
	}
	if n := voided.count(ceremony.EvReminderSent, "s"); n != 1 {
		t.Fatalf("%d reminder.sent events after one reminder", n)
	}
}

// readAndChoose reads every page of every document, fills the signer's fields of each
// (values by document number) and chooses to sign (the code is sent).
func (c *checker) readAndChoose(s *signerClient, values map[int]map[string]string) {
	c.a.t.Helper()
	for d, doc := range s.state().Documents {
		for p := 1; p <= doc.Pages; p++ {
			c.ok(s.post(fmt.Sprintf("/s/api/documents/%d/pages/%d/read", d+1, p), nil), fmt.Sprintf("read page %d of document %d", p, d+1))
		}
		if v := values[d+1]; v != nil {
			c.ok(s.post("/s/api/fields", map[string]any{"values": v}), "fields")
		}
	}
	c.ok(s.post("/s/api/sign", map[string]string{"consent_digest": s.consentDigest()}), "choose to sign")
}

// arm restarts the appliance (an acknowledged state: checked as by crash) so that it holds at
// point, the next time it gets there.
func (c *checker) arm(point string) {
	c.a.t.Helper()
	c.crashWith("before "+point, point)
}

// held waits until the appliance, armed at point (by arm or by the previous held), holds
// there — after running action, when reaching point needs a request, whose answer is lost
// with the process. It then SIGKILLs the appliance and restarts it, armed at next if any,
// and checks that the ledger is consistent with the checkpoint published at the hold and
// with the envelope's timeline, each step once.
func (c *checker) held(step, point string, action func(), next string) {
	t := c.a.t
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if action != nil {
			action()
		}
	}()
	c.a.waitHold(point)
	before := c.checkpoint()
	c.a.kill()
	<-done
	c.restart(step, before, next, true)
}

// crashWith is crash(step, nil), restarting the appliance armed at point.
func (c *checker) crashWith(step, point string) {
	t := c.a.t
	t.Helper()
	before := c.checkpoint()
	c.a.kill()
	c.restart(step, before, point, false)
	if d := c.acknowledged(c.envelope()); d != "" {
		t.Fatalf("%s: after restart %s", step, d)
	}
}

// restart starts the killed appliance (armed at next, if set) and checks the invariants
// against the checkpoint published before the kill. When the restarted appliance resumes work
// up to a written: point, it holds with an event in its state and not in the ledger, as it
// would before any append: the timeline is then compared with the ledger after the next restart.
func (c *checker) restart(step string, before verify.Checkpoint, next string, resumes bool) {
	t := c.a.t
	t.Helper()
	if next != "" {
		c.a.startWith(ceremony.CrashHoldEnv + "=" + next)
	} else {
		c.a.start()
	}
	after := c.checkpoint()
	c.consistent(step, before, after)
	n := 0
	if !resumes || !strings.HasPrefix(next, "written:") {
		n = c.sameEvents(step)
	}
	v := c.envelope()
	t.Logf("%s: killed at ledger size %d, restarted at %d (hold: %q); envelope %s, signers %s, %d events agree", step, before.Size, after.Size, next, v.Status, signerStatuses(v), n)
}

func signerStatuses(v envelopeView) string {
	var out []string
	for _, s := range v.Signers {
		out = append(out, s.ID+" "+s.Status)
	}
	return strings.Join(out, ", ")
}

// waitHold waits (bounded) for the running process to log that it holds at point.
func (a *appliance) waitHold(point string) {
	a.t.Helper()
	want := []byte("crashtest: holding at " + point + "\n")
	for wait := time.Now().Add(90 * time.Second); ; {
		b, err := os.ReadFile(a.logPath)
		if err != nil {
			a.t.Fatal(err)
		}
		if int64(len(b)) >= a.logMark && bytes.Contains(b[a.logMark:], want) {
			return
		}
		select {
		case err := <-a.exited:
			a.cmd = nil
			a.t.Fatalf("paraphe serve exited before it held at %s: %v", point, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(wait) {
			a.t.Fatalf("paraphe serve did not hold at %s within 90 s", point)
		}
	}
}

// emailsTo counts the emails captured for a recipient: with attachments (completion) or not.
func (a *appliance) emailsTo(to string, attachments bool) int {
	n := 0
	for _, m := range a.outbox() {
		if m.Email != nil && m.Email.To == to && (len(m.Email.Attachments) > 0) == attachments {
			n++
		}
	}
	return n
}

// completionEmails waits (bounded, and a little beyond the first) for the completion emails
// of a recipient and counts them.
func (c *checker) completionEmails(to string, deadline time.Time) int {
	for wait := time.Now().Add(20 * time.Second); time.Now().Before(wait) && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if c.a.emailsTo(to, true) > 0 {
			time.Sleep(2 * time.Second) // a duplicate would follow closely
			break
		}
	}
	return c.a.emailsTo(to, true)
}

// count counts the envelope's ledger events of a type (for a signer, when set).
func (c *checker) count(typ, signer string) int {
	n := 0
	for _, e := range c.ledgerEvents() {
		if string(e.Type) == typ && (signer == "" || e.Signer == signer) {
			n++
		}
	}
	return n
}

// signedBy checks that the ledger has document.signed of signer for each of docs, once (more
// may follow as the restarted appliance goes on).
func (c *checker) signedBy(step, signer string, docs ...string) {
	t := c.a.t
	t.Helper()
	got := map[string]int{}
	for _, e := range c.ledgerEvents() {
		if e.Type == event.DocumentSigned && e.Signer == signer {
			got[fmt.Sprint(e.Data["document"])]++
		}
	}
	for _, d := range docs {
		if got[d] != 1 {
			t.Fatalf("%s: %d document.signed of %s by %s in the ledger, want 1", step, got[d], d, signer)
		}
	}
}

// waitSigner waits (bounded) for signer i to reach a status, as the scheduler resumes work.
func (c *checker) waitSigner(i int, status string, deadline time.Time) {
	t := c.a.t
	t.Helper()
	for {
		v := c.envelope()
		if v.Signers[i].Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("signer %s is %s, not %s", v.Signers[i].ID, v.Signers[i].Status, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// onceSteps are the steps recorded at most once per signer, document and page: a restart that
// records one of them again has done a step twice.
var onceSteps = map[event.Type]bool{
	event.EnvelopeCreated: true, event.EnvelopeSent: true, event.InvitationSent: true, event.PageRead: true,
	event.DocumentRead: true, event.ConsentGiven: true, event.SignerRefused: true, event.OTPVerified: true,
	event.DocumentSigned: true, event.SignerCompleted: true, event.EnvelopeCompleted: true,
	event.EnvelopeDeclined: true, event.EnvelopeExpired: true, event.EnvelopeVoided: true,
}

// duplicateStep describes the first step the envelope's ledger events hold twice ("" if none).
func duplicateStep(led []event.Event) string {
	seen := map[string]bool{}
	for _, e := range led {
		if !onceSteps[e.Type] {
			continue
		}
		k := strings.Join([]string{string(e.Type), e.Signer, fmt.Sprint(e.Data["document"]), fmt.Sprint(e.Data["page"])}, " ")
		if seen[k] {
			return fmt.Sprintf("the step %s (signer %q, document %v, page %v) is twice in the ledger", e.Type, e.Signer, e.Data["document"], e.Data["page"])
		}
		seen[k] = true
	}
	return ""
}
