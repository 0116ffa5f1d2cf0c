package tsa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.step.sm/crypto/x509util"
)

// tsuTemplate is the TSU certificate profile: EKU timeStamping alone and critical (emitted raw:
// crypto/x509 cannot mark it critical), KU digitalSignature, subject with C and O.
const tsuTemplate = `{
	"subject": {{ toJson .Subject }},
	"keyUsage": ["digitalSignature"],
	"extensions": [{"id": "2.5.29.37", "critical": true,
		"value": {{ asn1Seq (asn1Enc "oid:1.3.6.1.5.5.7.3.8") | toJson }}}]
}`

// fixture is a root CA and a TSU certificate signed by it.
type fixture struct {
	rootKey crypto.Signer
	root    *x509.Certificate
	tsuKey  crypto.Signer
	tsu     *x509.Certificate
	roots   *x509.CertPool
}

var (
	fixtureOnce sync.Once
	fixtureVal  *fixture
	fixtureErr  error
)

// testFixture returns a fixture (P-256 root and TSU) shared by the tests of one run (key generation is the slow part).
func testFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() { fixtureVal, fixtureErr = newFixture(elliptic.P256(), elliptic.P256()) })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureVal
}

// newFixture makes a root with a key on rootCurve and a TSU certificate with a key on tsuCurve.
func newFixture(rootCurve, tsuCurve elliptic.Curve) (*fixture, error) {
	rootKey, err := ecdsa.GenerateKey(rootCurve, rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		Subject:   pkix.Name{Country: []string{"FR"}, Organization: []string{"Paraphe Test"}, CommonName: "Paraphe Test Root"},
		PublicKey: rootKey.Public(),
	}
	rc, err := x509util.NewCertificateFromX509(rootTmpl, x509util.WithTemplate(x509util.DefaultRootTemplate,
		x509util.CreateTemplateData("Paraphe Test Root", nil)))
	if err != nil {
		return nil, err
	}
	rt := rc.GetCertificate()
	rt.NotBefore, rt.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	root, err := x509util.CreateCertificate(rt, rt, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	tsuKey, err := ecdsa.GenerateKey(tsuCurve, rand.Reader)
	if err != nil {
		return nil, err
	}
	td := x509util.NewTemplateData()
	td.SetSubject(x509util.Subject{Country: []string{"FR"}, Organization: []string{"Paraphe Test"}, CommonName: "Paraphe Test TSU"})
	tc, err := x509util.NewCertificateFromX509(&x509.Certificate{PublicKey: tsuKey.Public()}, x509util.WithTemplate(tsuTemplate, td))
	if err != nil {
		return nil, err
	}
	tt := tc.GetCertificate()
	tt.NotBefore, tt.NotAfter = now.Add(-time.Hour), now.Add(23*time.Hour)
	tsu, err := x509util.CreateCertificate(tt, root, tsuKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	return &fixture{rootKey: rootKey, root: root, tsuKey: tsuKey, tsu: tsu, roots: roots}, nil
}

// writePEM writes the fixture's root.pem and tsa.pem into dir.
func (f *fixture) writePEM(t testing.TB, dir string) (rootPEM, tsuPEM string) {
	t.Helper()
	rootPEM, tsuPEM = filepath.Join(dir, "root.pem"), filepath.Join(dir, "tsa.pem")
	for path, c := range map[string]*x509.Certificate{rootPEM: f.root, tsuPEM: f.tsu} {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return rootPEM, tsuPEM
}

// fakeClock is a Clock the test drives.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	err error
}

func (c *fakeClock) Now() (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now, c.err
}

func (c *fakeClock) State() ClockState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return ClockState{Cause: CauseNTPOffset, Reason: c.err.Error()}
	}
	return ClockState{Trusted: true, Reason: "fake"}
}

func (c *fakeClock) set(now time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.err = now, err
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestTSA starts a TSA on the fixture with options adjusted by mod.
func newTestTSA(t testing.TB, mod func(*Options)) *TSA {
	t.Helper()
	f := testFixture(t)
	o := Options{
		Signer:   f.tsuKey,
		Cert:     f.tsu,
		Chain:    []*x509.Certificate{f.root},
		StateDir: t.TempDir(),
		Logger:   quietLogger(),
	}
	if mod != nil {
		mod(&o)
	}
	ts, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { ts.Close() })
	return ts
}
