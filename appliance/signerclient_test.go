package appliance

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
)

// signerClient drives the signer protocol as the pages do: a cookie jar for the session and
// the CSRF token of the last answer that carried one.
type signerClient struct {
	t       *testing.T
	base    string
	browser *http.Client
	csrf    string
}

func newSignerClient(t *testing.T, base string) *signerClient {
	jar, _ := cookiejar.New(nil)
	return &signerClient{t: t, base: base, browser: &http.Client{Jar: jar}}
}

// call sends a JSON request to path (relative to the appliance, or a whole URL such as the
// invitation link) and returns the status and body.
func (s *signerClient) call(method, path string, in any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		rd = bytes.NewReader(b)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = s.base + path
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", s.csrf)
	resp, err := s.browser.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if json.Unmarshal(b, &out) == nil {
		if c, ok := out["csrf_token"].(string); ok && c != "" {
			s.csrf = c
		}
	}
	return resp.StatusCode, b
}

// must is call for a step that must succeed; it returns the decoded answer.
func (s *signerClient) must(method, path string, in any) map[string]any {
	s.t.Helper()
	status, b := s.call(method, path, in)
	if status != http.StatusOK {
		s.t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// senderAPI returns a caller of the sender API with the given key: it sends body with ctype
// (none when empty) and returns the answer, failing the test on anything but a 2xx.
func (r *running) senderAPI(t *testing.T, key string) func(method, path, ctype string, b io.Reader) []byte {
	return func(method, path, ctype string, b io.Reader) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, r.base+path, b)
		req.Header.Set("Authorization", "Bearer "+key)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
}
