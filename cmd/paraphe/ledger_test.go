package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ledger"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/tsa"
)

func ledgerFixture(t *testing.T) (*ledger.Log, string, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "cli.test/ledger")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	l, err := ledger.Open(context.Background(), ledger.Options{Storage: ledger.NewMemoryStorage(), Origin: "cli.test/ledger", Signer: s, VerifierKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, vkey, skey
}

func appendEvents(t *testing.T, l *ledger.Log, n int) [][]byte {
	t.Helper()
	var leaves [][]byte
	for i := 0; i < n; i++ {
		e, _ := event.New(event.PageRead, time.Now(), "env-1", "s-1", map[string]any{"document": "d", "page": i + 1})
		leaf, _ := e.Marshal()
		leaves = append(leaves, leaf)
		p, err := l.Append(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return leaves
}

func ledgerCLI(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := runLedger(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestLedgerCLI(t *testing.T) {
	l, vkey, _ := ledgerFixture(t)
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ledger.key")
	os.WriteFile(keyFile, []byte(vkey+"\n"), 0o644)
	saved := filepath.Join(dir, "cp.txt")

	leaves := appendEvents(t, l, 5)
	out, _, err := ledgerCLI("checkpoint", "--url", srv.URL, "--key", vkey, "--out", saved)
	if err != nil || !strings.Contains(out, "size   5") {
		t.Fatalf("checkpoint: %v\n%s", err, out)
	}
	leaves = append(leaves, appendEvents(t, l, 9)...)
	out, _, err = ledgerCLI("consistency", "--url", srv.URL, "--key", keyFile, "--since", saved, "--update")
	if err != nil || !strings.Contains(out, "size 14 extends the saved size 5") {
		t.Fatalf("consistency: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(saved); !bytes.Contains(b, []byte("\n14\n")) {
		t.Fatalf("--update did not save the new checkpoint:\n%s", b)
	}
	out, _, err = ledgerCLI("prove", "--url", srv.URL, "--key", vkey, "--index", "3")
	if err != nil || !strings.Contains(out, "included: entry 3 of 14") || !strings.Contains(out, string(leaves[3])) {
		t.Fatalf("prove --index: %v\n%s", err, out)
	}
	evFile := filepath.Join(dir, "event.json")
	os.WriteFile(evFile, append(bytes.ReplaceAll(leaves[9], []byte(","), []byte(",\n  ")), '\n'), 0o644)
	out, _, err = ledgerCLI("prove", "--url", srv.URL, "--key", vkey, evFile)
	if err != nil || !strings.Contains(out, "included: entry 9 of 14") {
		t.Fatalf("prove EVENTFILE: %v\n%s", err, out)
	}
	out, stderr, err := ledgerCLI("audit", "--url", srv.URL, "--key", vkey)
	if err != nil || !strings.Contains(out, "audit OK: 14 entries") || !strings.Contains(stderr, "14/14") {
		t.Fatalf("audit: %v\n%s\n%s", err, out, stderr)
	}

	_, otherKey, _ := note.GenerateKey(rand.Reader, "cli.test/ledger")
	if _, _, err := ledgerCLI("checkpoint", "--url", srv.URL, "--key", otherKey); err == nil {
		t.Fatal("checkpoint verified with another key")
	}
	if _, _, err := ledgerCLI("audit", "--url", srv.URL); err == nil || exitCode(err, &bytes.Buffer{}) != 2 {
		t.Fatalf("audit without --key: %v, want a usage error", err)
	}
	if _, _, err := ledgerCLI("teleport"); exitCode(err, &bytes.Buffer{}) != 2 {
		t.Fatalf("unknown subcommand: %v", err)
	}
}

// TestLedgerCLIAuditDetectsLies serves the ledger through a proxy that rewrites one entry,
// as a compromised appliance would, and checks that audit fails with a non-zero exit.
func TestLedgerCLIAuditDetectsLies(t *testing.T) {
	l, vkey, _ := ledgerFixture(t)
	leaves := appendEvents(t, l, 6)
	h := l.Handler()
	liar := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if r.URL.Path == "/ledger/entries" {
			orig := leaves[2]
			forged := bytes.Replace(orig, []byte(`"page":3`), []byte(`"page":4`), 1)
			body = bytes.Replace(body, []byte(b64(orig)), []byte(b64(forged)), 1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
	srv := httptest.NewServer(liar)
	defer srv.Close()
	_, _, err := ledgerCLI("audit", "--url", srv.URL, "--key", vkey)
	if err == nil {
		t.Fatal("audit of a rewritten entry succeeded")
	}
	if code := exitCode(err, &bytes.Buffer{}); code == 0 {
		t.Fatalf("exit code %d for a failed audit", code)
	}
	if _, _, err := ledgerCLI("prove", "--url", srv.URL, "--key", vkey, "--index", "2"); err == nil {
		t.Fatal("prove of a rewritten entry succeeded")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// testTSA returns a real TSA (package tsa) with a throw-away root, and the root's PEM.
func testTSA(t *testing.T) (*tsa.TSA, []byte) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rootDER)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tsuKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tsuTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test TSU", Country: []string{"FR"}, Organization: []string{"Test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	tsuDER, err := x509.CreateCertificate(rand.Reader, tsuTmpl, root, tsuKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	tsu, _ := x509.ParseCertificate(tsuDER)
	a, err := tsa.New(context.Background(), tsa.Options{Signer: tsuKey, Cert: tsu, Chain: []*x509.Certificate{root}, StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER})
}

func TestLedgerCLICheckpointTimestamp(t *testing.T) {
	a, rootPEM := testTSA(t)
	skey, vkey, _ := note.GenerateKey(rand.Reader, "cli.test/ledger")
	s, _ := note.NewSigner(skey)
	l, err := ledger.Open(context.Background(), ledger.Options{Storage: ledger.NewMemoryStorage(), Origin: "cli.test/ledger", Signer: s, VerifierKey: vkey, Timestamper: a})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendEvents(t, l, 3)
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	dir := t.TempDir()
	roots := filepath.Join(dir, "roots.pem")
	os.WriteFile(roots, rootPEM, 0o644)
	out, _, err := ledgerCLI("checkpoint", "--url", srv.URL, "--key", vkey, "--tsa-roots", roots)
	if err != nil || !strings.Contains(out, "time   ") {
		t.Fatalf("checkpoint --tsa-roots: %v\n%s", err, out)
	}
	_, otherRoot := testTSA(t)
	os.WriteFile(roots, otherRoot, 0o644)
	if _, _, err := ledgerCLI("checkpoint", "--url", srv.URL, "--key", vkey, "--tsa-roots", roots); err == nil {
		t.Fatal("the timestamp verified against another root")
	}
}
