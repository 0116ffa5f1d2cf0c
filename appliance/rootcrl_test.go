package appliance

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ca/keys"
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

// TestRootCRLRenewedWhileServing: a root CRL renewed in a key ceremony (another process, as
// `paraphe ca renew-root-crl` runs) is published by the running appliance without a restart,
// in /ca/root.crl and in the revocation data of new signatures; an older CRL put back in the
// key directory is refused and the newer one stays published.
func TestRootCRLRenewedWhileServing(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	r := start(t, cfg)
	defer r.stop()
	served := func() *x509.RevocationList {
		t.Helper()
		resp, err := http.Get(r.base + "/ca/root.crl")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			t.Fatalf("GET /ca/root.crl: %d, %v", resp.StatusCode, err)
		}
		return crl
	}
	first := served()
	if first.Number.Int64() != 1 {
		t.Fatalf("first root CRL number %v", first.Number)
	}
	oldFile, err := os.ReadFile(keys.RootCRLFile(cfg.Path("keys")))
	if err != nil {
		t.Fatal(err)
	}

	ko, err := KeyOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := keys.RenewRootCRL(context.Background(), ko, []keys.RevokedCert{{Serial: big.NewInt(0x4f1c), Reason: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.a.watchRootCRL(ctx, 10*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for served().Number.Int64() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed root CRL was not published")
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := served()
	if !bytes.Equal(got.Raw, renewed.Raw) || len(got.RevokedCertificateEntries) != 1 || got.RevokedCertificateEntries[0].SerialNumber.Int64() != 0x4f1c {
		t.Fatalf("published root CRL: number %v, %d entries", got.Number, len(got.RevokedCertificateEntries))
	}
	crls, _, err := r.a.ca.RevocationSource(nil).Revocation(context.Background(), r.a.keys.Seal, r.a.keys.Root)
	if err != nil || len(crls) != 1 || !bytes.Equal(crls[0], renewed.Raw) {
		t.Fatalf("revocation data for the seal certificate: %d CRLs, %v", len(crls), err)
	}
	if changed, err := r.a.reloadRootCRL(); changed || err != nil {
		t.Fatalf("reloading the same CRL: %v %v", changed, err)
	}

	// Putting the first CRL back is refused, loudly, and changes nothing.
	if err := os.WriteFile(keys.RootCRLFile(cfg.Path("keys")), oldFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.a.reloadRootCRL(); changed || err == nil || !strings.Contains(err.Error(), "not above") {
		t.Fatalf("reloading an older CRL: %v %v", changed, err)
	}
	if n := served().Number.Int64(); n != 2 {
		t.Fatalf("after an older CRL was put back, root CRL number %d is served", n)
	}
	if err := r.a.rootCRLStatus(); err != nil {
		t.Fatalf("root CRL status: %v", err)
	}
}
