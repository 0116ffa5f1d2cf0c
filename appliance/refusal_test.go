package appliance

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/ocsp"

	"github.com/paraphe/paraphe/tsa/tsatest"
)

// tsReply is a TimeStampResp as it arrived over HTTP.
type tsReply struct {
	httpStatus  int
	contentType string
	retryAfter  string
	der         []byte
}

func postTSA(t *testing.T, base string, query []byte) tsReply {
	t.Helper()
	resp, err := http.Post(base+"/tsa", "application/timestamp-query", bytes.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return tsReply{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), body}
}

// pkiStatusInfo decodes the PKIStatusInfo of a DER TimeStampResp (RFC 3161 §2.4.2) and
// returns its status, statusString and the set failInfo bits.
func pkiStatusInfo(t *testing.T, der []byte) (status int, text string, failInfo []int) {
	t.Helper()
	var resp struct {
		Status struct {
			Status       int
			StatusString []string       `asn1:"optional,utf8"`
			FailInfo     asn1.BitString `asn1:"optional"`
		}
		Token asn1.RawValue `asn1:"optional"`
	}
	rest, err := asn1.Unmarshal(der, &resp)
	if err != nil || len(rest) > 0 {
		t.Fatalf("not a TimeStampResp (%v, %d trailing bytes): %x", err, len(rest), der)
	}
	for i := 0; i < resp.Status.FailInfo.BitLength; i++ {
		if resp.Status.FailInfo.At(i) == 1 {
			failInfo = append(failInfo, i)
		}
	}
	return resp.Status.Status, strings.Join(resp.Status.StatusString, " "), failInfo
}

func tsQuery(t *testing.T, data string) []byte {
	t.Helper()
	q, err := timestamp.CreateRequest(strings.NewReader(data), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// Issue 3: every refusal of POST /tsa is an RFC 3161 TimeStampResp, also the front's rate
// limit: a client over http.rate_limit.tsa gets HTTP 200, application/timestamp-reply, PKIStatus
// rejection with failInfo systemFailure and a statusString saying it is rate limited, plus
// Retry-After. Other clients, and the client once it has waited, get tokens.
func TestRateLimitedTimeStampQueryIsRejection(t *testing.T) {
	r := start(t, testConfig(t, t.TempDir(), "PARAPHE_HTTP_RATE_LIMIT_TSA=1")) // bursts of 3
	defer r.stop()
	query := tsQuery(t, "rate me")
	var granted, limited int
	for i := 0; i < 10; i++ {
		rep := postTSA(t, r.base, query)
		if rep.httpStatus != http.StatusOK || rep.contentType != "application/timestamp-reply" {
			t.Fatalf("request %d: HTTP %d %q %q; every answer must be a 200 application/timestamp-reply", i, rep.httpStatus, rep.contentType, rep.der)
		}
		status, text, failInfo := pkiStatusInfo(t, rep.der)
		switch status {
		case 0:
			if _, err := timestamp.ParseResponse(rep.der); err != nil {
				t.Fatalf("request %d: granted token does not parse: %v", i, err)
			}
			granted++
		case 2:
			limited++
			if len(failInfo) != 1 || failInfo[0] != int(timestamp.SystemFailure) {
				t.Fatalf("request %d: failInfo bits %v, want systemFailure (25)", i, failInfo)
			}
			if !strings.Contains(text, "rate limited") || rep.retryAfter == "" || !strings.Contains(text, "retry after "+rep.retryAfter+" s") {
				t.Fatalf("request %d: statusString %q, Retry-After %q", i, text, rep.retryAfter)
			}
			_, err := timestamp.ParseResponse(rep.der)
			if err == nil || !strings.Contains(err.Error(), "rate limited") {
				t.Fatalf("request %d: digitorus/timestamp reads the rejection as %v", i, err)
			}
		default:
			t.Fatalf("request %d: PKIStatus %d", i, status)
		}
	}
	if granted < 3 || limited < 3 {
		t.Fatalf("%d granted, %d limited; want the burst of 3 granted and the rest limited", granted, limited)
	}
	// Only the protocol's own errors stay HTTP errors while limited.
	resp, err := http.Post(r.base+"/tsa", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("wrong content type while rate limited: %d", resp.StatusCode)
	}
	// The certificates are no protocol exchange: the default 429.
	resp, err = http.Get(r.base + "/tsa/certs.pem")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("GET /tsa/certs.pem over the limit: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	metrics := string(get(t, http.DefaultClient, r.metrics+"/metrics"))
	if !strings.Contains(metrics, `paraphe_tsa_requests_refused_total{reason="systemFailure"} `) ||
		strings.Contains(metrics, `paraphe_tsa_requests_refused_total{reason="systemFailure"} 0`) {
		t.Fatal("rate-limited rejections are not counted as systemFailure refusals")
	}
}

// A client over http.rate_limit.ocsp gets an OCSPResponse with responseStatus tryLater (RFC 6960
// §4.2.1), over POST and GET, never an HTTP 429 that an OCSP client cannot read.
func TestRateLimitedOCSPIsTryLater(t *testing.T) {
	r := start(t, testConfig(t, t.TempDir(), "PARAPHE_HTTP_RATE_LIMIT_OCSP=1")) // bursts of 3
	defer r.stop()
	k := r.a.Keys()
	req, err := ocsp.CreateRequest(k.TSA, k.Issuing, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(i int, resp *http.Response) bool {
		t.Helper()
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/ocsp-response" {
			t.Fatalf("request %d: HTTP %d %q %q; want 200 application/ocsp-response", i, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		_, err := ocsp.ParseResponse(body, k.Issuing)
		if err == nil {
			return false // an answer about the certificate: not limited
		}
		if re, ok := err.(ocsp.ResponseError); !ok || re.Status != ocsp.TryLater {
			t.Fatalf("request %d: %v, want a tryLater OCSPResponse", i, err)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Fatalf("request %d: tryLater without Retry-After", i)
		}
		return true
	}
	var good, later int
	for i := 0; i < 10; i++ {
		var resp *http.Response
		var err error
		if i%2 == 0 {
			resp, err = http.Post(r.base+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
		} else {
			resp, err = http.Get(r.base + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req)))
		}
		if err != nil {
			t.Fatal(err)
		}
		if check(i, resp) {
			later++
		} else {
			good++
		}
	}
	if good < 3 || later < 3 {
		t.Fatalf("%d answered, %d tryLater; want the burst of 3 answered and the rest tryLater", good, later)
	}
}

func healthz(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Status     string            `json:"status"`
		Components map[string]string `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{"status": h.Status}
	for k, v := range h.Components {
		out[k] = v
	}
	return resp.StatusCode, out
}

// waitHealthz polls /healthz until it answers want.
func waitHealthz(t *testing.T, base string, want int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, h := healthz(t, base)
		if code == want {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz still %d %v, want %d", code, h, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Issue 3 item 3: when the TSA's clock can no longer be trusted (its NTP server now says the
// local clock is 10 s off, beyond the bound set by the 1 s accuracy), /healthz is degraded and
// says why, the metrics give the cause, and a time-stamp query gets a timeNotAvailable
// rejection; when the offset is back within bounds everything recovers without a restart.
// TestStartWithUntrustedClock covers a clock untrusted already at start.
func TestHealthzSaysWhyTSAClockIsUntrusted(t *testing.T) {
	srv := tsatest.StartSNTPServer(t, 0)
	r := start(t, testConfig(t, t.TempDir(), "PARAPHE_TSA_NTP_SERVERS="+srv.Addr, "PARAPHE_TSA_NTP_INTERVAL=1s"))
	defer r.stop()
	if code, h := healthz(t, r.base); code != http.StatusOK || h["tsa"] != "ok" {
		t.Fatalf("healthz with a good clock: %d %v", code, h)
	}

	srv.Ahead.Store(int64(10 * time.Second))
	h := waitHealthz(t, r.base, http.StatusServiceUnavailable)
	reason, _ := h["tsa"].(string)
	if h["status"] != "degraded" || !strings.Contains(reason, "clock not trusted (ntp_offset)") || !strings.Contains(reason, "exceeds") {
		t.Fatalf("healthz with a clock 10 s off: %v", h)
	}
	metrics := string(get(t, http.DefaultClient, r.metrics+"/metrics"))
	for _, m := range []string{"paraphe_tsa_clock_trusted 0", `paraphe_tsa_clock_untrusted{cause="ntp_offset"} 1`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
	rep := postTSA(t, r.base, tsQuery(t, "what time is it"))
	if rep.httpStatus != http.StatusOK || rep.contentType != "application/timestamp-reply" {
		t.Fatalf("query with an untrusted clock: HTTP %d %q", rep.httpStatus, rep.contentType)
	}
	status, text, failInfo := pkiStatusInfo(t, rep.der)
	if status != 2 || len(failInfo) != 1 || failInfo[0] != int(timestamp.TimeNotAvailable) || !strings.Contains(text, "clock") {
		t.Fatalf("query with an untrusted clock: PKIStatus %d, failInfo %v, %q; want rejection, timeNotAvailable", status, failInfo, text)
	}

	srv.Ahead.Store(0)
	if h = waitHealthz(t, r.base, http.StatusOK); h["tsa"] != "ok" {
		t.Fatalf("tsa component %v", h["tsa"])
	}
	if status, _, _ := pkiStatusInfo(t, postTSA(t, r.base, tsQuery(t, "now?")).der); status != 0 {
		t.Fatalf("clock back in bounds: PKIStatus %d", status)
	}
}

// TestStartWithUntrustedClock: an appliance whose NTP server says its clock is 10 s off at
// boot still starts — it cannot timestamp, so /healthz is degraded and names both the TSA's
// cause and the ledger's wait — and recovers without a restart once the clock is back in
// bounds: the ledger publishes its checkpoint and /healthz is ok.
func TestStartWithUntrustedClock(t *testing.T) {
	srv := tsatest.StartSNTPServer(t, 10*time.Second)
	r := start(t, testConfig(t, t.TempDir(), "PARAPHE_TSA_NTP_SERVERS="+srv.Addr, "PARAPHE_TSA_NTP_INTERVAL=1s"))
	defer r.stop()
	code, h := healthz(t, r.base)
	tsaReason, _ := h["tsa"].(string)
	ledgerReason, _ := h["ledger"].(string)
	if code != http.StatusServiceUnavailable || !strings.Contains(tsaReason, "ntp_offset") || ledgerReason == "ok" || ledgerReason == "" {
		t.Fatalf("healthz at a start with an untrusted clock: %d %v", code, h)
	}
	if resp, err := http.Get(r.base + "/ledger/checkpoint"); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("a checkpoint is served without a timestamp: %v %v", resp, err)
	}
	srv.Ahead.Store(0)
	if h = waitHealthz(t, r.base, http.StatusOK); h["tsa"] != "ok" || h["ledger"] != "ok" {
		t.Fatalf("after the clock came back: %v", h)
	}
	resp, err := http.Get(r.base + "/ledger/checkpoint.tsr")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the checkpoint's timestamp after recovery: %v %v", resp, err)
	}
	resp.Body.Close()
}
