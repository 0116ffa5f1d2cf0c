package signer_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/ceremony"
)

// storedOTP reads a signer's code state as the state store holds it.
func storedOTP(t *testing.T, w *world, id, signer string) ceremony.OTP {
	t.Helper()
	var e ceremony.Envelope
	if err := json.Unmarshal(storedEnvelope(t, w.db, id), &e); err != nil {
		t.Fatal(err)
	}
	for _, s := range e.Signers {
		if s.ID == signer {
			return s.OTP
		}
	}
	t.Fatalf("no signer %s", signer)
	return ceremony.OTP{}
}

// bruteForce tries every 6-digit code against a stored hash the way someone holding only the
// database would: SHA-256 over the hash's inputs (envelope, signer, issuance, code), with the
// framing of the earlier unkeyed hash and of the current one. It returns the code found, or "".
func bruteForce(hash []byte, env, signer string, issued time.Time) string {
	for _, tag := range []string{"paraphe-otp-v1", "paraphe-otp-v2"} {
		var prefix []byte
		for _, s := range []string{tag, env, signer, issued.UTC().Format(time.RFC3339Nano)} {
			prefix = append(append(prefix, s...), 0)
		}
		buf := make([]byte, len(prefix), len(prefix)+7)
		copy(buf, prefix)
		for n := range 1_000_000 {
			b := fmt.Appendf(buf, "%06d\x00", n)
			if sum := sha256.Sum256(b); bytes.Equal(sum[:], hash) {
				return string(b[len(prefix) : len(prefix)+6])
			}
			if sum := sha256.Sum256(b[:len(b)-1]); bytes.Equal(sum[:], hash) {
				return string(b[len(prefix) : len(prefix)+6])
			}
		}
	}
	return ""
}

// TestCodeHashIsKeyed checks that a stored code hash cannot be reversed from the state store
// alone (it is keyed with a key sealed by the data key), that a code sent before a restart
// verifies after it, and that under another data key the same database does not verify it.
func TestCodeHashIsKeyed(t *testing.T) {
	w := newWorld(t)
	id := w.sentEnvelope(seedManifest())
	alice := w.party(alice0)
	if r := alice.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	if r := alice.consent(); r.Status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	code := w.sms.LastCodeFor(alice0)
	otp := storedOTP(t, w, id, "alice")
	if len(otp.Hash) != sha256.Size || otp.IssuedAt.IsZero() {
		t.Fatalf("stored code state %+v", otp)
	}
	if found := bruteForce(otp.Hash, id, "alice", otp.IssuedAt); found != "" {
		t.Fatalf("the code %s (sent %s) was recovered from the database alone", found, code)
	}
	if bytes.Contains(storedEnvelope(t, w.db, id), []byte(code)) {
		t.Fatal("the code is in the stored envelope")
	}

	// The code survives a restart: the key is the same.
	w.restart()
	r := alice.post("/s/api/code/verify", map[string]string{"code": code})
	if r.Status != http.StatusOK {
		t.Fatalf("a code sent before a restart was refused after it: %d %s", r.Status, r.Body)
	}
	if st := alice.state(); st.Signer.Status != ceremony.SignerSigned {
		t.Fatalf("alice is %s", st.Signer.Status)
	}

	// Bob's code, checked by a service over the same database with another data key: refused
	// (the key is not in the database), then accepted again under the right data key once a new
	// code is sent.
	bob := w.party("+447700900123")
	if r := bob.open(w.lastMailTo("bob@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("bob open: %d %s", r.Status, r.Body)
	}
	bob.readAll(map[string]string{"bob_city": "London", "bob_initials": "BS"})
	if r := bob.consent(); r.Status != http.StatusOK {
		t.Fatalf("bob consent: %d %s", r.Status, r.Body)
	}
	bobCode := w.sms.LastCodeFor("+447700900123")
	other, err := keys.NewEphemeralDataKey()
	if err != nil {
		t.Fatal(err)
	}
	w.base.Secrets = other
	w.restart()
	if r := bob.post("/s/api/code/verify", map[string]string{"code": bobCode}); r.Status != http.StatusUnprocessableEntity || r.errCode() != ceremony.CodeCodeWrong {
		t.Fatalf("a code verified without the data key that keyed it: %d %s", r.Status, r.Body)
	}
	w.clock.Advance(2 * time.Minute)
	if r := bob.post("/s/api/code", nil); r.Status != http.StatusOK {
		t.Fatalf("resend: %d %s", r.Status, r.Body)
	}
	if r := bob.post("/s/api/code/verify", map[string]string{"code": w.sms.LastCodeFor("+447700900123")}); r.Status != http.StatusOK {
		t.Fatalf("a new code under the new data key: %d %s", r.Status, r.Body)
	}
}
