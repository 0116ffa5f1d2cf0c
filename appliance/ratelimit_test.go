package appliance

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paraphe/paraphe/web/signer"
)

// TestCeremonyLimitedPerSession: a signer's session is rate-limited wherever its requests come
// from — the same session cookie from twenty addresses is held back after the burst — while
// the same requests without a session, each from its own address, are not.
func TestCeremonyLimitedPerSession(t *testing.T) {
	r := start(t, testConfig(t, t.TempDir(), "PARAPHE_HTTP_RATE_LIMIT_CEREMONY=2"))
	defer r.stop()
	h := r.a.Handler()
	send := func(i int, cookie bool) int {
		req := httptest.NewRequest("GET", "/s/api/state", nil)
		req.RemoteAddr = fmt.Sprintf("192.0.2.%d:4000", i+1)
		if cookie {
			req.AddCookie(&http.Cookie{Name: signer.CookieName, Value: "one-shared-session-secret"})
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	limited := 0
	for i := range 20 {
		if send(i, true) == http.StatusTooManyRequests {
			limited++
		}
	}
	// A burst of three times the rate (6), then one request per half second: at most a few of
	// the twenty pass, however many addresses they come from.
	if limited < 10 {
		t.Fatalf("one session from 20 addresses: %d requests held back, want most of them", limited)
	}
	for i := range 20 {
		if code := send(100+i, false); code == http.StatusTooManyRequests {
			t.Fatalf("request %d without a session, from its own address, was held back", i)
		}
	}
}
