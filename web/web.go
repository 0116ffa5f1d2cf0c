// Package web is Paraphe's HTTP front: one handler for the one listener, with the limits,
// timeouts, security headers, access logs and metrics that every route gets, and /healthz.
//
// Each trust component serves its own protocol (tsa, ca, ledger export an http.Handler);
// web only mounts them. Guarantees: every request body is bounded, every request has a
// deadline, a panic in a handler is a 500 and never kills the process, and the access log
// never holds a query string or a signer's capability token.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Mount is one handler and the patterns (net/http ServeMux syntax) it serves.
type Mount struct {
	Patterns []string
	Handler  http.Handler
}

// Options configure the front handler.
type Options struct {
	Mounts []Mount
	// Health reports the status of each component for /healthz.
	Health func(ctx context.Context) Health
	// MaxBodyBytes bounds every request body; larger bodies fail with 413.
	MaxBodyBytes int64
	// RequestTimeout bounds the handling of every request through its context.
	RequestTimeout time.Duration
	// RateLimits are checked in order; the first whose prefix matches the path applies.
	RateLimits []RateLimit
	// TLS adds Strict-Transport-Security.
	TLS        bool
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Health is the body of /healthz.
type Health struct {
	Status     string            `json:"status"` // ok or degraded
	Version    string            `json:"version"`
	Components map[string]string `json:"components"` // name → "ok" or the reason it is not
}

// New returns the appliance's front handler.
func New(o Options) (http.Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBodyBytes <= 0 {
		return nil, errors.New("web: MaxBodyBytes must be positive")
	}
	mux := http.NewServeMux()
	for _, m := range o.Mounts {
		for _, p := range m.Patterns {
			if err := register(mux, p, m.Handler); err != nil {
				return nil, err
			}
		}
	}
	if o.Health != nil {
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			h := o.Health(r.Context())
			w.Header().Set("Cache-Control", "no-store")
			code := http.StatusOK
			if h.Status != "ok" {
				code = http.StatusServiceUnavailable
			}
			WriteJSON(w, code, h)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		Error(w, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path)
	})
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &front{mux: mux, o: o, metrics: m, limits: newLimiters(o.RateLimits)}, nil
}

// register adds a pattern, turning ServeMux's panic on conflicts into an error.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("web: cannot mount %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

type front struct {
	mux     *http.ServeMux
	o       Options
	metrics *metrics
	limits  *limiters
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	h := rec.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// Pages set a stricter or page-specific policy; this default covers every other response.
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	if f.o.TLS {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if ok, wait, lim := f.limits.allow(r); !ok {
		rec.Header().Set("Retry-After", retryAfter(wait))
		if lim.Reject == nil || !lim.Reject(rec, r) {
			RateLimited(rec, r)
		}
		f.done(rec, r, "", start)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(rec, r.Body, f.o.MaxBodyBytes)
	}
	if r.ContentLength > f.o.MaxBodyBytes {
		Error(rec, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body of %d bytes exceeds the limit of %d", r.ContentLength, f.o.MaxBodyBytes))
		f.done(rec, r, "", start)
		return
	}
	if f.o.RequestTimeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), f.o.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	_, pattern := f.mux.Handler(r)
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			f.o.Logger.Error("handler panicked", "route", pattern, "panic", fmt.Sprint(p))
			if !rec.wrote {
				Error(rec, http.StatusInternalServerError, "internal", "internal error")
			}
		}
		f.done(rec, r, pattern, start)
	}()
	f.mux.ServeHTTP(rec, r)
}

func (f *front) done(rec *recorder, r *http.Request, pattern string, start time.Time) {
	d := time.Since(start)
	route := pattern
	if route == "" || route == "/" {
		route = "unmatched"
	}
	f.metrics.observe(route, r.Method, rec.status, d)
	f.o.Logger.LogAttrs(r.Context(), slog.LevelInfo, "http",
		slog.String("method", r.Method),
		slog.String("path", RedactPath(r.URL.Path)),
		slog.Int("status", rec.status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", d))
}

// RedactPath hides capability tokens: the segment after /s/ (a signer's link) is replaced.
// Query strings are never logged at all.
func RedactPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/s/"); ok && rest != "" {
		tail := ""
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			tail = rest[i:]
		}
		return "/s/[token]" + tail
	}
	return p
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ErrorBody is the JSON body of every error response of the appliance's own routes.
type ErrorBody struct {
	Error   string `json:"error"`   // machine-readable code
	Message string `json:"message"` // what was wrong, for a person
}

// Error writes an ErrorBody.
func Error(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, ErrorBody{Error: code, Message: message})
}
