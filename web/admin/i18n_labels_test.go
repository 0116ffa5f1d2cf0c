package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ledger/event"
)

// deliveryKinds and deliveryChannels are the kinds and channels of ceremony.DeliveryRecord.
var (
	deliveryKinds    = []string{"invitation", "reinvitation", "reminder", "code", "completed"}
	deliveryChannels = []string{"email", "sms"}
)

// TestEventLabelsInBothCatalogs: every event type of the ledger's closed list has a label in
// French and in English, so the envelope's timeline (server-rendered and live) never shows a
// raw key; and so does every kind and channel of a delivery.
func TestEventLabelsInBothCatalogs(t *testing.T) {
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	if len(event.Types()) == 0 {
		t.Fatal("no event types")
	}
	var keys []string
	for _, ty := range event.Types() {
		keys = append(keys, "event."+string(ty))
	}
	for _, k := range deliveryKinds {
		keys = append(keys, "delivery.kind."+k)
	}
	for _, c := range deliveryChannels {
		keys = append(keys, "delivery.channel."+c)
	}
	for _, lang := range []string{"fr", "en"} {
		for _, k := range keys {
			if v, ok := p.catalogs[lang][k]; !ok || strings.TrimSpace(v) == "" {
				t.Errorf("%s: no label for %q", lang, k)
			}
		}
	}
}

// TestDeliveriesTableTranslated: the deliveries table of an envelope shows the kind and the
// channel in the page's language; an unknown kind shows as it is, not as a catalog key.
func TestDeliveriesTableTranslated(t *testing.T) {
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	env := &EnvelopeDetail{EnvelopeSummary: EnvelopeSummary{ID: "e1", Title: "Bail"}, Deliveries: []ceremony.DeliveryRecord{
		{Signer: "alice", Kind: "code", Channel: "sms", At: at, Attempts: 3, Error: "sms gateway: HTTP status 500"},
		{Signer: "alice", Kind: "reinvitation", Channel: "email", At: at, Attempts: 1, OK: true},
		{Signer: "bob", Kind: "fax", Channel: "pigeon", At: at, Attempts: 1, OK: true},
	}}
	for lang, want := range map[string][]string{
		"fr": {"<td>Code de sécurité</td><td>SMS</td>", "<td>Nouvelle invitation</td><td>Email</td>", "<td>fax</td><td>pigeon</td>"},
		"en": {"<td>Security code</td><td>SMS</td>", "<td>New invitation</td><td>Email</td>", "<td>fax</td><td>pigeon</td>"},
	} {
		d := &pageData{Lang: lang, View: "envelope", Envelope: env, cat: p.catalogs[lang]}
		var b strings.Builder
		if err := p.tmpl.ExecuteTemplate(&b, "envelope", d); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		out := b.String()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the deliveries table lacks %q:\n%s", lang, w, out)
			}
		}
	}
}
