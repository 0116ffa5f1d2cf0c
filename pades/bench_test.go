package pades

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
)

func BenchmarkSign(b *testing.B) {
	p := newOfflinePKI(b)
	doc := prepare(b, genPDF(genOpts{pages: 1}), []Field{{Name: "alice_sig", Kind: FieldSignature, Page: 1, Rect: [4]float64{72, 100, 272, 170}}})
	key, chain := p.issue(b, "Bench")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.ReportAllocs()
	for b.Loop() {
		err := Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), io.Discard, SignOptions{
			SignatureField: "alice_sig", Signer: key, Chain: chain, Timestamper: p, Logger: quiet,
			Appearance: Appearance{Name: "Bench"},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
