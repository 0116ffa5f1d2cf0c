package ceremony

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// testCodeKey keys the code hashes of the rules' tests.
var testCodeKey = []byte("test code key, 32 bytes long....")

func testMachine(now time.Time) *machine {
	n := 0
	return &machine{now: now, policy: DefaultPolicy(), commit: CommitHMAC, codeKey: testCodeKey, newID: func() string { n++; return fmt.Sprintf("%032x", n) }}
}

// testEnvelope: two documents (2 and 1 pages), two signers; field f1 (required, alice, doc 0),
// f2 (optional, alice, doc 1, pattern), f3 (required, bob, doc 1).
func testEnvelope(order Order) *Envelope {
	e := &Envelope{ID: "env", Order: order, Status: StatusSent, ExpiresAt: t0.Add(24 * time.Hour), Salt: []byte("salt"),
		Documents: []Document{
			{ID: "d0", Prepared: strings.Repeat("a", 64), Current: strings.Repeat("a", 64), Pages: []Page{{Digest: "p1"}, {Digest: "p2"}},
				Fields: []Field{{ID: "f1", Signer: "alice", Page: 1, Required: true, MaxLength: 10}}},
			{ID: "d1", Prepared: strings.Repeat("b", 64), Current: strings.Repeat("b", 64), Pages: []Page{{Digest: "q1"}},
				Fields: []Field{{ID: "f2", Signer: "alice", Page: 1, MaxLength: 5, Pattern: "[0-9]+"}, {ID: "f3", Signer: "bob", Page: 1, Required: true, MaxLength: 10}}},
		},
		Signers: []Signer{
			{ID: "alice", Order: 1, Status: SignerInvited, Phone: "+33600000000", Read: [][]bool{{false, false}, {false}}},
			{ID: "bob", Order: 2, Status: SignerWaiting, Phone: "+33600000001", Read: [][]bool{{false, false}, {false}}},
		}}
	return e
}

func clone(t *testing.T, e *Envelope) *Envelope {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var c Envelope
	json.Unmarshal(b, &c)
	return &c
}

// refused asserts a rule error with the code and that the envelope did not change.
func refused(t *testing.T, e *Envelope, code string, f func(*Envelope) ([]Event, *Error)) {
	t.Helper()
	before := clone(t, e)
	evs, err := f(e)
	if err == nil || err.Code != code {
		t.Fatalf("want %s, got %v", code, err)
	}
	if len(evs) != 0 || !reflect.DeepEqual(clone(t, e), before) {
		t.Fatalf("%s changed the envelope or recorded events %v", code, evs)
	}
}

func types(evs []Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

func TestReadingOrder(t *testing.T) {
	m := testMachine(t0)
	e := testEnvelope(Sequential)
	refused(t, e, CodeDocumentLocked, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 1, 1) })
	refused(t, e, CodePageOutOfRange, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 0, 3) })
	refused(t, e, CodePageOutOfRange, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 0, 0) })
	refused(t, e, CodeDocumentNotFound, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 2, 1) })
	refused(t, e, CodeDocumentNotFound, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, -1, 1) })
	refused(t, e, CodeNotInvited, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 1, 0, 1) })
	if Accessible(e, 0, 1) || !Accessible(e, 0, 0) {
		t.Fatal("accessibility before reading")
	}
	evs, err := m.readPage(e, 0, 0, 2)
	if err != nil || types(evs) != "page.read" || evs[0].Data["digest"] != "p2" || evs[0].Data["page"] != 2 {
		t.Fatalf("page 2 first: %v %v", evs, err)
	}
	if evs, err := m.readPage(e, 0, 0, 2); err != nil || len(evs) != 0 {
		t.Fatalf("re-read recorded %v %v", evs, err)
	}
	evs, _ = m.readPage(e, 0, 0, 1)
	if types(evs) != "page.read,document.read" || evs[1].Data["digest"] != e.Documents[0].Prepared {
		t.Fatalf("last page: %v", evs)
	}
	// Pages read but the required field is empty: still locked.
	refused(t, e, CodeDocumentLocked, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 1, 1) })
	refused(t, e, CodeDocumentLocked, func(e *Envelope) ([]Event, *Error) { return m.setFields(e, 0, map[string]string{"f2": "1"}) })
	evs, err = m.setFields(e, 0, map[string]string{"f1": "Lyon"})
	if err != nil || types(evs) != "field.completed" || evs[0].Data["value"] != CommitHMAC([]byte("salt"), "field:f1", "Lyon") {
		t.Fatalf("fill: %v %v", evs, err)
	}
	if !Accessible(e, 0, 1) {
		t.Fatal("document 2 still locked")
	}
	refused(t, e, CodeNotCurrentDocument, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 0, 1) })
	refused(t, e, CodeIncomplete, func(e *Envelope) ([]Event, *Error) { return m.refuse(e, 0, "non") })
	refused(t, e, CodeIncomplete, func(e *Envelope) ([]Event, *Error) { return m.consent(e, 0, "x", "x") })
	m.readPage(e, 0, 1, 1)
	if !ReadyToDecide(e, 0) {
		t.Fatal("optional field blocks the decision")
	}
}

func TestFieldValidation(t *testing.T) {
	m := testMachine(t0)
	e := testEnvelope(Parallel)
	e.Signers[1].Status = SignerInvited
	cases := []struct {
		values map[string]string
		code   string
	}{
		{map[string]string{"zz": "1"}, CodeFieldNotFound},
		{map[string]string{"f3": "x"}, CodeFieldNotYours},
		{map[string]string{"f1": ""}, CodeFieldInvalid},
		{map[string]string{"f1": "12345678901"}, CodeFieldInvalid},
		{map[string]string{"f1": "a\nb"}, CodeFieldInvalid},
		{map[string]string{"f1": "\xff"}, CodeFieldInvalid},
	}
	for _, c := range cases {
		refused(t, e, c.code, func(e *Envelope) ([]Event, *Error) { return m.setFields(e, 0, c.values) })
	}
	if why := ValidateValue(Field{Pattern: "[0-9]+", MaxLength: 5}, "12a"); why == "" {
		t.Fatal("pattern not anchored")
	}
	if why := ValidateValue(Field{Pattern: "[0-9]+", MaxLength: 5}, ""); why != "" {
		t.Fatal("optional empty value refused")
	}
	if why := ValidateValue(Field{MaxLength: 3}, "été"); why != "" {
		t.Fatal("max length counts bytes, not characters")
	}
	// One bad value refuses all.
	e.Signers[0].Read[0] = []bool{true, true}
	e.Signers[0].Values = map[string]string{"f1": "Lyon"}
	refused(t, e, CodeFieldInvalid, func(e *Envelope) ([]Event, *Error) {
		return m.setFields(e, 0, map[string]string{"f1": "ok", "f2": "x"})
	})
}

func consented(t *testing.T) (*machine, *Envelope) {
	m := testMachine(t0)
	e := testEnvelope(Sequential)
	e.Signers[0].Read = [][]bool{{true, true}, {true}}
	e.Signers[0].Values = map[string]string{"f1": "Lyon"}
	refused(t, e, CodeConsentMismatch, func(e *Envelope) ([]Event, *Error) { return m.consent(e, 0, "x", "y") })
	refused(t, e, CodeConsentRequired, func(e *Envelope) ([]Event, *Error) { return m.verifyCode(e, 0, "123456") })
	if err := m.canSendCode(e, 0); err == nil || err.Code != CodeConsentRequired {
		t.Fatalf("code before consent: %v", err)
	}
	evs, err := m.consent(e, 0, "digest", "digest")
	if err != nil || types(evs) != "consent.given" || evs[0].Data["text"] != "digest" {
		t.Fatalf("consent: %v %v", evs, err)
	}
	// The consent names every document of the envelope as it stands, not only the signer's.
	if docs, _ := evs[0].Data["documents"].(map[string]string); len(docs) != 2 || docs["d0"] != e.Documents[0].Current || docs["d1"] != e.Documents[1].Current {
		t.Fatalf("consent documents: %v", evs[0].Data["documents"])
	}
	refused(t, e, CodeConsentGiven, func(e *Envelope) ([]Event, *Error) { return m.consent(e, 0, "digest", "digest") })
	refused(t, e, CodeFieldsFrozen, func(e *Envelope) ([]Event, *Error) { return m.setFields(e, 0, map[string]string{"f1": "Paris"}) })
	if evs, err := m.codeSent(e, 0, "123456"); err != nil || types(evs) != "otp.sent" {
		t.Fatalf("send: %v %v", evs, err)
	}
	return m, e
}

func TestCodes(t *testing.T) {
	m, e := consented(t)
	s := &e.Signers[0]
	if string(s.OTP.Hash) == "123456" || len(s.OTP.Hash) != 32 {
		t.Fatal("code stored in clear")
	}
	refused(t, e, CodeCodeFormat, func(e *Envelope) ([]Event, *Error) { return m.verifyCode(e, 0, "12345") })
	refused(t, e, CodeCodeFormat, func(e *Envelope) ([]Event, *Error) { return m.verifyCode(e, 0, "１２３４５６") })
	// The same digits hash differently for another signer or envelope.
	if string(codeHash(testCodeKey, "env", "bob", s.OTP.IssuedAt, "123456")) == string(s.OTP.Hash) || string(codeHash(testCodeKey, "env2", "alice", s.OTP.IssuedAt, "123456")) == string(s.OTP.Hash) {
		t.Fatal("code hash not bound to signer and envelope")
	}
	for i := 1; i <= 4; i++ {
		evs, err := m.verifyCode(e, 0, "654321")
		if err == nil || err.Code != CodeCodeWrong || types(evs) != "otp.failed" || evs[0].Data["attempt"] != i || err.Detail["attempts_left"] != 5-i {
			t.Fatalf("wrong %d: %v %v", i, evs, err)
		}
	}
	evs, err := m.verifyCode(e, 0, "654321")
	if err == nil || err.Status != http.StatusLocked || types(evs) != "otp.failed,otp.locked" || s.Status != SignerLocked || s.OTP.Hash != nil {
		t.Fatalf("fifth: %v %v %s", evs, err, s.Status)
	}
	refused(t, e, CodeLocked, func(e *Envelope) ([]Event, *Error) { return m.verifyCode(e, 0, "123456") })
	refused(t, e, CodeLocked, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 0, 1) })
	if evs, err := m.invited(e, 0, "reinvitation"); err != nil || types(evs) != "invitation.sent" || s.Status != SignerInvited || s.OTP.Failures != 0 || s.Consent != nil {
		t.Fatalf("reinvite: %v %v %+v", evs, err, s)
	}
}

func TestCodeExpiryResendAndSuccess(t *testing.T) {
	m, e := consented(t)
	if err := m.canSendCode(e, 0); err == nil || err.Code != CodeResendTooSoon || err.Detail["retry_after"] != 60 {
		t.Fatalf("resend at once: %v", err)
	}
	m.now = t0.Add(10 * time.Minute)
	evs, err := m.verifyCode(e, 0, "123456")
	if err == nil || err.Code != CodeCodeExpired || types(evs) != "otp.failed" {
		t.Fatalf("expired: %v %v", evs, err)
	}
	refused(t, e, CodeNoCode, func(e *Envelope) ([]Event, *Error) { return m.verifyCode(e, 0, "123456") })
	for i := 2; i <= 5; i++ {
		if _, err := m.codeSent(e, 0, fmt.Sprintf("%06d", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		m.now = m.now.Add(time.Minute)
	}
	if err := m.canSendCode(e, 0); err == nil || err.Code != CodeSendLimit {
		t.Fatalf("sixth send in an hour: %v", err)
	}
	m.now = t0.Add(61 * time.Minute)
	if err := m.canSendCode(e, 0); err != nil {
		t.Fatalf("a send after the window: %v", err)
	}
	if _, err := m.codeSent(e, 0, "000006"); err != nil {
		t.Fatal(err)
	}
	if evs, err := m.verifyCode(e, 0, "000005"); err == nil || err.Code != CodeCodeWrong || types(evs) != "otp.failed" {
		t.Fatalf("a replaced code: %v %v", evs, err)
	}
	evs, err = m.verifyCode(e, 0, "000006")
	if err != nil || types(evs) != "otp.verified" || e.Signers[0].Status != SignerSigning || e.Signers[0].VerifiedEvent != evs[0].ID {
		t.Fatalf("right code: %v %v", evs, err)
	}
	refused(t, e, CodeSigning, func(e *Envelope) ([]Event, *Error) { return m.verifyCode(e, 0, "000006") })
	refused(t, e, CodeSigning, func(e *Envelope) ([]Event, *Error) { return m.void(e, "stop") })
}

func TestRefusalAndTerminalStates(t *testing.T) {
	m := testMachine(t0)
	e := testEnvelope(Sequential)
	e.Signers[0].Read = [][]bool{{true, true}, {true}}
	e.Signers[0].Values = map[string]string{"f1": "Lyon"}
	refused(t, e, CodeReasonRequired, func(e *Envelope) ([]Event, *Error) { return m.refuse(e, 0, "") })
	refused(t, e, CodeReasonRequired, func(e *Envelope) ([]Event, *Error) { return m.refuse(e, 0, " \t\r\n") })
	refused(t, e, CodeReasonTooLong, func(e *Envelope) ([]Event, *Error) { return m.refuse(e, 0, strings.Repeat("x", 2001)) })
	evs, err := m.refuse(e, 0, strings.Repeat("é", 2000))
	if err != nil || types(evs) != "signer.refused,envelope.declined" || e.Status != StatusDeclined {
		t.Fatalf("refuse: %v %v", evs, err)
	}
	for _, f := range []func(*Envelope) ([]Event, *Error){
		func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 0, 1) },
		func(e *Envelope) ([]Event, *Error) { return m.setFields(e, 0, map[string]string{"f1": "x"}) },
		func(e *Envelope) ([]Event, *Error) { return m.refuse(e, 0, "x") },
		func(e *Envelope) ([]Event, *Error) { return m.consent(e, 0, "x", "x") },
		func(e *Envelope) ([]Event, *Error) { return m.verifyCode(e, 0, "123456") },
		func(e *Envelope) ([]Event, *Error) { return m.linkOpened(e, 0, "", "") },
		func(e *Envelope) ([]Event, *Error) { return m.void(e, "x") },
		func(e *Envelope) ([]Event, *Error) { return m.expire(e) },
		func(e *Envelope) ([]Event, *Error) { return m.send(e) },
	} {
		before := clone(t, e)
		if evs, err := f(e); err == nil || len(evs) != 0 || !reflect.DeepEqual(before, clone(t, e)) {
			t.Fatalf("action on a declined envelope: %v %v", evs, err)
		}
	}
	// Expiry: refused by the rules as soon as the time has come, recorded by expire.
	e = testEnvelope(Sequential)
	m.now = e.ExpiresAt
	refused(t, e, CodeEnvelopeNotActive, func(e *Envelope) ([]Event, *Error) { return m.readPage(e, 0, 0, 1) })
	if evs, err := m.expire(e); err != nil || types(evs) != "envelope.expired" || e.Status != StatusExpired {
		t.Fatalf("expire: %v %v", evs, err)
	}
	e = testEnvelope(Sequential)
	m.now = t0
	refused(t, e, CodeEnvelopeNotActive, func(e *Envelope) ([]Event, *Error) { return m.expire(e) })
	if evs, err := m.void(e, "erreur"); err != nil || types(evs) != "envelope.voided" {
		t.Fatalf("void: %v %v", evs, err)
	}
}

func TestSequentialInvitations(t *testing.T) {
	e := testEnvelope(Sequential)
	e.Signers[0].Status = SignerWaiting
	e.Signers = append(e.Signers, Signer{ID: "carol", Order: 2, Status: SignerWaiting})
	if got := NextToInvite(e); !reflect.DeepEqual(got, []int{0}) {
		t.Fatalf("first: %v", got)
	}
	e.Signers[0].Status = SignerInvited
	if got := NextToInvite(e); len(got) != 0 {
		t.Fatalf("while alice reads: %v", got)
	}
	e.Signers[0].Status = SignerSigned
	if got := NextToInvite(e); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Fatalf("after alice: %v", got)
	}
	e.Order = Parallel
	e.Signers[0].Status = SignerWaiting
	if got := NextToInvite(e); !reflect.DeepEqual(got, []int{0, 1, 2}) {
		t.Fatalf("parallel: %v", got)
	}
	e.Status = StatusDraft
	if got := NextToInvite(e); got != nil {
		t.Fatalf("draft: %v", got)
	}
}

// A hash stored by a version before codes were keyed (no hash version) is never verified, even
// with the right code: the signer is told to ask for a new one, and nothing is recorded.
func TestUnkeyedCodeHashIsNotVerified(t *testing.T) {
	m, e := consented(t)
	e.Signers[0].OTP.HashVersion = 0
	refused(t, e, CodeNoCode, func(e *Envelope) ([]Event, *Error) { return m.verifyCode(e, 0, "123456") })
	e.Signers[0].OTP.HashVersion = otpHashVersion
	if evs, err := m.verifyCode(e, 0, "123456"); err != nil || types(evs) != "otp.verified" {
		t.Fatalf("verify: %v %v", evs, err)
	}
	if codeHash([]byte("another key"), "env", "alice", t0, "123456") == nil || string(codeHash([]byte("another key"), "env", "alice", t0, "123456")) == string(codeHash(testCodeKey, "env", "alice", t0, "123456")) {
		t.Fatal("the code hash does not depend on the key")
	}
}
