package appliance

import (
	"encoding/json"
	"fmt"
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
	"github.com/paraphe/paraphe/config"
	"github.com/paraphe/paraphe/internal/testworld"
)

// pickyGateway is a real HTTP SMS gateway on loopback whose answer depends on the recipient:
// answers[to] is the status and body it replies with.
type pickyGateway struct {
	answers map[string]struct {
		status int
		body   string
	}
	mu   sync.Mutex
	msgs []struct{ To, Text string }
}

func (g *pickyGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct{ To, Text string }
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	g.mu.Lock()
	g.msgs = append(g.msgs, m)
	g.mu.Unlock()
	a, ok := g.answers[m.To]
	if !ok {
		http.Error(w, "unknown recipient", 400)
		return
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// TestCeremonyConfiguration starts the appliance configured as an operator would, with
// ceremony.read_dwell (issue 7) and a success condition for the generic HTTP SMS gateway
// (issue 6: a list of statuses and a body marker), and checks that both take effect: the
// signer's page gets the configured dwell, a gateway answering 202 with the marker delivers the
// code, and one answering 200 without it is a failed delivery in the envelope.
func TestCeremonyConfiguration(t *testing.T) {
	mail := ceremonytest.NewSMTPSink(t)
	gw := &pickyGateway{answers: map[string]struct {
		status int
		body   string
	}{
		"+33611111111": {http.StatusAccepted, `{"status":"queued","id":"m-1"}`},
		"+33622222222": {http.StatusOK, `{"status":"received"}`},
	}}
	gws := httptest.NewServer(gw)
	defer gws.Close()
	const apiKey = "cfg-bootstrap-key-0123456789abcdefghijkl"
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, mail.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// The success condition and the dwell come from a YAML file, as documented in example.yaml.
	yamlFile := filepath.Join(t.TempDir(), "paraphe.yaml")
	if err := os.WriteFile(yamlFile, []byte(`ceremony:
  read_dwell: 2.5s
sms:
  provider: http
  http:
    url: `+gws.URL+`/send
    headers: {Content-Type: application/json}
    body: '{"to":{{json .To}},"text":{{json .Text}}}'
    success_status: [200, 202]
    success_contains: '"queued"'
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(yamlFile, []string{
		"PARAPHE_DATA_DIR=" + t.TempDir(),
		"PARAPHE_LISTEN=" + addr,
		"PARAPHE_METRICS_LISTEN=127.0.0.1:0",
		"PARAPHE_SMTP_HOST=" + mail.Host,
		"PARAPHE_SMTP_PORT=" + strconv.Itoa(mail.Port),
		"PARAPHE_SMTP_USERNAME=" + mail.User,
		"PARAPHE_SMTP_PASSWORD=" + mail.Password,
		"PARAPHE_SMTP_CA_FILE=" + caFile,
		"PARAPHE_BOOTSTRAP_API_KEY=" + apiKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)
	defer r.stop()

	api := r.senderAPI(t, apiKey)
	manifest := map[string]any{
		"title": "Bail", "order": "parallel",
		"signers": []map[string]any{
			{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "phone": "+33611111111", "locale": "fr"},
			{"id": "bob", "name": "Bob Smith", "email": "bob@example.org", "phone": "+33622222222", "locale": "en"},
		},
		"documents": []map[string]any{{"id": "bail", "file": "bail.pdf", "name": "Bail"}},
	}
	mb, _ := json.Marshal(manifest)
	body, contentType := testworld.Upload(mb, map[string][]byte{"bail.pdf": ceremonytest.MinimalPDF(1, "Bail")})
	var env struct{ ID string }
	json.Unmarshal(api("POST", "/api/v1/envelopes", contentType, body), &env)
	api("POST", "/api/v1/envelopes/"+env.ID+"/send", "application/json", nil)

	// Each signer opens their link, reads the page and chooses to sign, which sends the code.
	sign := func(email string) (page string, signStatus int) {
		t.Helper()
		var link string
		for deadline := time.Now().Add(10 * time.Second); link == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, m := range mail.Mails() {
				if len(m.To) == 1 && m.To[0] == email {
					p, err := m.Parse()
					if err != nil {
						t.Fatal(err)
					}
					link = p.Link()
				}
			}
		}
		if link == "" {
			t.Fatalf("no invitation to %s", email)
		}
		sc := newSignerClient(t, r.base)
		browser, call := sc.browser, sc.call
		must := func(method, path string, in any) map[string]any {
			t.Helper()
			status, b := call(method, path, in)
			if status != http.StatusOK {
				t.Fatalf("%s %s %s: %d %s", email, method, path, status, b)
			}
			var out map[string]any
			json.Unmarshal(b, &out)
			return out
		}
		must("GET", link, nil)
		// The page the signer's browser gets, with its script's configuration.
		req, _ := http.NewRequest("GET", r.base+"/s/", nil)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: the signer's page: %d %s", email, resp.StatusCode, pb)
		}
		must("POST", "/s/api/documents/1/pages/1/read", nil)
		st := must("GET", "/s/api/state", nil)
		if inner, ok := st["state"].(map[string]any); ok {
			st = inner
		}
		c, ok := st["consent"].(map[string]any)
		if !ok {
			t.Fatalf("%s: no consent text once everything is read: %v", email, st)
		}
		status, _ := call("POST", "/s/api/sign", map[string]string{"consent_digest": c["digest"].(string)})
		return string(pb), status
	}

	alicePage, aliceSign := sign("alice@example.org")
	_, bobSign := sign("bob@example.org")

	// ceremony.read_dwell reaches the signer's page.
	{
		page := alicePage
		m := regexp.MustCompile(`(?s)<script type="application/json" id="config">(.*?)</script>`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no configuration in the signer's page:\n%s", page)
		}
		var pc struct {
			DwellMS *int64 `json:"dwell_ms"`
		}
		if err := json.Unmarshal([]byte(m[1]), &pc); err != nil {
			t.Fatalf("page configuration: %v\n%s", err, m[1])
		}
		if pc.DwellMS == nil {
			t.Errorf("the signer's page has no dwell_ms:\n%s", m[1])
		} else if *pc.DwellMS != 2500 {
			t.Errorf("the signer's page got dwell_ms %d, want 2500 (ceremony.read_dwell: 2.5s)", *pc.DwellMS)
		}
	}

	// The success condition: 202 with the marker is a sent code, 200 without it a failure,
	// visible in the envelope's deliveries.
	{
		if aliceSign != http.StatusOK {
			t.Errorf("alice's sign (the gateway answered 202 with the marker): %d", aliceSign)
		}
		if bobSign == http.StatusOK {
			t.Errorf("bob's sign succeeded although the gateway answered 200 without the marker")
		}
		var v struct {
			Deliveries []struct {
				Signer, Kind, Channel, Error string
				OK                           bool
				Attempts                     int
			}
		}
		if err := json.Unmarshal(api("GET", "/api/v1/envelopes/"+env.ID, "", nil), &v); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, d := range v.Deliveries {
			if d.Kind == "code" && d.Channel == "sms" {
				got[d.Signer] = fmt.Sprintf("ok=%v error=%q", d.OK, d.Error)
			}
		}
		if got["alice"] != `ok=true error=""` {
			t.Errorf("alice's code (202 with the marker): %s", got["alice"])
		}
		if !strings.HasPrefix(got["bob"], "ok=false") || !strings.Contains(got["bob"], "success marker") {
			t.Errorf("bob's code (200 without the marker): %s", got["bob"])
		}
		gw.mu.Lock()
		defer gw.mu.Unlock()
		n := map[string]int{}
		for _, m := range gw.msgs {
			n[m.To]++
		}
		if n["+33611111111"] != 1 || n["+33622222222"] < 2 {
			t.Errorf("messages to the gateway: %v (one for alice; bob's retried)", n)
		}
	}
}
