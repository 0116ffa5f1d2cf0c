package appliance

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/pades"
)

// TestSealReachesBLTA: POST /api/v1/seal returns a B-LTA PDF whose DSS has the root CRL for the
// seal certificate. The public URL (http://127.0.0.1:0) reaches nothing, so the revocation data
// came from the CA in process; /ca/root.crl and /ca/root.crt serve the key set's.
func TestSealReachesBLTA(t *testing.T) {
	const apiKey = "seal-bootstrap-key-0123456789abcdefghijkl"
	r := start(t, testConfig(t, t.TempDir(), "PARAPHE_BOOTSTRAP_API_KEY="+apiKey))
	defer r.stop()
	if !strings.HasSuffix(r.a.cfg.PublicURL, ":0") {
		t.Fatalf("public URL %q: the test needs one that reaches nothing", r.a.cfg.PublicURL)
	}
	if want := r.a.cfg.PublicURL + "/ca/root.crl"; len(r.a.keys.Seal.CRLDistributionPoints) != 1 || r.a.keys.Seal.CRLDistributionPoints[0] != want {
		t.Fatalf("seal certificate CRL DP %v, want %s", r.a.keys.Seal.CRLDistributionPoints, want)
	}
	if err := r.a.keys.RootCRLStatus(r.a.now()); err != nil {
		t.Fatalf("root CRL status: %v", err)
	}

	req, _ := http.NewRequest("POST", r.base+"/api/v1/seal", bytes.NewReader(ceremonytest.MinimalPDF(1, "Attestation")))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("seal: %d %s", resp.StatusCode, sealed)
	}
	roots := x509.NewCertPool()
	roots.AddCert(r.a.keys.Root)
	rep, err := pades.Verify(context.Background(), bytes.NewReader(sealed), int64(len(sealed)), pades.VerifyOptions{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Level != "B-LTA" || rep.Signatures[0].Revocation != "good (CRL in the DSS)" {
		var b bytes.Buffer
		rep.WriteText(&b, "sealed.pdf")
		t.Fatalf("sealed PDF:\n%s", b.String())
	}

	for path, want := range map[string][]byte{"/ca/root.crl": r.a.keys.RootCRL, "/ca/root.crt": r.a.keys.Root.Raw} {
		resp, err := http.Get(r.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, want) {
			t.Errorf("GET %s: %d, %d bytes", path, resp.StatusCode, len(b))
		}
	}
}
