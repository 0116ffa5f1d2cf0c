package ca

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxOCSPRequestBytes bounds an OCSP request body (POST) or decoded path (GET).
const MaxOCSPRequestBytes = 64 << 10

// Handler serves the CA's public protocol. Mount it for "/ca/" and "/ocsp" and "/ocsp/":
//
//	GET  /ca/chain.pem    issuing CA then root, PEM (application/pem-certificate-chain)
//	GET  /ca/root.pem     root, PEM
//	GET  /ca/root.crt     root, DER (application/pkix-cert): the caIssuers URL of the certificates the root issues
//	GET  /ca/root.crl     the root's CRL, DER (application/pkix-crl), as last signed in a key ceremony:
//	                      the CRL distribution point of the issuing CA, TSA unit and platform seal;
//	                      404 when the hierarchy has none
//	GET  /ca/issuing.crt  issuing CA, DER (application/pkix-cert): the caIssuers URL
//	GET  /ca/crl          current CRL, DER (application/pkix-crl): the CRL distribution point
//	POST /ocsp            OCSP (RFC 6960 A.1), body application/ocsp-request ≤ 64 KiB
//	GET  /ocsp/{base64}   OCSP, URL-encoded base64 of the DER request
//
// GET routes also answer HEAD. Another method on a known path gets 405 with Allow; an unknown
// path 404; a body over 64 KiB 413; a POST with another Content-Type 415. OCSP errors are OCSP
// responses with HTTP 200, as RFC 6960 requires.
func (c *CA) Handler() http.Handler {
	mux := http.NewServeMux()
	static := func(typ string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", typ)
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Write(body)
		}
	}
	mux.HandleFunc("GET /ca/chain.pem", static("application/pem-certificate-chain", c.chainPEM))
	mux.HandleFunc("GET /ca/root.pem", static("application/x-pem-file", c.rootPEM))
	mux.HandleFunc("GET /ca/root.crt", static("application/pkix-cert", c.keys.Root.Raw))
	mux.HandleFunc("GET /ca/root.crl", c.serveRootCRL)
	mux.HandleFunc("GET /ca/issuing.crt", static("application/pkix-cert", c.keys.Issuing.Raw))
	mux.HandleFunc("GET /ca/crl", c.serveCRL)
	mux.HandleFunc("POST /ocsp", c.serveOCSPPost)
	mux.HandleFunc("GET /ocsp/", c.serveOCSPGet)
	return mux
}

func (c *CA) serveCRL(w http.ResponseWriter, r *http.Request) {
	c.m.crlReqs.Inc()
	der, err := c.CRL(r.Context())
	if err != nil {
		c.log.LogAttrs(r.Context(), slog.LevelError, "CRL unavailable", slog.String("error", err.Error()))
		http.Error(w, "CRL unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "public, max-age=60, no-transform")
	w.Write(der)
}

// serveRootCRL publishes the current root CRL (see UpdateRootCRL). It is served even once
// expired (a relying party decides what a stale CRL is worth); keys.CheckRootCRL reports that.
func (c *CA) serveRootCRL(w http.ResponseWriter, r *http.Request) {
	crl := c.RootCRL()
	if crl == nil {
		http.Error(w, "this hierarchy has no root CRL: run paraphe ca renew-root-crl", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "public, max-age=3600, no-transform")
	w.Write(crl.Raw)
}

func (c *CA) serveOCSPPost(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/ocsp-request" {
			c.m.rejected.WithLabelValues("media_type").Inc()
			http.Error(w, "Content-Type must be application/ocsp-request", http.StatusUnsupportedMediaType)
			return
		}
	}
	if r.ContentLength > MaxOCSPRequestBytes {
		c.tooLarge(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxOCSPRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.tooLarge(w)
			return
		}
		http.Error(w, "cannot read the request body", http.StatusBadRequest)
		return
	}
	c.writeOCSP(w, r, c.respondOCSP(r.Context(), body), false)
}

func (c *CA) tooLarge(w http.ResponseWriter) {
	c.m.rejected.WithLabelValues("too_large").Inc()
	http.Error(w, fmt.Sprintf("OCSP requests are limited to %d bytes", MaxOCSPRequestBytes), http.StatusRequestEntityTooLarge)
}

// serveOCSPGet decodes the request from the escaped path itself, so that "+", "/" and "=" in
// the base64 text survive whether or not the client URL-encoded them.
func (c *CA) serveOCSPGet(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	i := strings.Index(p, "/ocsp/")
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	enc := p[i+len("/ocsp/"):]
	if len(enc) > base64.StdEncoding.EncodedLen(MaxOCSPRequestBytes)*3 { // even fully %-escaped
		c.m.rejected.WithLabelValues("too_large").Inc()
		http.Error(w, "OCSP request too long", http.StatusRequestURITooLong)
		return
	}
	enc, err := url.PathUnescape(enc)
	var der []byte
	if err == nil {
		der, err = decodeBase64(enc)
	}
	if err != nil {
		// Not base64 at all: still an OCSP answer, as for any request we cannot parse.
		c.m.rejected.WithLabelValues("bad_encoding").Inc()
		c.m.ocsp.WithLabelValues(resultMalformed).Inc()
		c.writeOCSP(w, r, ocspAnswer{der: errorResponse(ocspMalformedRequest), result: resultMalformed}, true)
		return
	}
	if len(der) > MaxOCSPRequestBytes {
		c.tooLarge(w)
		return
	}
	c.writeOCSP(w, r, c.respondOCSP(r.Context(), der), true)
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := e.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func (c *CA) writeOCSP(w http.ResponseWriter, r *http.Request, a ocspAnswer, get bool) {
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	if get && a.cacheable {
		// RFC 5019 §6: a response without a nonce may be cached until nextUpdate.
		if age := int(a.nextUpdate.Sub(c.now()) / time.Second); age > 0 {
			h.Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", age))
			h.Set("Last-Modified", a.thisUpdate.Format(http.TimeFormat))
			h.Set("Expires", a.nextUpdate.Format(http.TimeFormat))
		}
	} else {
		h.Set("Cache-Control", "no-store")
	}
	w.Write(a.der)
}
