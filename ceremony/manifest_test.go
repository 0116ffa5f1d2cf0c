package ceremony

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func signatureManifest(boxes ...SignatureBox) *Manifest {
	return &Manifest{Title: "Boxes", Signers: []ManifestSigner{
		{ID: "alice", Name: "Alice", Email: "alice@example.org", Phone: "+33612345678", Order: 1},
		{ID: "bob", Name: "Bob", Email: "bob@example.org", Phone: "+33612345679", Order: 2},
	}, Documents: []ManifestDocument{{ID: "d", File: "d.pdf", Signatures: boxes}}}
}

func inspectTwoA4(b []byte) (PDFInfo, error) {
	return PDFInfo{Pages: []Page{{Width: 595, Height: 842}, {Width: 595, Height: 842}}}, nil
}

func TestSignatureBoxes(t *testing.T) {
	files := map[string][]byte{"d.pdf": []byte("%PDF-")}
	now := time.Now()
	m := signatureManifest(SignatureBox{Signer: "alice", Page: 2, Rect: Rect{X: 300, Y: 400, W: 170, H: 48}})
	if _, probs := m.Validate(files, now, DefaultLimits(), inspectTwoA4); len(probs) != 0 {
		t.Fatalf("a valid box is refused: %v", probs)
	}
	m = signatureManifest(
		SignatureBox{Signer: "carol", Page: 1, Rect: Rect{X: 10, Y: 10, W: 170, H: 48}},
		SignatureBox{Signer: "alice", Page: 3, Rect: Rect{X: 10, Y: 10, W: 170, H: 48}},
		SignatureBox{Signer: "alice", Page: 1, Rect: Rect{X: 500, Y: 10, W: 170, H: 48}},
	)
	_, probs := m.Validate(files, now, DefaultLimits(), inspectTwoA4)
	want := []string{
		"documents/0/signatures/0/signer: no signer",
		"documents/0/signatures/1/page: the document has 2 pages",
		"documents/0/signatures/2/signer: signer \"alice\" already has",
		"documents/0/signatures/2/rect: outside page 1",
	}
	got := fmt.Sprint(probs)
	for _, w := range want {
		path, msg, _ := strings.Cut(w, ": ")
		found := false
		for _, p := range probs {
			found = found || p.Path == path && strings.HasPrefix(p.Message, msg)
		}
		if !found {
			t.Errorf("no problem %q in %s", w, got)
		}
	}
	if len(probs) != len(want) {
		t.Errorf("%d problems, want %d: %s", len(probs), len(want), got)
	}
	m = signatureManifest(SignatureBox{Signer: "bob", Page: 1, Rect: Rect{X: 10, Y: 10, W: 30, H: 10}})
	if _, probs := m.Validate(files, now, DefaultLimits(), inspectTwoA4); len(probs) != 1 || probs[0].Path != "documents/0/signatures/0/rect" {
		t.Fatalf("a tiny box: %v", probs)
	}
}
