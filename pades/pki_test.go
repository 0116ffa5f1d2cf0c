package pades

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/ocsp"
)

// testPKI is a root, an issuing CA, a TSA and a revocation server on loopback.
type testPKI struct {
	t        testing.TB
	root     *x509.Certificate
	rootKey  crypto.Signer
	ica      *x509.Certificate
	icaKey   crypto.Signer
	tsa      *x509.Certificate
	tsaKey   crypto.Signer
	srv      *httptest.Server
	mu       sync.Mutex
	revoked  map[string]bool // serial (decimal) of revoked leaves
	requests int
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newTestPKI(t testing.TB) *testPKI {
	return newPKI(t, true)
}

// newOfflinePKI is newTestPKI without a running revocation server (for fuzz seeds).
func newOfflinePKI(t testing.TB) *testPKI {
	return newPKI(t, false)
}

func newPKI(t testing.TB, online bool) *testPKI {
	t.Helper()
	p := &testPKI{t: t, revoked: map[string]bool{}}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	if online {
		p.srv.Start()
		t.Cleanup(p.srv.Close)
	} else {
		p.srv.URL = "http://127.0.0.1:9"
	}
	now := time.Now()
	rk := newKey(t)
	p.rootKey = rk
	rootTmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: "Paraphe Test Root", Organization: []string{"Paraphe Test"}, Country: []string{"FR"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	p.root = mustCert(t, rootTmpl, rootTmpl, rk.Public(), rk)
	ik := newKey(t)
	p.icaKey = ik
	p.ica = mustCert(t, &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: "Paraphe Test Signers CA", Organization: []string{"Paraphe Test"}, Country: []string{"FR"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		CRLDistributionPoints: []string{p.srv.URL + "/crl/root"},
	}, p.root, ik.Public(), rk)
	tk := newKey(t)
	p.tsaKey = tk
	ekuValue, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	p.tsa = mustCert(t, &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: "Paraphe Test TSA", Organization: []string{"Paraphe Test"}, Country: []string{"FR"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtraExtensions:       []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: ekuValue}},
		CRLDistributionPoints: []string{p.srv.URL + "/crl/root"},
	}, p.root, tk.Public(), rk)
	return p
}

// issue returns a fresh signer key and its chain (leaf, issuing CA). The leaf names the CRL
// but no OCSP responder: NSS (pdfsig) rejects this fixture's OCSP replies for every
// certificate after the first in a document (GET, then POST, then "Unknown issue"), while it
// accepts the appliance CA's (TestWithApplianceCAAndTSA). OCSP reaches the DSS through
// Revocation below.
func (p *testPKI) issue(t testing.TB, name string) (crypto.Signer, []*x509.Certificate) {
	return p.issueCert(t, name, nil)
}

// issueWithOCSP is issue with an AIA OCSP URL in the leaf.
func (p *testPKI) issueWithOCSP(t testing.TB, name string) (crypto.Signer, []*x509.Certificate) {
	return p.issueCert(t, name, []string{p.srv.URL + "/ocsp"})
}

func (p *testPKI) issueCert(t testing.TB, name string, ocspURL []string) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	k := newKey(t)
	now := time.Now()
	leaf := mustCert(t, &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name, Organization: []string{"Paraphe Test"}},
		EmailAddresses: []string{"signer@example.test"},
		NotBefore:      now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		CRLDistributionPoints: []string{p.srv.URL + "/crl/ica"},
		OCSPServer:            ocspURL,
	}, p.ica, k.Public(), p.icaKey)
	return k, []*x509.Certificate{leaf, p.ica}
}

// Timestamp implements Timestamper with an RFC 3161 token from the test TSA.
func (p *testPKI) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	ts := timestamp.Timestamp{
		HashAlgorithm: h, HashedMessage: digest, Time: time.Now(), Accuracy: time.Second,
		SerialNumber: serial(p.t), Policy: asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1},
		AddTSACertificate: true,
	}
	resp, err := ts.CreateResponseWithOpts(p.tsa, p.tsaKey, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, err
	}
	return parsed.RawToken, nil
}

func (p *testPKI) crl(issuer *x509.Certificate, key crypto.Signer) []byte {
	p.mu.Lock()
	var entries []x509.RevocationListEntry
	for s := range p.revoked {
		n, _ := new(big.Int).SetString(s, 10)
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: time.Now().Add(-time.Minute)})
	}
	p.mu.Unlock()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, issuer, key)
	if err != nil {
		p.t.Error(err)
	}
	return der
}

func (p *testPKI) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	p.mu.Unlock()
	switch {
	case r.URL.Path == "/crl/ica":
		w.Write(p.crl(p.ica, p.icaKey))
	case r.URL.Path == "/crl/root":
		w.Write(p.crl(p.root, p.rootKey))
	case strings.HasPrefix(r.URL.Path, "/ocsp"):
		var body []byte
		if r.Method == http.MethodPost {
			body, _ = io.ReadAll(r.Body)
		} else {
			s := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/ocsp"), "/")
			body, _ = base64.StdEncoding.DecodeString(s)
			if body == nil {
				body, _ = base64.StdEncoding.DecodeString(strings.ReplaceAll(s, "%2B", "+"))
			}
		}
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Header().Set("Connection", "close")
		w.Write(p.ocspResponse(req.SerialNumber))
	default:
		http.NotFound(w, r)
	}
}

func (p *testPKI) ocspResponse(sn *big.Int) []byte {
	p.mu.Lock()
	status := ocsp.Good
	if p.revoked[sn.String()] {
		status = ocsp.Revoked
	}
	p.mu.Unlock()
	der, err := ocsp.CreateResponse(p.ica, p.ica, ocsp.Response{
		Status: status, SerialNumber: sn, ThisUpdate: time.Now().Truncate(time.Minute).Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
		RevokedAt: time.Now().Add(-time.Minute),
	}, p.icaKey)
	if err != nil {
		p.t.Error(err)
	}
	return der
}

func (p *testPKI) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return pool
}

// rootPEM writes the root certificate to dir and returns its path.
func (p *testPKI) rootPEM(t testing.TB, dir string) string {
	path := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Revocation implements RevocationSource straight from the test PKI (CRL and OCSP), so that
// the DSS carries both kinds whatever the certificates name.
func (p *testPKI) Revocation(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, [][]byte, error) {
	switch {
	case issuer.Equal(p.ica):
		return [][]byte{p.crl(p.ica, p.icaKey)}, [][]byte{p.ocspResponse(cert.SerialNumber)}, nil
	case issuer.Equal(p.root):
		return [][]byte{p.crl(p.root, p.rootKey)}, nil, nil
	}
	return nil, nil, fmt.Errorf("unknown issuer %s", issuer.Subject)
}
