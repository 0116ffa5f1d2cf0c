package tsa

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"encoding/binary"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/paraphe/paraphe/tsa/tsatest"
)

// FuzzRespond drives the request path with arbitrary bytes. Every input must yield a DER
// TimeStampResp; whenever our parser accepts a request, the reference parser
// (digitorus/timestamp) must accept it too and agree on every field, and the token must stamp
// exactly the request's imprint and nonce.
func FuzzRespond(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x80})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, nonce := range []*big.Int{nil, big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), 200)} {
			der, _ := (&timestamp.Request{HashAlgorithm: h, HashedMessage: make([]byte, h.Size()), Nonce: nonce, Certificates: nonce != nil}).Marshal()
			f.Add(der)
		}
	}
	der, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: make([]byte, 32), TSAPolicyOID: asn1.ObjectIdentifier{1, 2, 3}}).Marshal()
	f.Add(der)
	ts := newTestTSA(f, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		resp := ts.Respond(context.Background(), in)
		token, err := TokenFromResponse(resp)
		req, fail := parseRequest(in, ts.accepted)
		if (fail == nil) != (err == nil) {
			t.Fatalf("parser says %v, response says %v", fail, err)
		}
		if fail != nil {
			if rej, ok := err.(*RefusedError); !ok || rej.FailInfo != fail.FailInfo {
				t.Fatalf("rejection %v does not carry the parser's %v", err, fail)
			}
			return
		}
		ref, rerr := timestamp.ParseRequest(in)
		if rerr != nil {
			t.Fatalf("we accepted a request the reference parser refuses: %v", rerr)
		}
		if ref.HashAlgorithm != req.hash || !bytes.Equal(ref.HashedMessage, req.hashed) || ref.Certificates != req.certReq ||
			!ref.TSAPolicyOID.Equal(req.policy) {
			t.Fatalf("parsers disagree: ours %+v, reference %+v", req, ref)
		}
		parsed, err := timestamp.Parse(token)
		if err != nil {
			t.Fatalf("token does not parse: %v", err)
		}
		if !bytes.Equal(parsed.HashedMessage, ref.HashedMessage) || (ref.Nonce == nil) != (parsed.Nonce == nil) ||
			(ref.Nonce != nil && ref.Nonce.Cmp(parsed.Nonce) != 0) {
			t.Fatalf("token does not echo the imprint and nonce")
		}
	})
}

// FuzzTokenFromResponse: no input may panic, and a granted response's token lies inside it.
func FuzzTokenFromResponse(f *testing.F) {
	ts := newTestTSA(f, nil)
	req, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: make([]byte, 32), Certificates: true}).Marshal()
	f.Add(ts.Respond(context.Background(), req))
	f.Add(encodeRejection(BadAlg, "x"))
	f.Add([]byte{0x1f, 0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		token, err := TokenFromResponse(in)
		if err == nil && !bytes.Contains(in, token) {
			t.Fatal("token is not part of the response")
		}
	})
}

// FuzzVerifyToken: no input may panic or verify, except the genuine token.
func FuzzVerifyToken(f *testing.F) {
	fx := testFixture(f)
	ts := newTestTSA(f, nil)
	genuine, err := ts.Timestamp(context.Background(), make([]byte, 32), crypto.SHA256)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine)
	f.Add([]byte{0x1f, 0x80})
	f.Add(genuine[:len(genuine)/2])
	f.Fuzz(func(t *testing.T, in []byte) {
		_, err := VerifyToken(in, make([]byte, 32), crypto.SHA256, fx.roots, nil)
		if err == nil && !bytes.Equal(in, genuine) {
			// Only encodings of the same signed content can verify; BER variations of the
			// envelope would still need the original signature.
			if _, perr := timestamp.Parse(in); perr != nil {
				t.Fatalf("verified a token that does not parse: %v", perr)
			}
		}
	})
}

// FuzzParseCertificatesPEM: no input may panic; success means at least one certificate.
func FuzzParseCertificatesPEM(f *testing.F) {
	ts := newTestTSA(f, nil)
	f.Add(ts.CertificatesPEM())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		certs, err := ParseCertificatesPEM(in)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}

// FuzzSNTPReply: a reply from the network never panics the clock guard's parser.
func FuzzSNTPReply(f *testing.F) {
	good := make([]byte, ntpPacketLen)
	good[0], good[1] = 4<<3|ntpModeServer, 1
	binary.BigEndian.PutUint64(good[32:], tsatest.Timestamp(time.Now()))
	binary.BigEndian.PutUint64(good[40:], tsatest.Timestamp(time.Now()))
	f.Add(good)
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) != ntpPacketLen {
			return // querySNTP drops other sizes before parsing
		}
		now := time.Now()
		s, err := parseSNTPReply("fuzz", p, now, 0, now, time.Millisecond)
		if err == nil && s.uncertainty < 0 {
			t.Fatalf("negative uncertainty %v", s.uncertainty)
		}
	})
}
