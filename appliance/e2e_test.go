package appliance

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/internal/testworld"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/pades"
)

// smsSink is a real HTTP SMS gateway on loopback that keeps every message.
type smsSink struct {
	mu   sync.Mutex
	msgs []struct{ To, Text string }
}

func (s *smsSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct{ To, Text string }
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	w.WriteHeader(200)
}

func (s *smsSink) lastCode(t *testing.T, to string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if s.msgs[i].To == to {
			if c := regexp.MustCompile(`\b\d{6}\b`).FindString(s.msgs[i].Text); c != "" {
				return c
			}
		}
	}
	t.Fatalf("no code sent by SMS to %s", to)
	return ""
}

// The assembled appliance runs a whole ceremony over real HTTP with its email going to a real
// SMTP server and its codes to a real HTTP SMS gateway, both configured as an operator would.
func TestCeremonyThroughTheAssembledAppliance(t *testing.T) {
	mail := ceremonytest.NewSMTPSink(t)
	sms := &smsSink{}
	gw := httptest.NewServer(sms)
	defer gw.Close()
	const apiKey = "e2e-bootstrap-key-0123456789abcdefghijkl"
	dir := t.TempDir()
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, mail.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	// Links in emails use the public URL, derived from a fixed listener address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t, dir,
		"PARAPHE_LISTEN="+addr,
		"PARAPHE_SMTP_HOST="+mail.Host,
		"PARAPHE_SMTP_PORT="+strconv.Itoa(mail.Port),
		"PARAPHE_SMTP_SECURITY=starttls",
		"PARAPHE_SMTP_USERNAME="+mail.User,
		"PARAPHE_SMTP_PASSWORD="+mail.Password,
		"PARAPHE_SMTP_CA_FILE="+caFile,
		"PARAPHE_SMTP_FROM=Paraphe <signatures@example.org>",
		"PARAPHE_SMS_PROVIDER=http",
		"PARAPHE_SMS_HTTP_URL="+gw.URL+"/send",
		`PARAPHE_SMS_HTTP_BODY={"to":{{json .To}},"text":{{json .Text}}}`,
		"PARAPHE_SMS_HTTP_HEADERS=Content-Type=application/json",
		"PARAPHE_BOOTSTRAP_API_KEY="+apiKey,
	)
	r := start(t, cfg)
	defer r.stop()

	manifest := map[string]any{
		"title": "Bail d'habitation", "message": "Merci de signer.", "order": "sequential",
		"signers": []map[string]any{{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "phone": "+33612345678", "locale": "fr", "order": 1}},
		"documents": []map[string]any{{"id": "bail", "file": "bail.pdf", "name": "Bail", "fields": []map[string]any{
			{"id": "city", "label": "Fait à", "signer": "alice", "page": 2, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 20}, "required": true},
		}}},
	}
	mb, _ := json.Marshal(manifest)
	body, contentType := testworld.Upload(mb, map[string][]byte{"bail.pdf": ceremonytest.MinimalPDF(2, "Bail")})
	api := r.senderAPI(t, apiKey)
	var env struct{ ID string }
	json.Unmarshal(api("POST", "/api/v1/envelopes", contentType, body), &env)
	api("POST", "/api/v1/envelopes/"+env.ID+"/send", "application/json", nil)

	// The invitation arrives by SMTP with the link.
	var link string
	for deadline := time.Now().Add(10 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, m := range mail.Mails() {
			p, err := m.Parse()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(p.HTML, "Accéder aux documents") {
				link = p.Link()
			}
		}
	}
	if link == "" {
		t.Fatalf("no invitation with « Accéder aux documents » among %d mails", len(mail.Mails()))
	}

	call := newSignerClient(t, r.base).must
	call("GET", link, nil)
	call("POST", "/s/api/documents/1/pages/1/read", nil)
	call("POST", "/s/api/documents/1/pages/2/read", nil)
	call("POST", "/s/api/fields", map[string]any{"values": map[string]string{"city": "Lyon"}})
	st := call("GET", "/s/api/state", nil)
	if inner, ok := st["state"].(map[string]any); ok {
		st = inner
	}
	c, ok := st["consent"].(map[string]any)
	if !ok {
		t.Fatalf("no consent text once everything is read and filled: %v", st)
	}
	consent := c["digest"].(string)
	call("POST", "/s/api/sign", map[string]string{"consent_digest": consent})
	call("POST", "/s/api/code/verify", map[string]string{"code": sms.lastCode(t, "+33612345678")})

	// The signed document verifies against our root, at B-LTA.
	signed := api("GET", "/api/v1/envelopes/"+env.ID+"/documents/bail", "", nil)
	roots := x509.NewCertPool()
	roots.AddCert(r.a.keys.Root)
	rep, err := pades.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), pades.VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Level != "B-LTA" || len(rep.Signatures) != 2 || rep.Signatures[0].Kind != "signature" || rep.Signatures[1].Kind != "document-timestamp" {
		var b bytes.Buffer
		rep.WriteText(&b, "signed.pdf")
		t.Fatalf("signed document does not verify:\n%s", b.String())
	}

	// The evidence bundle verifies offline against the root and the pinned ledger key, and
	// against the live ledger.
	bundle := api("GET", "/api/v1/envelopes/"+env.ID+"/evidence", "", nil)
	erep, err := evidence.Verify(context.Background(), bundle, evidence.Options{Roots: roots, LedgerKey: r.a.keys.LedgerVerifierKey, LedgerURL: r.base})
	if err != nil {
		t.Fatal(err)
	}
	if !erep.Valid {
		b, _ := json.MarshalIndent(erep, "", "  ")
		t.Fatalf("evidence bundle does not verify:\n%s", b)
	}
	// The public verification page accepts the signed document.
	up, upType := testworld.Upload(nil, map[string][]byte{"bail.pdf": signed})
	vr, err := http.Post(r.base+"/verify", upType, up)
	if err != nil {
		t.Fatal(err)
	}
	vb, _ := io.ReadAll(vr.Body)
	vr.Body.Close()
	if vr.StatusCode != 200 || !strings.Contains(string(vb), "Alice Martin") {
		t.Fatalf("/verify answered %d:\n%.2000s", vr.StatusCode, vb)
	}

	// Every step of the ceremony is in the ledger.
	seen := map[event.Type]int{}
	entries := get(t, http.DefaultClient, r.base+"/ledger/entries?start=0&end="+strconv.Itoa(int(waitSize(t, r, 14))))
	for _, leaf := range leavesOf(t, entries) {
		e, err := event.Parse(leaf)
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Type]++
	}
	for _, want := range []event.Type{"envelope.created", "envelope.sent", "invitation.sent", "link.opened", "page.read", "document.read",
		"field.completed", "consent.given", "otp.sent", "otp.verified", "certificate.issued", "document.signed", "signer.completed", "envelope.completed"} {
		if seen[want] == 0 {
			t.Errorf("no %s event in the ledger (saw %v)", want, seen)
		}
	}
	if seen["page.read"] != 2 {
		t.Errorf("%d page.read events for 2 pages", seen["page.read"])
	}
}

// waitSize waits until the published checkpoint covers at least n leaves and returns its size.
func waitSize(t *testing.T, r *running, n uint64) uint64 {
	t.Helper()
	v, err := verifierOf(t, r)
	if err != nil {
		t.Fatal(err)
	}
	return waitCheckpoint(t, r.base, v, r.a.cfg.Ledger.Origin, n).Size
}
