package tsa

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/internal/testtool"
)

// postQuery POSTs a query file to the server and returns the reply body, checking the HTTP
// status and content type.
func postQuery(t *testing.T, url string, query []byte) []byte {
	t.Helper()
	resp, err := http.Post(url+"/tsa", ContentTypeQuery, bytes.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ContentTypeReply {
		t.Fatalf("POST /tsa: %s, Content-Type %q: %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	return body
}

func runOpenSSL(t *testing.T, openssl string, args ...string) string {
	t.Helper()
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestOpenSSLInterop runs OpenSSL as the client against a live HTTP server: query, POST,
// verify, and inspect the reply, for each hash, with and without nonce and certReq.
func TestOpenSSLInterop(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	f := testFixture(t)
	ts := newTestTSA(t, nil)
	srv := httptest.NewServer(ts.Handler())
	defer srv.Close()

	dir := t.TempDir()
	rootPEM, tsuPEM := f.writePEM(t, dir)
	data := filepath.Join(dir, "data.bin")
	buf := make([]byte, 20000)
	rand.Read(buf)
	if err := os.WriteFile(data, buf, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, hash := range []string{"sha256", "sha384", "sha512"} {
		for _, nonce := range []bool{true, false} {
			for _, cert := range []bool{true, false} {
				name := fmt.Sprintf("%s/nonce=%v/cert=%v", hash, nonce, cert)
				t.Run(name, func(t *testing.T) {
					q := filepath.Join(t.TempDir(), "q.tsq")
					r := filepath.Join(filepath.Dir(q), "r.tsr")
					args := []string{"ts", "-query", "-data", data, "-" + hash, "-out", q}
					if cert {
						args = append(args, "-cert")
					}
					if !nonce {
						args = append(args, "-no_nonce")
					}
					runOpenSSL(t, openssl, args...)
					query, err := os.ReadFile(q)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(r, postQuery(t, srv.URL, query), 0o644); err != nil {
						t.Fatal(err)
					}
					out := runOpenSSL(t, openssl, "ts", "-verify", "-in", r, "-queryfile", q, "-CAfile", rootPEM, "-untrusted", tsuPEM)
					if !strings.Contains(out, "Verification: OK") {
						t.Fatalf("openssl ts -verify:\n%s", out)
					}
					out = runOpenSSL(t, openssl, "ts", "-verify", "-in", r, "-data", data, "-CAfile", rootPEM, "-untrusted", tsuPEM)
					if !strings.Contains(out, "Verification: OK") {
						t.Fatalf("openssl ts -verify -data:\n%s", out)
					}
					text := runOpenSSL(t, openssl, "ts", "-reply", "-in", r, "-text")
					for _, want := range []string{
						"Status: Granted.",
						"Policy OID: 0.4.0.2023.1.1",
						"Accuracy: 0x01 seconds, unspecified millis, unspecified micros",
						"Ordering: no",
						"TSA: DirName:/C=FR/O=Paraphe Test/CN=Paraphe Test TSU",
					} {
						if !strings.Contains(text, want) {
							t.Errorf("reply text lacks %q:\n%s", want, text)
						}
					}
					if nonce == strings.Contains(text, "Nonce: unspecified") {
						t.Errorf("nonce=%v but reply text says:\n%s", nonce, text)
					}
					if nonce && !regexp.MustCompile(`Nonce: 0x[0-9A-F]+`).MatchString(text) {
						t.Errorf("no nonce in reply text:\n%s", text)
					}
					// Without -cert the token must carry no certificate: verifying without
					// -untrusted then fails to find the signer.
					vout, err := exec.Command(openssl, "ts", "-verify", "-in", r, "-queryfile", q, "-CAfile", rootPEM).CombinedOutput()
					if ok := err == nil && strings.Contains(string(vout), "Verification: OK"); ok != cert {
						t.Errorf("certReq=%v, verification without -untrusted: %v\n%s", cert, err, vout)
					}
				})
			}
		}
	}
}

// TestOpenSSLRejections checks that refusals reach an RFC 3161 client as rejections with the
// right failInfo, over HTTP 200.
func TestOpenSSLRejections(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	ts := newTestTSA(t, nil)
	srv := httptest.NewServer(ts.Handler())
	defer srv.Close()
	dir := t.TempDir()
	data := filepath.Join(dir, "data.bin")
	os.WriteFile(data, []byte("hello"), 0o644)

	cases := []struct {
		name  string
		args  []string
		query []byte
		want  string
	}{
		{name: "sha1", args: []string{"-sha1"}, want: "Failure info: unrecognized or unsupported algorithm identifier"},
		{name: "md5", args: []string{"-md5"}, want: "Failure info: unrecognized or unsupported algorithm identifier"},
		{name: "policy", args: []string{"-sha256", "-tspolicy", "1.2.3.4"}, want: "Failure info: the requested TSA policy is not supported by the TSA"},
		{name: "garbage", query: []byte("this is not DER at all"), want: "Failure info: the data submitted has the wrong format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := filepath.Join(t.TempDir(), "q.tsq")
			r := filepath.Join(filepath.Dir(q), "r.tsr")
			if c.query != nil {
				os.WriteFile(q, c.query, 0o644)
			} else {
				runOpenSSL(t, openssl, append([]string{"ts", "-query", "-data", data, "-cert", "-out", q}, c.args...)...)
			}
			query, _ := os.ReadFile(q)
			os.WriteFile(r, postQuery(t, srv.URL, query), 0o644)
			text := runOpenSSL(t, openssl, "ts", "-reply", "-in", r, "-text")
			if !strings.Contains(text, "Status: Rejected.") || !strings.Contains(text, c.want) {
				t.Fatalf("reply text lacks rejection %q:\n%s", c.want, text)
			}
		})
	}
}
