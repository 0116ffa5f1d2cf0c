package appliance

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/testworld"
)

// outboxPage reads GET /dev/outbox with the API key as the Basic password, as a browser would.
func outboxPage(t *testing.T, base, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/dev/outbox", nil)
	if key != "" {
		req.SetBasicAuth("dev", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// In development, /dev/outbox shows the invitation email (its link clickable) and the code SMS
// that the outbox captured, to a holder of an API key only.
func TestOutboxPageInDevelopment(t *testing.T) {
	const apiKey = "dev-outbox-bootstrap-key-0123456789abcdef"
	r := start(t, testConfig(t, t.TempDir(), "PARAPHE_BOOTSTRAP_API_KEY="+apiKey))
	defer r.stop()
	api := r.senderAPI(t, apiKey)
	manifest := map[string]any{
		"title": "Bail", "order": "sequential",
		"signers":   []map[string]any{{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "phone": "+33612345678", "locale": "en", "order": 1}},
		"documents": []map[string]any{{"id": "bail", "file": "bail.pdf", "name": "Bail"}},
	}
	mb, _ := json.Marshal(manifest)
	body, ctype := testworld.Upload(mb, map[string][]byte{"bail.pdf": ceremonytest.MinimalPDF(1, "Bail")})
	var env struct{ ID string }
	json.Unmarshal(api("POST", "/api/v1/envelopes", ctype, body), &env)
	api("POST", "/api/v1/envelopes/"+env.ID+"/send", "application/json", nil)

	if status, page := outboxPage(t, r.base, ""); status != http.StatusUnauthorized || strings.Contains(page, "/s/") {
		t.Fatalf("the outbox page without a key: %d\n%s", status, page)
	}
	status, page := outboxPage(t, r.base, apiKey)
	link := regexp.MustCompile(`<a href="(https?://[^"]+/s/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(page)
	if status != http.StatusOK || link == nil || !strings.Contains(page, "alice@example.org") {
		t.Fatalf("the outbox page lacks the invitation: %d\n%s", status, page)
	}

	// The signer follows the link from the page and chooses to sign: the code SMS appears.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	csrf := ""
	call := func(method, url string, in any) map[string]any {
		t.Helper()
		var rd io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			rd = bytes.NewReader(b)
		}
		if !strings.HasPrefix(url, "http") {
			url = r.base + url
		}
		req, _ := http.NewRequest(method, url, rd)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
		var out map[string]any
		json.Unmarshal(b, &out)
		if c, ok := out["csrf_token"].(string); ok && c != "" {
			csrf = c
		}
		return out
	}
	call("GET", link[1][strings.Index(link[1], "/s/"):], nil) // the public URL's port is :0 here
	call("POST", "/s/api/documents/1/pages/1/read", nil)
	st := call("GET", "/s/api/state", nil)["state"].(map[string]any)
	call("POST", "/s/api/sign", map[string]string{"consent_digest": st["consent"].(map[string]any)["digest"].(string)})
	var code []string
	for deadline := time.Now().Add(5 * time.Second); code == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, page = outboxPage(t, r.base, apiKey)
		code = regexp.MustCompile(`<pre>[^<]*\b([0-9]{6})\b`).FindStringSubmatch(page)
	}
	if code == nil || !strings.Contains(page, "SMS to &#43;33612345678") || strings.Index(page, "SMS to") > strings.Index(page, "Email to") {
		t.Fatalf("the outbox page lacks the code SMS, newest first:\n%s", page)
	}
	call("POST", "/s/api/code/verify", map[string]string{"code": code[1]})
}

// In production there is no outbox and no /dev/outbox: the route is the front's 404, with or
// without an API key.
func TestNoOutboxPageInProduction(t *testing.T) {
	const apiKey = "prod-outbox-bootstrap-key-0123456789abcdef"
	dir := t.TempDir()
	cfg := testConfig(t, dir,
		"PARAPHE_MODE=production",
		"PARAPHE_KEYS_PASSPHRASE=correct horse battery staple, production test",
		"PARAPHE_SMTP_HOST=127.0.0.1",
		"PARAPHE_SMTP_PORT=1",
		"PARAPHE_SMTP_FROM=Paraphe <signatures@example.org>",
		"PARAPHE_SMS_PROVIDER=http",
		"PARAPHE_SMS_HTTP_URL=http://127.0.0.1:1/send",
		`PARAPHE_SMS_HTTP_BODY={"to":{{json .To}},"text":{{json .Text}}}`,
		"PARAPHE_BOOTSTRAP_API_KEY="+apiKey,
	)
	if _, err := Init(context.Background(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	r := start(t, cfg)
	defer r.stop()
	if _, err := os.Stat(cfg.Path(devAccessFile)); !os.IsNotExist(err) {
		t.Fatalf("production made development credentials: %v", err)
	}
	for _, key := range []string{"", apiKey} {
		status, page := outboxPage(t, r.base, key)
		if status != http.StatusNotFound {
			t.Fatalf("/dev/outbox in production (key %t): %d\n%s", key != "", status, page)
		}
	}
	req, _ := http.NewRequest("GET", r.base+"/api/v1/outbox", nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/api/v1/outbox in production: %d", resp.StatusCode)
	}
}
