package tsa

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// MaxRequestBytes caps a POST /tsa body. A TimeStampReq with a SHA-512 imprint, a policy, a
// 256-bit nonce and a few extensions is far below it.
const MaxRequestBytes = 16 << 10

// Media types of RFC 3161 §3.4.
const (
	ContentTypeQuery = "application/timestamp-query"
	ContentTypeReply = "application/timestamp-reply"
)

// Handler serves
//
//	POST /tsa            application/timestamp-query → application/timestamp-reply (HTTP 200,
//	                     also for rejections); 405 for another method, 415 for another content
//	                     type, 413 for a body over MaxRequestBytes
//	GET  /tsa/certs.pem  the TSU certificate and its chain, PEM
//
// Mount it for both paths (or at "/"); other paths are 404.
func (t *TSA) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/tsa", t.serveTSA)
	mux.HandleFunc("/tsa/certs.pem", t.serveCerts)
	return mux
}

func (t *TSA) serveTSA(w http.ResponseWriter, r *http.Request) {
	if !checkQuery(w, r) {
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body over "+strconv.Itoa(MaxRequestBytes)+" bytes", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the request body failed", http.StatusBadRequest)
		return
	}
	writeReply(w, t.Respond(r.Context(), body))
}

// checkQuery answers with an HTTP error, and returns false, a request that is no time-stamp
// query at all: another method, another content type, a declared body over MaxRequestBytes.
func checkQuery(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST with "+ContentTypeQuery, http.StatusMethodNotAllowed)
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct != ContentTypeQuery { // fast path; otherwise parse parameters and case
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != ContentTypeQuery {
			http.Error(w, "Content-Type must be "+ContentTypeQuery, http.StatusUnsupportedMediaType)
			return false
		}
	}
	if r.ContentLength > MaxRequestBytes {
		http.Error(w, "request body over "+strconv.Itoa(MaxRequestBytes)+" bytes", http.StatusRequestEntityTooLarge)
		return false
	}
	return true
}

func writeReply(w http.ResponseWriter, resp []byte) {
	h := w.Header()
	h["Content-Type"] = []string{ContentTypeReply}
	h["Content-Length"] = []string{strconv.Itoa(len(resp))}
	h["Cache-Control"] = []string{"no-store"}
	w.Write(resp)
}

// RejectRateLimited answers a request to POST /tsa that a rate limiter holds back (see
// web.RateLimit.Reject) as RFC 3161 requires of every refusal: HTTP 200 with a TimeStampResp,
// PKIStatus rejection, failInfo systemFailure and a statusString saying the client is rate
// limited (with the Retry-After already set on w, if any). A request that is no time-stamp
// query gets the same HTTP error as from Handler. It returns false, writing nothing, for other
// paths (GET /tsa/certs.pem), which have no protocol-level refusal.
func (t *TSA) RejectRateLimited(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != "/tsa" {
		return false
	}
	if !checkQuery(w, r) {
		return true
	}
	text := "rate limited: too many requests from this address"
	if ra := w.Header().Get("Retry-After"); ra != "" {
		text += "; retry after " + ra + " s"
	}
	t.metrics.refused[SystemFailure].Inc()
	writeReply(w, encodeRejection(SystemFailure, text))
	return true
}

// readBody reads at most MaxRequestBytes, sized by Content-Length when the client sent one.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, MaxRequestBytes)
	if n := r.ContentLength; n >= 0 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(body)
}

func (t *TSA) serveCerts(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/pem-certificate-chain")
	w.Header().Set("Content-Length", strconv.Itoa(len(t.certsPEM)))
	w.Write(t.certsPEM)
}
