// Package verifyui serves the public verification page: GET /verify shows a form, POST /verify
// takes a signed PDF or an evidence bundle and shows its verification report, in French or
// English.
//
// Guarantees:
//   - Nothing uploaded is kept: the upload is read from the request into memory (never through
//     ParseMultipartForm, which may spill to temporary files), verified, and dropped; nothing
//     about it is logged but its size and outcome.
//   - The request body is bounded (Options.MaxUpload) and at most Options.Concurrency
//     verifications run at once; others get 503.
//   - Pages carry a strict Content-Security-Policy (no script at all, styles only from this
//     origin, no framing); every value shown goes through html/template's escaping. The page
//     changes no state; cross-site posts are refused all the same.
//   - Verification is the code of `paraphe verify` (packages pades and evidence) against the
//     roots and ledger key the appliance is configured with.
package verifyui

import (
	"bytes"
	"context"
	"crypto/x509"
	"embed"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/pades"
)

// CSP is the Content-Security-Policy of every page.
const CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

//go:embed assets/verify.css
var assets embed.FS

// Options configure the handler.
type Options struct {
	// Roots are the trust anchors (the appliance's root CA). Required.
	Roots *x509.CertPool
	// LedgerKey pins the ledger's checkpoint verifier key for bundles (recommended).
	LedgerKey string
	// MaxUpload bounds the request body (default 64 MiB); Concurrency the verifications that
	// run at once (default 4); Timeout one verification (default 60 s).
	MaxUpload   int64
	Concurrency int
	Timeout     time.Duration
	Logger      *slog.Logger
}

type handler struct {
	opt  Options
	sem  chan struct{}
	page *template.Template
}

// New returns the handler of GET /verify, POST /verify and GET /verify/assets/verify.css.
func New(opt Options) (http.Handler, error) {
	if opt.Roots == nil {
		return nil, errors.New("verifyui: Roots is required")
	}
	if opt.MaxUpload <= 0 {
		opt.MaxUpload = 64 << 20
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 60 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	t, err := template.New("page").Parse(pageTemplate)
	if err != nil {
		return nil, err
	}
	h := &handler{opt: opt, sem: make(chan struct{}, opt.Concurrency), page: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /verify", h.form)
	mux.HandleFunc("POST /verify", h.verify)
	mux.HandleFunc("GET /verify/assets/verify.css", func(w http.ResponseWriter, r *http.Request) {
		b, _ := assets.ReadFile("assets/verify.css")
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(b)
	})
	return secure(mux), nil
}

func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// view is what the page template shows.
type view struct {
	L      map[string]string
	Lang   string
	Other  string
	Error  string
	File   string
	PDF    *pades.Report
	Bundle *evidence.Report
	// Failures and Warnings are the bundle's, in the page's language.
	Failures, Warnings []string
	Checked            bool
}

func (h *handler) lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		if strings.HasPrefix(tag, "fr") {
			return "fr"
		}
		if strings.HasPrefix(tag, "en") {
			return "en"
		}
	}
	return "fr"
}

func (h *handler) render(w http.ResponseWriter, status int, v view) {
	other := map[string]string{"fr": "en", "en": "fr"}
	v.L, v.Other = messages[v.Lang], other[v.Lang]
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, v); err != nil {
		h.opt.Logger.Error("verifyui: render", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (h *handler) form(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, view{Lang: h.lang(r)})
}

func (h *handler) verify(w http.ResponseWriter, r *http.Request) {
	lang := h.lang(r)
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		h.render(w, http.StatusForbidden, view{Lang: lang, Error: messages[lang]["cross_site"]})
		return
	}
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		h.render(w, http.StatusServiceUnavailable, view{Lang: lang, Error: messages[lang]["busy"]})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.opt.MaxUpload)
	name, data, err := readUpload(r)
	if err != nil {
		status, key := http.StatusBadRequest, "bad_upload"
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status, key = http.StatusRequestEntityTooLarge, "too_large"
		}
		h.render(w, status, view{Lang: lang, Error: messages[lang][key]})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opt.Timeout)
	defer cancel()
	v := view{Lang: lang, File: name, Checked: true}
	switch {
	case evidence.IsBundle(data):
		rep, err := evidence.Verify(ctx, data, evidence.Options{Roots: h.opt.Roots, LedgerKey: h.opt.LedgerKey})
		if err != nil {
			v.Error = messages[lang]["unreadable"] + " " + err.Error()
		}
		v.Bundle = rep
		if rep != nil {
			v.Failures, v.Warnings = rep.FailuresIn(lang), rep.WarningsIn(lang)
		}
	case bytes.Contains(data[:min(len(data), 1024)], []byte("%PDF-")):
		rep, err := pades.Verify(ctx, bytes.NewReader(data), int64(len(data)), pades.VerifyOptions{Roots: h.opt.Roots})
		if err != nil {
			v.Error = messages[lang]["unreadable"] + " " + err.Error()
		}
		v.PDF = rep
	default:
		v.Error = messages[lang]["unknown_kind"]
	}
	valid := (v.Bundle != nil && v.Bundle.Valid) || (v.PDF != nil && v.PDF.Valid)
	h.opt.Logger.Info("verifyui: verification", "bytes", len(data), "valid", valid)
	h.render(w, http.StatusOK, v)
}

// readUpload reads the "file" part of a multipart form into memory.
func readUpload(r *http.Request) (string, []byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return "", nil, errors.New("not a multipart form")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil, err
	}
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", nil, err
		}
		if p.FormName() != "file" {
			io.Copy(io.Discard, p)
			continue
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return "", nil, err
		}
		if len(data) == 0 {
			return "", nil, errors.New("empty file")
		}
		return p.FileName(), data, nil
	}
}
