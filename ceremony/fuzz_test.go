package ceremony

import (
	"testing"
	"time"
)

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"title":"t","signers":[{"id":"a","name":"A","email":"a@b.c","phone":"+33612345678"}],"documents":[{"id":"d","file":"x.pdf","fields":[{"id":"f","label":"L","signer":"a","page":1,"rect":{"x":1,"y":1,"w":10,"h":10},"pattern":"[0-9]+"}]}],"expires_in":"48h","reminders":["1h"]}`))
	f.Add([]byte(`{"title":1}`))
	f.Add([]byte(`{"expires_at":"2026-01-01T00:00:00Z","expires_in":"1h"}`))
	f.Add([]byte(`{"documents":[{"fields":[{"rect":{"x":1e308,"w":-1}}]}]}`))
	page := PDFInfo{Pages: []Page{{Width: 595, Height: 842}}}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, probs := ParseManifest(b)
		if m == nil {
			if len(probs) == 0 {
				t.Fatal("nil manifest without a problem")
			}
			return
		}
		infos, probs := m.Validate(map[string][]byte{"x.pdf": []byte("%PDF-")}, time.Unix(0, 0), DefaultLimits(), func([]byte) (PDFInfo, error) { return page, nil })
		if len(probs) == 0 && (infos == nil || m.ExpiresAt == nil) {
			t.Fatal("valid manifest without its PDFs or expiry")
		}
		for _, p := range probs {
			if p.Message == "" {
				t.Fatalf("problem without a message at %q", p.Path)
			}
		}
	})
}

func FuzzValidateValue(f *testing.F) {
	f.Add("Lyon", "[A-Z][a-z]+", 10, true)
	f.Add("", "", 0, false)
	f.Fuzz(func(t *testing.T, v, pattern string, max int, required bool) {
		_ = ValidateValue(Field{Pattern: pattern, MaxLength: max, Required: required}, v)
	})
}
