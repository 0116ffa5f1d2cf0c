package tsa

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// rawRequest mirrors TimeStampReq so tests can encode what timestamp.Request cannot (other
// versions, critical extensions, odd parameters).
type rawRequest struct {
	Version        int
	MessageImprint rawImprint
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional,default:false"`
	Extensions     []pkix.Extension      `asn1:"tag:0,optional"`
}

type rawImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

func encodeRaw(t *testing.T, r rawRequest) []byte {
	t.Helper()
	der, err := asn1.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func goodRaw() rawRequest {
	return rawRequest{
		Version: 1,
		MessageImprint: rawImprint{
			HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue},
			HashedMessage: make([]byte, 32),
		},
		Nonce:   big.NewInt(42),
		CertReq: true,
	}
}

// failInfoOf returns the failInfo of a DER rejection, or -1 for a granted response.
func failInfoOf(t *testing.T, resp []byte) FailInfo {
	t.Helper()
	_, err := TokenFromResponse(resp)
	if err == nil {
		return -1
	}
	rej, ok := err.(*RefusedError)
	if !ok {
		t.Fatalf("response is neither granted nor a rejection: %v", err)
	}
	// The reference library must read the same failInfo bit.
	if _, lerr := timestamp.ParseResponse(resp); lerr == nil || !strings.Contains(lerr.Error(), "rejected") {
		t.Fatalf("library does not see a rejection: %v", lerr)
	}
	return rej.FailInfo
}

func TestRequestProfile(t *testing.T) {
	ts := newTestTSA(t, func(o *Options) {
		o.AcceptedPolicies = []asn1.ObjectIdentifier{PolicyBTSP, {1, 2, 3}}
	})
	mod := func(f func(*rawRequest)) rawRequest { r := goodRaw(); f(&r); return r }
	cases := []struct {
		name string
		req  rawRequest
		want FailInfo
	}{
		{"good", goodRaw(), -1},
		{"no params", mod(func(r *rawRequest) { r.MessageImprint.HashAlgorithm.Parameters = asn1.RawValue{} }), -1},
		{"accepted other policy", mod(func(r *rawRequest) { r.ReqPolicy = asn1.ObjectIdentifier{1, 2, 3} }), -1},
		{"non-critical extension ignored", mod(func(r *rawRequest) {
			r.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}}
		}), -1},
		{"256-bit nonce", mod(func(r *rawRequest) { r.Nonce = new(big.Int).Lsh(big.NewInt(1), 255) }), -1},
		{"version 2", mod(func(r *rawRequest) { r.Version = 2 }), BadDataFormat},
		{"version 0", mod(func(r *rawRequest) { r.Version = 0 }), BadDataFormat},
		{"sha1", mod(func(r *rawRequest) {
			r.MessageImprint = rawImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA1, Parameters: asn1.NullRawValue}, make([]byte, 20)}
		}), BadAlg},
		{"unknown hash", mod(func(r *rawRequest) {
			r.MessageImprint.HashAlgorithm.Algorithm = asn1.ObjectIdentifier{1, 2, 3, 4, 5}
		}), BadAlg},
		{"hash with parameters", mod(func(r *rawRequest) {
			r.MessageImprint.HashAlgorithm.Parameters = asn1.RawValue{FullBytes: []byte{2, 1, 1}}
		}), BadAlg},
		{"short imprint", mod(func(r *rawRequest) { r.MessageImprint.HashedMessage = []byte{1, 2, 3} }), BadDataFormat},
		{"long imprint", mod(func(r *rawRequest) { r.MessageImprint.HashedMessage = make([]byte, 33) }), BadDataFormat},
		{"sha512 with 32 bytes", mod(func(r *rawRequest) { r.MessageImprint.HashAlgorithm.Algorithm = oidSHA512 }), BadDataFormat},
		{"unaccepted policy", mod(func(r *rawRequest) { r.ReqPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2} }), UnacceptedPolicy},
		{"critical extension", mod(func(r *rawRequest) {
			r.Extensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}
		}), UnacceptedExtension},
		{"nonce over 256 bits", mod(func(r *rawRequest) { r.Nonce = new(big.Int).Lsh(big.NewInt(1), 264) }), BadDataFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := failInfoOf(t, ts.Respond(context.Background(), encodeRaw(t, c.req))); got != c.want {
				t.Fatalf("failInfo %v, want %v", got, c.want)
			}
		})
	}

	good := encodeRaw(t, goodRaw())
	for name, der := range map[string][]byte{
		"empty":          nil,
		"1f 80":          {0x1f, 0x80},
		"trailing data":  append(good[:len(good):len(good)], 0),
		"truncated":      good[:len(good)-1],
		"BER indefinite": append([]byte{0x30, 0x80}, append(good[2:len(good):len(good)], 0, 0)...),
		"not a sequence": {0x04, 0x01, 0x00},
	} {
		t.Run(name, func(t *testing.T) {
			if got := failInfoOf(t, ts.Respond(context.Background(), der)); got != BadDataFormat {
				t.Fatalf("failInfo %v, want badDataFormat", got)
			}
		})
	}
}

func TestCertReqAndChain(t *testing.T) {
	f := testFixture(t)
	for _, withChain := range []bool{false, true} {
		ts := newTestTSA(t, func(o *Options) { o.IncludeChain = withChain })
		for _, certReq := range []bool{false, true} {
			resp := ts.Respond(context.Background(), makeRequest(t, crypto.SHA256, make([]byte, 32), nil, certReq, nil))
			token, err := TokenFromResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := timestamp.Parse(token)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if certReq {
				want = 1
				if withChain {
					want = 2
				}
			}
			if len(parsed.Certificates) != want {
				t.Fatalf("chain=%v certReq=%v: %d certificates, want %d", withChain, certReq, len(parsed.Certificates), want)
			}
			// Without certificates the verifier needs the TSU certificate handed to it.
			if _, err := VerifyTokenWith(token, make([]byte, 32), crypto.SHA256, VerifyOptions{Roots: f.roots}); (err == nil) != certReq {
				t.Fatalf("certReq=%v: verification without the TSU certificate: %v", certReq, err)
			}
			if _, err := VerifyTokenWith(token, make([]byte, 32), crypto.SHA256, VerifyOptions{Roots: f.roots, TSUCertificates: []*x509.Certificate{f.tsu}}); err != nil {
				t.Fatalf("certReq=%v: %v", certReq, err)
			}
		}
	}
}

func TestGenTimeRounding(t *testing.T) {
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	clock := &fakeClock{}
	ts := newTestTSA(t, func(o *Options) { o.Clock = clock })
	tsMilli := newTestTSA(t, func(o *Options) { o.Clock = clock; o.Accuracy = 100 * time.Millisecond })
	cases := []struct {
		tsa  *TSA
		now  time.Time
		want time.Time
	}{
		{ts, base.Add(400 * time.Millisecond), base},
		{ts, base.Add(600 * time.Millisecond), base.Add(time.Second)},
		{ts, base.Add(-499 * time.Millisecond), base},
		{tsMilli, base.Add(1234 * time.Millisecond), base.Add(1200 * time.Millisecond)},
		{tsMilli, base.Add(1250 * time.Millisecond), base.Add(1300 * time.Millisecond)},
	}
	for _, c := range cases {
		clock.set(c.now, nil)
		resp := c.tsa.Respond(context.Background(), makeRequest(t, crypto.SHA256, make([]byte, 32), nil, true, nil))
		parsed, err := timestamp.ParseResponse(resp)
		if err != nil {
			t.Fatal(err)
		}
		if !parsed.Time.Equal(c.want) || parsed.Time.Location() != time.UTC {
			t.Errorf("clock %v: genTime %v, want %v UTC", c.now, parsed.Time, c.want.UTC())
		}
		if diff := parsed.Time.Sub(c.now); abs(diff) > parsed.Accuracy/2 {
			t.Errorf("clock %v: genTime %v is %v away, over half the accuracy %v", c.now, parsed.Time, diff, parsed.Accuracy)
		}
	}
}
