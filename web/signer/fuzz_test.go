package signer_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzSignerJSON posts arbitrary bodies to every JSON endpoint of the signer protocol: each
// answer is a JSON document with a 2xx or 4xx status, never a 5xx.
func FuzzSignerJSON(f *testing.F) {
	w := newWorld(f)
	w.sentEnvelope(seedManifest())
	alice := w.party("+33612345678")
	if r := alice.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		f.Fatalf("open: %d", r.Status)
	}
	paths := []string{"/s/api/fields", "/s/api/refuse", "/s/api/sign", "/s/api/code/verify", "/s/api/code", "/s/api/documents/1/pages/1/read"}
	f.Add(uint8(0), []byte(`{"values":{"alice_city":"Lyon"}}`))
	f.Add(uint8(0), []byte(`{"values":{"alice_city":"\u0000"}}`))
	f.Add(uint8(1), []byte(`{"reason":"non"}`))
	f.Add(uint8(2), []byte(`{"consent_digest":"00"}`))
	f.Add(uint8(3), []byte(`{"code":"123456"}`))
	f.Add(uint8(3), []byte(`{"code":123456}`))
	f.Add(uint8(0), []byte(`{"values":{}} {}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		r := do(t, alice.c, "POST", w.srv.URL+path, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": alice.csrf}, bytes.NewReader(body))
		if r.Status >= 500 {
			t.Fatalf("%s %q: %d %s", path, body, r.Status, r.Body)
		}
		if !json.Valid(r.Body) {
			t.Fatalf("%s %q: not JSON: %s", path, body, r.Body)
		}
	})
}
