package tsa

import (
	"crypto"
	"strings"
	"testing"
	"time"
)

// encodeWith issues a token for a zero SHA-256 imprint with enc, bypassing New's checks.
func encodeWith(t *testing.T, enc *tokenEncoder) []byte {
	t.Helper()
	req, fail := parseRequest(makeRequest(t, crypto.SHA256, make([]byte, 32), nil, true, nil), nil)
	if fail != nil {
		t.Fatal(fail)
	}
	var serial [serialLen]byte
	serial[19] = 1
	token, err := enc.encode(req, enc.genTime(time.Now()), serial[:], false, false)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestVerifyBindsTheSigningCertificate: constraints are checked on the certificate that signed,
// and the signed ESSCertIDv2 must name that very certificate.
func TestVerifyBindsTheSigningCertificate(t *testing.T) {
	f := testFixture(t)
	good := issueTSU(t, f, f.tsuKey, ekuExtension(t, true, oidTimeStamping))
	twin := issueTSU(t, f, f.tsuKey, ekuExtension(t, true, oidTimeStamping)) // same key, other certificate
	weak := issueTSU(t, f, f.tsuKey, ekuExtension(t, false, oidTimeStamping))

	enc, err := newTokenEncoder(f.tsuKey, good, nil, PolicyBTSP, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyToken(encodeWith(t, enc), make([]byte, 32), crypto.SHA256, f.roots, nil); err != nil {
		t.Fatalf("genuine token: %v", err)
	}

	twinEnc, err := newTokenEncoder(f.tsuKey, twin, nil, PolicyBTSP, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	enc.attrSignCert = twinEnc.attrSignCert // sid names good, ESSCertIDv2 names twin
	_, err = VerifyToken(encodeWith(t, enc), make([]byte, 32), crypto.SHA256, f.roots, nil)
	if err == nil || !strings.Contains(err.Error(), "ESSCertIDv2 does not name") {
		t.Fatalf("ESSCertIDv2 naming another certificate: %v", err)
	}

	weakEnc, err := newTokenEncoder(f.tsuKey, weak, nil, PolicyBTSP, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = VerifyToken(encodeWith(t, weakEnc), make([]byte, 32), crypto.SHA256, f.roots, nil)
	if err == nil || !strings.Contains(err.Error(), "not critical") {
		t.Fatalf("signer with a non-critical EKU: %v", err)
	}
}

func TestVerifyRejectsWrongRootAndImprint(t *testing.T) {
	f := testFixture(t)
	ts := newTestTSA(t, nil)
	token, err := ts.Timestamp(t.Context(), make([]byte, 32), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyToken(token, make([]byte, 32), crypto.SHA256, nil, nil); err == nil {
		t.Fatal("verified without roots")
	}
	if _, err := VerifyToken(token, make([]byte, 48), crypto.SHA384, f.roots, nil); err == nil {
		t.Fatal("verified for another hash")
	}
	tampered := append([]byte(nil), token...)
	tampered[len(tampered)-5] ^= 1 // inside the signature
	if _, err := VerifyToken(tampered, make([]byte, 32), crypto.SHA256, f.roots, nil); err == nil {
		t.Fatal("verified a tampered token")
	}
}
