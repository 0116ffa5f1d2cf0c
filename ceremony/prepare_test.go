package ceremony_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

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
	got := widgets(t, out)
	if w := got["sig-bob"]; w.page != 1 || w.rect != [4]float64{300, 400, 470, 448} {
		t.Errorf("bob's placed box: %+v", w)
	}
	if w := got["sig-alice"]; w.page != 2 || w.rect != [4]float64{24, 24, 194, 72} {
		t.Errorf("alice's automatic box: %+v", w)
	}
}

type widget struct {
	page int
	rect [4]float64
}

// widgets reads the page and /Rect of every named widget annotation.
func widgets(t *testing.T, pdf []byte) map[string]widget {
	t.Helper()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := api.ReadAndValidate(bytes.NewReader(pdf), conf)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]widget{}
	for p := 1; p <= ctx.PageCount; p++ {
		d, _, _, err := ctx.PageDict(p, false)
		if err != nil {
			t.Fatal(err)
		}
		annots, _ := ctx.DereferenceArray(d["Annots"])
		for _, a := range annots {
			ad, err := ctx.DereferenceDict(a)
			if err != nil || ad == nil {
				continue
			}
			name, _ := ctx.DereferenceStringOrHexLiteral(ad["T"], model.V10, nil)
			arr, _ := ctx.DereferenceArray(ad["Rect"])
			if name == "" || len(arr) != 4 {
				continue
			}
			var r [4]float64
			for i, o := range arr {
				v, err := ctx.DereferenceNumber(o)
				if err != nil {
					t.Fatalf("%s: /Rect: %v", name, err)
				}
				r[i] = v
			}
			out[name] = widget{page: p, rect: r}
		}
	}
	return out
}
