package ceremony_test

import (
	"context"
	"testing"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
)

// TestPreparePlacesSignatureBoxes: the PAdES engine puts a placed signer's signature field on
// its page and rectangle, and the others in the automatic row at the bottom of the last page.
func TestPreparePlacesSignatureBoxes(t *testing.T) {
	out, err := ceremony.PAdES{}.Prepare(context.Background(), ceremonytest.MinimalPDF(2, "Boxes"), nil, []string{"alice", "bob"},
		[]ceremony.SignatureBox{{Signer: "bob", Page: 1, Rect: ceremony.Rect{X: 300, Y: 400, W: 170, H: 48}}})
	if err != nil {
		t.Fatal(err)
	}
	got := ceremonytest.Widgets(t, out)
	if w := got["sig-bob"]; w.Page != 1 || w.Rect != [4]float64{300, 400, 470, 448} {
		t.Errorf("bob's placed box: %+v", w)
	}
	if w := got["sig-alice"]; w.Page != 2 || w.Rect != [4]float64{24, 24, 194, 72} {
		t.Errorf("alice's automatic box: %+v", w)
	}
}
