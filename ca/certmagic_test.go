package ca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"golang.org/x/crypto/ocsp"
)

// TestCertmagicInternalTLS runs TLS mode "internal" for real: certmagic, with its own storage,
// obtains a certificate for localhost and 127.0.0.1 from our CA (and staples our OCSP
// responder's answer), serves HTTPS with it, and a client trusting only our root completes the
// handshake and a request.
func TestCertmagicInternalTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var h http.Handler = http.NotFoundHandler()
	caSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer caSrv.Close()
	c := newTestCA(t, nil, func(o *Options) { o.BaseURL = caSrv.URL; o.Now = nil })
	h = c.Handler()

	var cfg *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil },
		Logger:           zap.NewNop(),
	})
	defer cache.Stop()
	cfg = certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: t.TempDir()},
		Issuers: []certmagic.Issuer{c.CertmagicIssuer()},
		Logger:  zap.NewNop(),
	})
	if err := cfg.ManageSync(ctx, []string{"localhost", "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}

	tlsCfg := cfg.TLSConfig()
	tlsCfg.NextProtos = []string{"h2", "http/1.1"}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "paraphe") }),
		ErrorLog: log.New(io.Discard, "", 0), // the refused handshake below is expected
	}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	roots := x509.NewCertPool()
	roots.AddCert(testKeys.Root)
	get := func(host, serverName string, pool *x509.CertPool) (*http.Response, error) {
		cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, ln.Addr().String())
			},
		}}
		return cl.Get("https://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/")
	}
	for _, tc := range []struct{ host, serverName string }{{"localhost", ""}, {"127.0.0.1", ""}} {
		resp, err := get(tc.host, tc.serverName, roots)
		if err != nil {
			t.Fatalf("https://%s: %v", tc.host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "paraphe" {
			t.Errorf("https://%s: body %q", tc.host, body)
		}
		st := resp.TLS
		leaf := st.PeerCertificates[0]
		if len(st.VerifiedChains) != 1 || len(st.VerifiedChains[0]) != 3 || !st.VerifiedChains[0][2].Equal(testKeys.Root) {
			t.Errorf("https://%s: chain %v", tc.host, st.VerifiedChains)
		}
		if rec, err := c.Lookup(ctx, leaf.SerialNumber); err != nil || rec.Kind != KindServer {
			t.Errorf("server certificate not recorded: %v", err)
		}
		// certmagic stapled a good OCSP response from our responder.
		if len(st.OCSPResponse) == 0 {
			t.Errorf("https://%s: no OCSP staple", tc.host)
		} else if r, err := ocsp.ParseResponseForCert(st.OCSPResponse, leaf, testKeys.Issuing); err != nil || r.Status != ocsp.Good {
			t.Errorf("https://%s: staple %v %v", tc.host, r, err)
		}
	}
	// A client that does not trust our root refuses the server.
	if _, err := get("localhost", "", x509.NewCertPool()); err == nil {
		t.Error("handshake succeeded without trusting our root")
	} else {
		var ue x509.UnknownAuthorityError
		if !errors.As(err, &ue) {
			t.Errorf("unexpected failure: %v", err)
		}
	}
}
