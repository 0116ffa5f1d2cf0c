package tsa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// BenchmarkRespond is the whole request path without HTTP: parse, clock, serial, encode, sign.
func BenchmarkRespond(b *testing.B) {
	ts := newTestTSA(b, nil)
	req := makeRequest(b, crypto.SHA256, make([]byte, 32), nil, true, nil)
	b.ReportAllocs()
	for b.Loop() {
		ts.Respond(context.Background(), req)
	}
}

// BenchmarkECDSASign is the floor: one bare P-256 signature.
func BenchmarkECDSASign(b *testing.B) {
	key := testFixture(b).tsuKey.(*ecdsa.PrivateKey)
	d := sha256.Sum256([]byte("x"))
	for b.Loop() {
		ecdsa.SignASN1(rand.Reader, key, d[:])
	}
}

func BenchmarkVerifyToken(b *testing.B) {
	f := testFixture(b)
	ts := newTestTSA(b, nil)
	token, err := ts.Timestamp(context.Background(), make([]byte, 32), crypto.SHA256)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := VerifyToken(token, make([]byte, 32), crypto.SHA256, f.roots, nil); err != nil {
			b.Fatal(err)
		}
	}
}
