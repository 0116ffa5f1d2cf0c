package signer_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/testtool"
	"github.com/paraphe/paraphe/pades"
)

// TestSeedFlowRealPAdES runs the seed flow with the appliance's real CA, TSA and PAdES engine:
// the signed PDFs carry two signatures and an archive timestamp, and pass pades.Verify at
// B-LTA and pdfsig.
func TestSeedFlowRealPAdES(t *testing.T) {
	w := newRealWorld(t)
	id, _ := completedSeedFlow(t, w)
	e, err := w.svc.Envelope(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	pdfsig := ""
	if _, err := exec.LookPath("pdfsig"); err == nil || os.Getenv("CI") == "true" {
		pdfsig = testtool.Require(t, "pdfsig")
	}
	for _, d := range e.Documents {
		r := w.api("GET", "/api/v1/envelopes/"+id+"/documents/"+d.ID, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("download: %d %s", r.Status, r.Body)
		}
		rep, err := pades.Verify(context.Background(), bytes.NewReader(r.Body), int64(len(r.Body)), pades.VerifyOptions{Roots: w.roots})
		if err != nil {
			t.Fatalf("%s: %v", d.ID, err)
		}
		if !rep.Valid || rep.Level != "B-LTA" {
			t.Fatalf("%s: valid=%v level=%q problems=%v", d.ID, rep.Valid, rep.Level, rep.Problems)
		}
		sigs := 0
		for _, s := range rep.Signatures {
			if s.Kind == "signature" {
				sigs++
			}
		}
		if sigs != 2 {
			t.Fatalf("%s: %d signatures", d.ID, sigs)
		}
		if pdfsig != "" {
			f := filepath.Join(t.TempDir(), d.ID+".pdf")
			os.WriteFile(f, r.Body, 0o600)
			out, err := exec.Command(pdfsig, "-nocert", f).CombinedOutput()
			if err != nil || strings.Count(string(out), "Signature Validation: Signature is Valid.") < 2 {
				t.Fatalf("pdfsig %s: %v\n%s", d.ID, err, out)
			}
		}
	}
}

func TestSealEndpoint(t *testing.T) {
	w := newRealWorld(t)
	pdf := ceremonytest.MinimalPDF(2, "Attestation")
	hdr := map[string]string{"Authorization": "Bearer " + w.key, "Content-Type": "application/pdf"}
	r := do(t, http.DefaultClient, "POST", w.srv.URL+"/api/v1/seal", hdr, bytes.NewReader(pdf))
	if r.Status != http.StatusOK {
		t.Fatalf("seal: %d %s", r.Status, r.Body)
	}
	rep, err := pades.Verify(context.Background(), bytes.NewReader(r.Body), int64(len(r.Body)), pades.VerifyOptions{Roots: w.roots})
	if err != nil || !rep.Valid || len(rep.Signatures) != 2 || rep.Signatures[0].Field != pades.SealFieldName || rep.Signatures[1].Kind != "document-timestamp" {
		t.Fatalf("sealed PDF: %v %+v", err, rep)
	}
	// The seal certificate names the root's CRL, which the DSS carries: B-LTA.
	if rep.Level != "B-LTA" || rep.Signatures[0].Revocation != "good (CRL in the DSS)" {
		t.Fatalf("sealed PDF at %q, seal revocation %q: %+v", rep.Level, rep.Signatures[0].Revocation, rep.Signatures[0])
	}
	if r := do(t, http.DefaultClient, "POST", w.srv.URL+"/api/v1/seal", hdr, strings.NewReader("not a pdf")); r.Status != http.StatusUnprocessableEntity || r.errCode() != "invalid_pdf" {
		t.Fatalf("sealing garbage: %d %s", r.Status, r.Body)
	}
	hdr["Authorization"] = "Bearer nope"
	if r := do(t, http.DefaultClient, "POST", w.srv.URL+"/api/v1/seal", hdr, bytes.NewReader(pdf)); r.Status != http.StatusUnauthorized {
		t.Fatalf("seal without a key: %d", r.Status)
	}
}
