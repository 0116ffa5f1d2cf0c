package ceremonytest

import (
	"bytes"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// Widget is where a widget annotation of a PDF stands: its page (from 1) and its /Rect.
type Widget struct {
	Page int
	Rect [4]float64
}

// Widgets reads, with pdfcpu, the page and /Rect of every named widget annotation of a PDF,
// by name (/T).
func Widgets(t testing.TB, pdf []byte) map[string]Widget {
	t.Helper()
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	ctx, err := api.ReadAndValidate(bytes.NewReader(pdf), conf)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Widget{}
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
			out[name] = Widget{Page: p, Rect: r}
		}
	}
	return out
}
