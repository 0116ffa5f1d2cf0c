package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"
)

// certIDFor returns the DER CertID of a certificate under the issuing CA.
func certIDFor(t testing.TB, serial *big.Int, h crypto.Hash) []byte {
	t.Helper()
	tmp := &x509.Certificate{SerialNumber: serial}
	der, err := ocsp.CreateRequest(tmp, testKeys.Issuing, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	// OCSPRequest → tbsRequest → requestList → Request → CertID
	s := cryptobyte.String(der)
	var a, b, list, req, id cryptobyte.String
	if !s.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1(&b, cbasn1.SEQUENCE) || !b.ReadASN1(&list, cbasn1.SEQUENCE) ||
		!list.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1Element(&id, cbasn1.SEQUENCE) {
		t.Fatal("cannot take the CertID apart")
	}
	return id
}

// buildRequest makes an OCSPRequest from CertIDs and an optional nonce extension value.
func buildRequest(t testing.TB, nonceExt []byte, ids ...[]byte) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for _, id := range ids {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(id) })
				}
			})
			if nonceExt != nil {
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidOCSPNonce)
							b.AddASN1OctetString(nonceExt)
						})
					})
				})
			}
		})
	})
	return b.BytesOrPanic()
}

func octets(b []byte) []byte {
	var bb cryptobyte.Builder
	bb.AddASN1OctetString(b)
	return bb.BytesOrPanic()
}

// responseExtensions digs the responseExtensions out of a successful OCSPResponse.
func responseExtensions(t testing.TB, der []byte) []pkix.Extension {
	t.Helper()
	var resp struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type     asn1.ObjectIdentifier
			Response []byte
		} `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &resp); err != nil {
		t.Fatal(err)
	}
	var basic struct {
		TBS struct {
			Raw        asn1.RawContent
			ID         asn1.RawValue
			ProducedAt time.Time `asn1:"generalized"`
			Responses  []asn1.RawValue
			Exts       []pkix.Extension `asn1:"explicit,tag:1,optional"`
		}
		Alg   pkix.AlgorithmIdentifier
		Sig   asn1.BitString
		Certs []asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	if _, err := asn1.Unmarshal(resp.Bytes.Response, &basic); err != nil {
		t.Fatal(err)
	}
	return basic.TBS.Exts
}

func TestOCSPStatuses(t *testing.T) {
	ctx := context.Background()
	c := newTestCA(t, nil)
	good, _ := c.IssueSigner(ctx, signerRequest(t))
	revoked, _ := c.IssueSigner(ctx, signerRequest(t))
	c.clock.t = c.clock.t.Add(2 * time.Minute)
	if err := c.Revoke(ctx, revoked.SerialNumber, ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, tc := range []struct {
			cert   *x509.Certificate
			status int
		}{{good, ocsp.Good}, {revoked, ocsp.Revoked}, {&x509.Certificate{SerialNumber: big.NewInt(99)}, ocsp.Unknown}} {
			req, err := ocsp.CreateRequest(tc.cert, testKeys.Issuing, &ocsp.RequestOptions{Hash: h})
			if err != nil {
				t.Fatal(err)
			}
			der := c.RespondOCSP(ctx, req)
			resp, err := ocsp.ParseResponseForCert(der, tc.cert, testKeys.Issuing)
			if err != nil {
				t.Fatalf("%v %v: %v", h, tc.status, err)
			}
			if resp.Status != tc.status || resp.SerialNumber.Cmp(tc.cert.SerialNumber) != 0 || resp.IssuerHash != h {
				t.Errorf("%v: status %d serial %x hash %v, want %d", h, resp.Status, resp.SerialNumber, resp.IssuerHash, tc.status)
			}
			if !bytes.Equal(resp.Certificate.Raw, testKeys.OCSP.Raw) || !bytes.Equal(resp.ResponderKeyHash, mustKeyHash(t)) {
				t.Error("responder certificate not included or responder id wrong")
			}
			wantNext := c.clock.t.Add(time.Hour)
			if tc.status != ocsp.Unknown {
				wantNext = tc.cert.NotAfter // the certificate ends first
			}
			if !resp.ThisUpdate.Equal(c.clock.t) || !resp.NextUpdate.Equal(wantNext) || !resp.ProducedAt.Equal(c.clock.t) {
				t.Errorf("times %v %v %v", resp.ProducedAt, resp.ThisUpdate, resp.NextUpdate)
			}
			if tc.status == ocsp.Revoked && (resp.RevocationReason != ocsp.KeyCompromise || !resp.RevokedAt.Equal(c.clock.t)) {
				t.Errorf("revocation %v %v", resp.RevocationReason, resp.RevokedAt)
			}
		}
	}
	for label, want := range map[string]float64{resultGood: 4, resultRevoked: 4, resultUnknown: 4} {
		if got := testutil.ToFloat64(c.m.ocsp.WithLabelValues(label)); got != want {
			t.Errorf("metric %s = %v, want %v", label, got, want)
		}
	}
}

func mustKeyHash(t *testing.T) []byte {
	r, err := newResponder(testKeys.OCSP, testKeys.OCSPSigner)
	if err != nil {
		t.Fatal(err)
	}
	return r.idByKey
}

func TestOCSPNonceAndMultipleCertIDs(t *testing.T) {
	ctx := context.Background()
	c := newTestCA(t, nil)
	a, _ := c.IssueSigner(ctx, signerRequest(t))
	b, _ := c.IssueSigner(ctx, signerRequest(t))
	c.Revoke(ctx, b.SerialNumber, ReasonSuperseded)

	nonce := octets(bytes.Repeat([]byte{0xab}, 32))
	der := c.RespondOCSP(ctx, buildRequest(t, nonce, certIDFor(t, a.SerialNumber, crypto.SHA1), certIDFor(t, b.SerialNumber, crypto.SHA256)))
	exts := responseExtensions(t, der)
	if len(exts) != 1 || !exts[0].Id.Equal(oidOCSPNonce) || !bytes.Equal(exts[0].Value, nonce) {
		t.Fatalf("nonce not echoed in responseExtensions: %+v", exts)
	}
	ra, err := ocsp.ParseResponseForCert(der, a, testKeys.Issuing)
	if err != nil || ra.Status != ocsp.Good {
		t.Errorf("first CertID: %v %v", ra, err)
	}
	rb, err := ocsp.ParseResponseForCert(der, b, testKeys.Issuing)
	if err != nil || rb.Status != ocsp.Revoked || rb.RevocationReason != ocsp.Superseded {
		t.Errorf("second CertID: %v %v", rb, err)
	}
	// No nonce asked, none given.
	der = c.RespondOCSP(ctx, buildRequest(t, nil, certIDFor(t, a.SerialNumber, crypto.SHA1)))
	if exts := responseExtensions(t, der); len(exts) != 0 {
		t.Errorf("unexpected extensions %v", exts)
	}
	// A raw (RFC 2560 style) nonce is echoed as it came.
	der = c.RespondOCSP(ctx, buildRequest(t, []byte("0123456789abcdef"), certIDFor(t, a.SerialNumber, crypto.SHA1)))
	if exts := responseExtensions(t, der); len(exts) != 1 || string(exts[0].Value) != "0123456789abcdef" {
		t.Errorf("raw nonce: %v", exts)
	}
}

func TestOCSPErrors(t *testing.T) {
	ctx := context.Background()
	c := newTestCA(t, nil)
	a, _ := c.IssueSigner(ctx, signerRequest(t))
	id := certIDFor(t, a.SerialNumber, crypto.SHA1)
	valid := buildRequest(t, nil, id)

	status := func(der []byte) ocsp.ResponseStatus {
		_, err := ocsp.ParseResponse(der, nil)
		if re, ok := err.(ocsp.ResponseError); ok {
			return re.Status
		}
		return ocsp.Success
	}
	// Another issuer: the root, whose name and key differ.
	other, _ := ocsp.CreateRequest(a, testKeys.Root, nil)
	// Right key, wrong name.
	wrongName := bytes.Clone(id)
	wrongName[bytes.Index(wrongName, c.issuerHashes[crypto.SHA1].name)] ^= 1
	many := make([][]byte, maxOCSPCertIDs+1)
	for i := range many {
		many[i] = id
	}
	criticalExt := func() []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(id) })
			})
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 3})
						b.AddASN1Boolean(true)
						b.AddASN1OctetString(nil)
					})
				})
			})
		})
		return b.BytesOrPanic()
	}()
	for name, tc := range map[string]struct {
		der  []byte
		want ocsp.ResponseStatus
	}{
		"empty":              {nil, ocsp.Malformed},
		"garbage":            {[]byte("hello, OCSP"), ocsp.Malformed},
		"two bytes":          {[]byte{0x1f, 0x80}, ocsp.Malformed},
		"trailing":           {append(bytes.Clone(valid), 0), ocsp.Malformed},
		"truncated":          {valid[:len(valid)-1], ocsp.Malformed},
		"no certid":          {buildRequest(t, nil), ocsp.Malformed},
		"too many certids":   {buildRequest(t, nil, many...), ocsp.Malformed},
		"empty nonce":        {buildRequest(t, octets(nil), id), ocsp.Malformed},
		"long nonce":         {buildRequest(t, octets(make([]byte, 129)), id), ocsp.Malformed},
		"critical extension": {criticalExt, ocsp.Malformed},
		"other issuer":       {other, ocsp.Unauthorized},
		"wrong name hash":    {buildRequest(t, nil, wrongName), ocsp.Unauthorized},
		"max nonce":          {buildRequest(t, octets(make([]byte, 128)), id), ocsp.Success},
	} {
		if got := status(c.RespondOCSP(ctx, tc.der)); got != tc.want {
			t.Errorf("%s: status %v, want %v", name, got, tc.want)
		}
	}
}

func TestHandler(t *testing.T) {
	ctx := context.Background()
	c := newTestCA(t, nil)
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	a, _ := c.IssueSigner(ctx, signerRequest(t))
	req, _ := ocsp.CreateRequest(a, testKeys.Issuing, nil)

	do := func(method, path, ctype string, body io.Reader) (*http.Response, []byte) {
		t.Helper()
		r, _ := http.NewRequest(method, srv.URL+path, body)
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	for _, tc := range []struct {
		method, path, ctype string
		body                []byte
		code                int
		rtype               string
	}{
		{"GET", "/ca/chain.pem", "", nil, 200, "application/pem-certificate-chain"},
		{"GET", "/ca/root.pem", "", nil, 200, "application/x-pem-file"},
		{"HEAD", "/ca/root.pem", "", nil, 200, "application/x-pem-file"},
		{"GET", "/ca/issuing.crt", "", nil, 200, "application/pkix-cert"},
		{"GET", "/ca/crl", "", nil, 200, "application/pkix-crl"},
		{"POST", "/ocsp", "application/ocsp-request", req, 200, "application/ocsp-response"},
		{"POST", "/ocsp", "", req, 200, "application/ocsp-response"},
		{"POST", "/ocsp", "text/plain", req, 415, ""},
		{"POST", "/ocsp", "application/ocsp-request", make([]byte, MaxOCSPRequestBytes+1), 413, ""},
		{"POST", "/ocsp", "application/ocsp-request", []byte("junk"), 200, "application/ocsp-response"},
		{"PUT", "/ocsp", "", nil, 405, ""},
		{"DELETE", "/ca/crl", "", nil, 405, ""},
		{"POST", "/ca/chain.pem", "", nil, 405, ""},
		{"GET", "/ca/nothing", "", nil, 404, ""},
		{"GET", "/ocsp/", "", nil, 200, "application/ocsp-response"},
		{"GET", "/ocsp/!!!!", "", nil, 200, "application/ocsp-response"},
		{"GET", "/ocsp/" + strings.Repeat("A", 300000), "", nil, 414, ""},
	} {
		resp, _ := do(tc.method, tc.path, tc.ctype, bytes.NewReader(tc.body))
		if resp.StatusCode != tc.code || (tc.rtype != "" && resp.Header.Get("Content-Type") != tc.rtype) {
			t.Errorf("%s %.40s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.code, tc.rtype)
		}
		if tc.code == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	// A body that lies about its length is cut at the limit.
	r, _ := http.NewRequest("POST", srv.URL+"/ocsp", io.MultiReader(bytes.NewReader(make([]byte, MaxOCSPRequestBytes)), strings.NewReader("more")))
	r.ContentLength = -1
	if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode != 413 {
		t.Errorf("chunked oversized body: %v %v", resp, err)
	}

	// chain.pem is issuing then root.
	_, body := do("GET", "/ca/chain.pem", "", nil)
	if !bytes.Equal(body, append(pemCert(testKeys.Issuing), pemCert(testKeys.Root)...)) {
		t.Error("chain.pem is not issuing + root")
	}
	_, body = do("GET", "/ca/crl", "", nil)
	if crl, err := x509.ParseRevocationList(body); err != nil || crl.CheckSignatureFrom(testKeys.Issuing) != nil {
		t.Errorf("CRL over HTTP: %v", err)
	}

	// GET with the base64 request URL-encoded (RFC 6960 A.1) and raw; both answer.
	for _, path := range []string{"/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req)), "/ocsp/" + base64.RawURLEncoding.EncodeToString(req)} {
		resp, body := do("GET", path, "", nil)
		r, err := ocsp.ParseResponseForCert(body, a, testKeys.Issuing)
		if err != nil || r.Status != ocsp.Good {
			t.Errorf("GET %s: %v %v", path, r, err)
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
			t.Errorf("GET without nonce not cacheable: %q", resp.Header.Get("Cache-Control"))
		}
	}
	// POST answers are not cached by intermediaries.
	resp, _ := do("POST", "/ocsp", "application/ocsp-request", bytes.NewReader(req))
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("POST Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	if got := testutil.ToFloat64(c.m.crlReqs); got != 2 {
		t.Errorf("CRL requests metric %v", got)
	}
}

// FuzzOCSPRequest drives arbitrary bytes through the OCSP path: never a panic, always a
// well-formed OCSP response, and a successful one only for a request the parser accepted.
func FuzzOCSPRequest(f *testing.F) {
	c := newTestCA(f, nil)
	ctx := context.Background()
	a, err := c.IssueSigner(ctx, signerRequest(f))
	if err != nil {
		f.Fatal(err)
	}
	id := certIDFor(f, a.SerialNumber, crypto.SHA1)
	seed, _ := ocsp.CreateRequest(a, testKeys.Issuing, &ocsp.RequestOptions{Hash: crypto.SHA256})
	f.Add(seed)
	f.Add(buildRequest(f, octets([]byte("0123456789abcdef")), id))
	f.Add(buildRequest(f, nil, id, certIDFor(f, big.NewInt(5), crypto.SHA512)))
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x30})
	f.Add([]byte{0x1f, 0x80})
	f.Fuzz(func(t *testing.T, der []byte) {
		resp := c.RespondOCSP(ctx, der)
		req, perr := parseOCSPRequest(der)
		_, err := ocsp.ParseResponse(resp, nil)
		re, isErrResp := err.(ocsp.ResponseError)
		switch {
		case perr != nil:
			if !isErrResp || re.Status != ocsp.Malformed {
				t.Fatalf("unparseable request answered with %v", err)
			}
		case isErrResp:
			if re.Status != ocsp.Unauthorized {
				t.Fatalf("parseable request answered with %v", re.Status)
			}
		default:
			// Success. x/crypto/ocsp refuses several SingleResponses without a certificate
			// to pick one; the response must still be DER we can take apart.
			if len(req.certs) == 1 && err != nil {
				t.Fatalf("single response does not parse: %v", err)
			}
			responseExtensions(t, resp)
		}
	})
}
