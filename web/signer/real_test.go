package signer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/testtool"
	"github.com/paraphe/paraphe/ledger"
	"github.com/paraphe/paraphe/ledger/event"
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
	req, err := http.NewRequest("POST", w.srv.URL+"/api/v1/seal", bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := reply{resp.StatusCode, body}
	if r.Status != http.StatusOK {
		t.Fatalf("seal: %d %s", r.Status, r.Body)
	}
	before, after := sha256.Sum256(pdf), sha256.Sum256(r.Body)
	if got, want := resp.Header.Get("Digest"), "sha-256="+hex.EncodeToString(after[:]); got != want {
		t.Errorf("Digest header %q, want %q", got, want)
	}
	eventID := resp.Header.Get("Paraphe-Event")
	if eventID == "" {
		t.Fatal("the sealed PDF comes without a Paraphe-Event header")
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

	// The seal is a ledger event named by the header, with the digests before and after; the
	// refused requests add none.
	var seals []event.Event
	deadline := time.Now().Add(10 * time.Second)
	for {
		seals = seals[:0]
		found := false
		for _, ev := range ledgerEvents(t, w) {
			if ev.Type == "seal.applied" {
				seals = append(seals, ev)
				found = found || ev.ID == eventID
			}
		}
		if found || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(seals) != 1 {
		t.Fatalf("%d seal.applied events in the ledger, want 1: %+v", len(seals), seals)
	}
	ev := seals[0]
	if ev.ID != eventID || !strings.HasPrefix(ev.Envelope, "seal-") ||
		ev.Data["document"] != hex.EncodeToString(before[:]) || ev.Data["digest"] != hex.EncodeToString(after[:]) {
		t.Fatalf("seal.applied %+v, want id %s, document %x (before), digest %x (after)", ev, eventID, before, after)
	}
}

// ledgerEvents reads every leaf of the world's ledger up to its latest checkpoint.
func ledgerEvents(t *testing.T, w *world) []event.Event {
	t.Helper()
	cp, err := w.ledger.Log.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	h := w.ledger.Log.Handler()
	for start := uint64(0); start < cp.Size; start += ledger.MaxEntriesPage {
		end := min(start+ledger.MaxEntriesPage, cp.Size)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/ledger/entries?start=%d&end=%d", start, end), nil))
		if rec.Code != http.StatusOK {
			// The published checkpoint may trail the one just read; try again later.
			return out
		}
		var page ledger.EntriesResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			ev, err := event.Parse(e.Leaf)
			if err != nil {
				t.Fatalf("leaf #%d: %v", e.Index, err)
			}
			out = append(out, ev)
		}
	}
	return out
}
