package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newFront(t *testing.T, logs io.Writer, mounts ...Mount) (http.Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := New(Options{
		Mounts: mounts,
		Health: func(context.Context) Health {
			return Health{Status: "ok", Version: "test", Components: map[string]string{"x": "ok"}}
		},
		MaxBodyBytes:   1024,
		RequestTimeout: 50 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(logs, nil)),
		Registerer:     reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, reg
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	h, _ := newFront(t, io.Discard)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/nope", nil))
	var body ErrorBody
	if rr.Code != 404 || json.Unmarshal(rr.Body.Bytes(), &body) != nil || body.Error != "not_found" {
		t.Fatalf("got %d %q", rr.Code, rr.Body)
	}
	if rr.Header().Get("Content-Security-Policy") == "" || rr.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("security headers missing")
	}
}

func TestBodyLimit(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			Error(w, http.StatusRequestEntityTooLarge, "body_too_large", err.Error())
			return
		}
		w.WriteHeader(204)
	})
	h, _ := newFront(t, io.Discard, Mount{Patterns: []string{"POST /echo"}, Handler: echo})
	// Declared too large: refused before the handler runs.
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("POST", "/echo", bytes.NewReader(make([]byte, 2048))))
	if rr.Code != 413 {
		t.Fatalf("declared oversized body: %d", rr.Code)
	}
	// Undeclared length (chunked): the reader stops at the limit.
	req := httptest.NewRequest("POST", "/echo", io.MultiReader(bytes.NewReader(make([]byte, 2048))))
	req.ContentLength = -1
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != 413 {
		t.Fatalf("streamed oversized body: %d", rr.Code)
	}
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("POST", "/echo", strings.NewReader("small")))
	if rr.Code != 204 {
		t.Fatalf("small body: %d", rr.Code)
	}
}

func TestRequestDeadline(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			Error(w, http.StatusServiceUnavailable, "timeout", r.Context().Err().Error())
		case <-time.After(5 * time.Second):
			w.WriteHeader(200)
		}
	})
	h, _ := newFront(t, io.Discard, Mount{Patterns: []string{"GET /slow"}, Handler: slow})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/slow", nil))
	if rr.Code != 503 {
		t.Fatalf("handler context had no deadline: %d", rr.Code)
	}
}

func TestPanicIs500AndLogged(t *testing.T) {
	var logs bytes.Buffer
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	h, _ := newFront(t, &logs, Mount{Patterns: []string{"GET /boom"}, Handler: boom})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/boom", nil))
	if rr.Code != 500 || !strings.Contains(logs.String(), "boom") {
		t.Fatalf("got %d, logs %q", rr.Code, logs.String())
	}
}

func TestAccessLogHidesTokensAndQueries(t *testing.T) {
	var logs bytes.Buffer
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	h, _ := newFront(t, &logs, Mount{Patterns: []string{"GET /s/{token}/state"}, Handler: ok})
	const token = "Zm9vYmFyYmF6cXV4c2VjcmV0dG9rZW4tMjU2LWJpdHM"
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/s/"+token+"/state?code=123456", nil))
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), "123456") {
		t.Fatalf("secret in access log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "/s/[token]/state") {
		t.Fatalf("path not logged: %s", logs.String())
	}
}

func TestHealthAndMetrics(t *testing.T) {
	h, reg := newFront(t, io.Discard)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/healthz", nil))
	var hh Health
	if rr.Code != 200 || json.Unmarshal(rr.Body.Bytes(), &hh) != nil || hh.Version != "test" {
		t.Fatalf("healthz: %d %s", rr.Code, rr.Body)
	}
	n, err := testutil.GatherAndCount(reg, "paraphe_http_request_duration_seconds")
	if err != nil || n != 1 {
		t.Fatalf("latency series: %d %v", n, err)
	}
}

func TestConflictingMountsAreAnError(t *testing.T) {
	ok := http.NotFoundHandler()
	_, err := New(Options{MaxBodyBytes: 1, Mounts: []Mount{
		{Patterns: []string{"GET /a"}, Handler: ok},
		{Patterns: []string{"GET /a"}, Handler: ok},
	}})
	if err == nil {
		t.Fatal("duplicate pattern accepted")
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h, err := New(Options{
		MaxBodyBytes: 1024,
		Mounts:       []Mount{{Patterns: []string{"/tsa", "/free"}, Handler: ok}},
		RateLimits:   []RateLimit{{Prefixes: []string{"/tsa"}, PerSecond: 1, Burst: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hit := func(path, addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, nil)
		req.RemoteAddr = addr
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		return rr
	}
	for i := 0; i < 3; i++ {
		if rr := hit("/tsa", "192.0.2.1:1000"); rr.Code != 204 {
			t.Fatalf("request %d within the burst: %d", i, rr.Code)
		}
	}
	rr := hit("/tsa", "192.0.2.1:1001")
	if rr.Code != 429 || rr.Header().Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d, Retry-After %q", rr.Code, rr.Header().Get("Retry-After"))
	}
	// Another address has its own bucket; other routes are not limited.
	if rr := hit("/tsa", "192.0.2.2:1000"); rr.Code != 204 {
		t.Fatalf("another client was limited: %d", rr.Code)
	}
	for i := 0; i < 10; i++ {
		if rr := hit("/free", "192.0.2.1:1000"); rr.Code != 204 {
			t.Fatalf("unlimited route limited: %d", rr.Code)
		}
	}
	// IPv6 clients of one /64 share a bucket.
	for i := 0; i < 3; i++ {
		hit("/tsa", "[2001:db8::1]:1")
	}
	if rr := hit("/tsa", "[2001:db8::2]:1"); rr.Code != 429 {
		t.Fatalf("same /64 not grouped: %d", rr.Code)
	}
}

// A limit's Reject answers in its protocol's terms, with Retry-After set; returning false
// leaves the request to the default 429.
func TestRateLimitReject(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	reached := 0
	h, err := New(Options{
		MaxBodyBytes: 1024,
		Mounts:       []Mount{{Patterns: []string{"/p", "/p/"}, Handler: ok}},
		RateLimits: []RateLimit{{Prefixes: []string{"/p"}, PerSecond: 1, Burst: 1, Reject: func(w http.ResponseWriter, r *http.Request) bool {
			reached++
			if r.URL.Path != "/p" {
				return false
			}
			w.Header().Set("Content-Type", "application/x-proto")
			w.Write([]byte("later " + w.Header().Get("Retry-After")))
			return true
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hit := func(path string) *httptest.ResponseRecorder {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("POST", path, nil))
		return rr
	}
	if rr := hit("/p"); rr.Code != 204 || reached != 0 {
		t.Fatalf("within the limit: %d, Reject called %d times", rr.Code, reached)
	}
	if rr := hit("/p"); rr.Code != 200 || rr.Header().Get("Content-Type") != "application/x-proto" || rr.Body.String() != "later 1" {
		t.Fatalf("over the limit: %d %q %q", rr.Code, rr.Header().Get("Content-Type"), rr.Body)
	}
	rr := hit("/p/other")
	var body ErrorBody
	if rr.Code != 429 || rr.Header().Get("Retry-After") == "" || json.Unmarshal(rr.Body.Bytes(), &body) != nil || body.Error != "rate_limited" {
		t.Fatalf("declined by Reject: %d %q", rr.Code, rr.Body)
	}
}
