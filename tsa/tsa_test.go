package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

func makeRequest(t testing.TB, h crypto.Hash, digest []byte, nonce *big.Int, certReq bool, policy asn1.ObjectIdentifier) []byte {
	t.Helper()
	der, err := (&timestamp.Request{HashAlgorithm: h, HashedMessage: digest, Nonce: nonce, Certificates: certReq, TSAPolicyOID: policy}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestRespondGrantedVerifies(t *testing.T) {
	f := testFixture(t)
	ts := newTestTSA(t, nil)
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		digest := make([]byte, h.Size())
		rand.Read(digest)
		nonce := big.NewInt(0x1234567890)
		resp := ts.Respond(context.Background(), makeRequest(t, h, digest, nonce, true, nil))
		parsed, err := timestamp.ParseResponse(resp)
		if err != nil {
			t.Fatalf("%v: library ParseResponse: %v", h, err)
		}
		if !parsed.Policy.Equal(PolicyBTSP) || parsed.Accuracy != time.Second || parsed.Ordering ||
			parsed.Nonce.Cmp(nonce) != 0 || parsed.HashAlgorithm != h || !bytes.Equal(parsed.HashedMessage, digest) {
			t.Fatalf("%v: token fields %+v", h, parsed)
		}
		if parsed.Time.Location() != time.UTC || parsed.Time.Nanosecond() != 0 {
			t.Fatalf("%v: genTime %v is not whole-second UTC", h, parsed.Time)
		}
		if d := time.Since(parsed.Time); d < -time.Second || d > 2*time.Second {
			t.Fatalf("%v: genTime %v is %v from now", h, parsed.Time, d)
		}
		token, err := TokenFromResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyTokenWith(token, digest, h, VerifyOptions{Roots: f.roots, Nonce: nonce, Policies: []asn1.ObjectIdentifier{PolicyBTSP}})
		if err != nil {
			t.Fatalf("%v: VerifyToken: %v", h, err)
		}
		if got.SerialNumber.BitLen() > 160 || got.SerialNumber.Sign() <= 0 {
			t.Fatalf("serial %x", got.SerialNumber)
		}
		if _, err := VerifyToken(token, sha256Of("other"), crypto.SHA256, f.roots, nil); err == nil {
			t.Fatalf("%v: token verified against another digest", h)
		}
	}
}

func sha256Of(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func TestTimestampInProcess(t *testing.T) {
	f := testFixture(t)
	ts := newTestTSA(t, nil)
	d := sha512.Sum384([]byte("checkpoint"))
	token, err := ts.Timestamp(context.Background(), d[:], crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyToken(token, d[:], crypto.SHA384, f.roots, nil); err != nil {
		t.Fatal(err)
	}
	var refused *RefusedError
	if _, err := ts.Timestamp(context.Background(), d[:20], crypto.SHA1); !errors.As(err, &refused) || refused.FailInfo != BadAlg {
		t.Fatalf("SHA-1: got %v, want badAlg", err)
	}
	if _, err := ts.Timestamp(context.Background(), d[:20], crypto.SHA384); !errors.As(err, &refused) || refused.FailInfo != BadDataFormat {
		t.Fatalf("short digest: got %v, want badDataFormat", err)
	}
}

// TestOtherKeys issues and verifies with a P-384 TSU key under a P-384 root (the root curve
// of `paraphe init`), which signs with SHA-384.
func TestOtherKeys(t *testing.T) {
	f, err := newFixture(elliptic.P384(), elliptic.P384())
	if err != nil {
		t.Fatal(err)
	}
	ts, err := New(context.Background(), Options{Signer: f.tsuKey, Cert: f.tsu, StateDir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	d := sha256Of("p384")
	token, err := ts.Timestamp(context.Background(), d, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyToken(token, d, crypto.SHA256, f.roots, nil); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	f := testFixture(t)
	other, err := newFixture(elliptic.P256(), elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}
	base := func() Options {
		return Options{Signer: f.tsuKey, Cert: f.tsu, StateDir: t.TempDir(), Logger: quietLogger()}
	}
	cases := map[string]func(*Options){
		"key not the certificate's": func(o *Options) { o.Signer = other.tsuKey },
		"root as TSU certificate":   func(o *Options) { o.Cert = f.root; o.Signer = f.rootKey },
		"chain does not link":       func(o *Options) { o.Chain = []*x509.Certificate{other.root} },
		"MaxOffset beyond accuracy": func(o *Options) { o.MaxOffset = 600 * time.Millisecond },
		"sub-millisecond accuracy":  func(o *Options) { o.Accuracy = time.Microsecond },
		"NTP interval too short":    func(o *Options) { o.NTPInterval = time.Millisecond },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			o := base()
			mod(&o)
			if ts, err := New(context.Background(), o); err == nil {
				ts.Close()
				t.Fatal("New accepted it")
			}
		})
	}
}

// issueTSU signs a TSU certificate for key under the fixture root with the given extensions.
func issueTSU(t *testing.T, f *fixture, key crypto.Signer, exts ...pkix.Extension) *x509.Certificate {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(now.UnixNano()),
		Subject:         pkix.Name{Country: []string{"FR"}, Organization: []string{"Paraphe Test"}, CommonName: "TSU variant"},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.Add(time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.root, key.Public(), f.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ekuExtension(t *testing.T, critical bool, oids ...asn1.ObjectIdentifier) pkix.Extension {
	v, err := asn1.Marshal(oids)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidExtKeyUsage, Critical: critical, Value: v}
}

var oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

func TestTSUCertificateRules(t *testing.T) {
	f := testFixture(t)
	for name, ext := range map[string]pkix.Extension{
		"EKU not critical":  ekuExtension(t, false, oidTimeStamping),
		"EKU not alone":     ekuExtension(t, true, oidTimeStamping, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}),
		"EKU not timestamp": ekuExtension(t, true, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}),
	} {
		t.Run(name, func(t *testing.T) {
			cert := issueTSU(t, f, f.tsuKey, ext)
			if ts, err := New(context.Background(), Options{Signer: f.tsuKey, Cert: cert, StateDir: t.TempDir(), Logger: quietLogger()}); err == nil {
				ts.Close()
				t.Fatal("New accepted the certificate")
			}
		})
	}
}

// TestPrivateKeyUsagePeriod: past the privateKeyUsagePeriod's notAfter the TSU key no longer
// signs, although the certificate is still valid.
func TestPrivateKeyUsagePeriod(t *testing.T) {
	f := testFixture(t)
	period, err := asn1.Marshal(struct {
		NotAfter time.Time `asn1:"optional,tag:1,generalized"`
	}{time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	cert := issueTSU(t, f, f.tsuKey, ekuExtension(t, true, oidTimeStamping), pkix.Extension{Id: oidPrivateKeyUsePeriod, Value: period})
	clock := &fakeClock{now: time.Now()}
	ts, err := New(context.Background(), Options{Signer: f.tsuKey, Cert: cert, StateDir: t.TempDir(), Logger: quietLogger(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	req := makeRequest(t, crypto.SHA256, make([]byte, 32), nil, true, nil)
	if got := failInfoOf(t, ts.Respond(context.Background(), req)); got != -1 {
		t.Fatalf("within the usage period: failInfo %v", got)
	}
	clock.set(time.Now().Add(20*time.Minute), nil)
	if got := failInfoOf(t, ts.Respond(context.Background(), req)); got != SystemFailure {
		t.Fatalf("after the usage period: failInfo %v, want systemFailure", got)
	}
	if st := ts.Status(); st.Ready || !strings.Contains(st.Reason, "TSU key usable only") {
		t.Fatalf("status %+v", st)
	}
}
