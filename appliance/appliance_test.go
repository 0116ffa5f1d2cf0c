package appliance

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/config"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

func testConfig(t testing.TB, dir string, env ...string) config.Config {
	t.Helper()
	env = append([]string{
		"PARAPHE_DATA_DIR=" + dir,
		"PARAPHE_LISTEN=127.0.0.1:0",
		"PARAPHE_METRICS_LISTEN=127.0.0.1:0",
	}, env...)
	cfg, err := config.Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is an appliance serving on loopback.
type running struct {
	a       *Appliance
	base    string
	metrics string
	stop    func()
}

func start(t *testing.T, cfg config.Config) *running {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := Open(context.Background(), cfg, log, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- a.Serve(ctx, func(l, m net.Addr) { ready <- [2]net.Addr{l, m} })
	}()
	var addrs [2]net.Addr
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	scheme := "http"
	if cfg.TLS.Mode != config.TLSOff {
		scheme = "https"
	}
	r := &running{a: a, base: scheme + "://" + addrs[0].String(), metrics: "http://" + addrs[1].String()}
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	return r
}

func get(t *testing.T, c *http.Client, url string) []byte {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

// A development appliance makes its keys on first start, records its life in the ledger,
// and on restart reuses the same keys and extends the same tree.
func TestRestartReusesKeysAndLedger(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	r := start(t, cfg)
	c := http.DefaultClient
	if !strings.Contains(string(get(t, c, r.base+"/healthz")), `"status": "ok"`) {
		t.Fatal("healthz not ok")
	}
	chain1 := get(t, c, r.base+"/ca/chain.pem")
	key := strings.TrimSpace(string(get(t, c, r.base+"/ledger/key")))
	v, err := verify.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	c1 := waitCheckpoint(t, r.base, v, cfg.Ledger.Origin, 2)
	metrics := string(get(t, c, r.metrics+"/metrics"))
	for _, m := range []string{"paraphe_http_request_duration_seconds", "paraphe_tsa_", "paraphe_ledger_", "paraphe_ca_"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	r.stop()

	r = start(t, cfg)
	defer r.stop()
	if chain2 := get(t, c, r.base+"/ca/chain.pem"); !bytes.Equal(chain1, chain2) {
		t.Fatal("the CA chain changed across a restart")
	}
	if key2 := strings.TrimSpace(string(get(t, c, r.base+"/ledger/key"))); key2 != key {
		t.Fatalf("ledger key changed: %q → %q", key, key2)
	}
	// appliance.started is appended at each start.
	c2 := waitCheckpoint(t, r.base, v, cfg.Ledger.Origin, 3)
	if err := verify.Consistency(c1, c2, consistencyProof(t, r.base, c1.Size, c2.Size)); err != nil {
		t.Fatalf("the tree after restart is not an extension of the one before: %v", err)
	}
	if c1.Size != 2 || c2.Size != 3 {
		t.Fatalf("tree sizes %d then %d; want appliance.initialized + started, then one more started", c1.Size, c2.Size)
	}
	entries := get(t, c, r.base+"/ledger/entries?start=0&end=3")
	var types []string
	for _, leaf := range leavesOf(t, entries) {
		e, err := event.Parse(leaf)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, string(e.Type))
	}
	if strings.Join(types, ",") != "appliance.initialized,appliance.started,appliance.started" {
		t.Fatalf("ledger holds %v", types)
	}
}

// tls.mode internal: the listener's certificate comes from our own CA, and a client that
// trusts only our root completes a handshake and a request.
func TestTLSInternal(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, "PARAPHE_TLS_MODE=internal", "PARAPHE_TLS_HOSTNAMES=localhost")
	r := start(t, cfg)
	defer r.stop()
	rootPEM, err := os.ReadFile(filepath.Join(dir, "keys", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		t.Fatal("no root certificate")
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.base, "https://"))
	url := "https://localhost:" + port + "/healthz"
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := trusting.Get(url)
	if err != nil {
		t.Fatalf("client trusting our root: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("status %d, TLS %v, HSTS %q", resp.StatusCode, resp.TLS != nil, resp.Header.Get("Strict-Transport-Security"))
	}
	leaf := resp.TLS.PeerCertificates[0]
	if len(leaf.DNSNames) == 0 || leaf.DNSNames[0] != "localhost" {
		t.Fatalf("server certificate names %v", leaf.DNSNames)
	}
	// A client with the system roots only must refuse the certificate.
	if _, err := (&http.Client{Transport: &http.Transport{}}).Get(url); err == nil {
		t.Fatal("a client that does not trust our root accepted the server")
	}
}

// SIGTERM drains in-flight requests: a request whose body is still arriving when the signal
// comes is answered, then the process exits 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "paraphe")
	build := exec.Command("go", "build", "-o", bin, "github.com/paraphe/paraphe/cmd/paraphe")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", "--data", dir, "--listen", addr, "--metrics-listen", "off")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A real timestamp query, sent in two halves.
	query, err := timestamp.CreateRequest(strings.NewReader("drain me"), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /tsa HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/timestamp-query\r\n" +
		"Content-Length: " + strconv.Itoa(len(query)) + "\r\nConnection: close\r\n\r\n"
	conn.Write([]byte(head))
	conn.Write(query[:len(query)/2])
	time.Sleep(200 * time.Millisecond) // the server is now reading this request's body
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	conn.Write(query[len(query)/2:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request was dropped: %v\n%s", err, logs.String())
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/timestamp-reply" || len(body) == 0 {
		t.Fatalf("in-flight request answered %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "draining in-flight requests") {
		t.Fatalf("no shutdown message:\n%s", logs.String())
	}
	// New connections are refused after shutdown.
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("server still accepting after SIGTERM")
	}
}

func leavesOf(t *testing.T, body []byte) [][]byte {
	t.Helper()
	var resp struct {
		Entries []struct {
			Index uint64 `json:"index"`
			Leaf  []byte `json:"leaf"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range resp.Entries {
		out = append(out, e.Leaf)
	}
	return out
}

// waitCheckpoint polls the published checkpoint until it covers at least size leaves.
func waitCheckpoint(t *testing.T, base string, v note.Verifier, origin string, size uint64) verify.Checkpoint {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := verify.OpenCheckpoint(get(t, http.DefaultClient, base+"/ledger/checkpoint"), v, origin)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size >= size {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint stuck at size %d, want %d", cp.Size, size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func consistencyProof(t *testing.T, base string, from, to uint64) [][]byte {
	t.Helper()
	var p struct {
		Hashes [][]byte `json:"hashes"`
	}
	body := get(t, http.DefaultClient, base+"/ledger/proof/consistency?from="+strconv.FormatUint(from, 10)+"&to="+strconv.FormatUint(to, 10))
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p.Hashes
}

func verifierOf(t *testing.T, r *running) (note.Verifier, error) {
	t.Helper()
	return verify.NewVerifier(strings.TrimSpace(string(get(t, http.DefaultClient, r.base+"/ledger/key"))))
}

// PARAPHE_BOOTSTRAP_ADMIN_* creates the first administrator, who can then sign in to the
// sender's web app; a wrong password is refused; nothing else is reachable without a session.
func TestBootstrapAdminSignsIn(t *testing.T) {
	const pw = "correct horse battery staple"
	cfg := testConfig(t, t.TempDir(),
		"PARAPHE_BOOTSTRAP_ADMIN_ORGANIZATION=Notaires Associés",
		"PARAPHE_BOOTSTRAP_ADMIN_EMAIL=admin@example.org",
		"PARAPHE_BOOTSTRAP_ADMIN_PASSWORD="+pw)
	r := start(t, cfg)
	defer r.stop()
	login := func(password string) *http.Response {
		body, _ := json.Marshal(map[string]string{"email": "admin@example.org", "password": password})
		req, _ := http.NewRequest("POST", r.base+"/admin/api/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", r.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("not the password"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp := login(pw)
	if resp.StatusCode != 200 || len(resp.Cookies()) == 0 {
		t.Fatalf("bootstrap admin cannot sign in: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if !c.HttpOnly {
			t.Errorf("cookie %s is not HttpOnly", c.Name)
		}
	}
	anon, err := http.Get(r.base + "/admin/api/envelopes")
	if err != nil {
		t.Fatal(err)
	}
	anon.Body.Close()
	if anon.StatusCode != http.StatusUnauthorized {
		t.Fatalf("envelope list without a session: %d", anon.StatusCode)
	}
}

// Moving an appliance to another public address keeps its keys and its ledger key: the key's
// name is the one recorded by the key ceremony.
func TestNewPublicURLKeepsLedgerKey(t *testing.T) {
	dir := t.TempDir()
	r := start(t, testConfig(t, dir, "PARAPHE_PUBLIC_URL=https://old.example.org"))
	key := r.a.keys.LedgerVerifierKey
	r.stop()
	r = start(t, testConfig(t, dir, "PARAPHE_PUBLIC_URL=https://new.example.org"))
	defer r.stop()
	if r.a.keys.LedgerVerifierKey != key {
		t.Fatalf("ledger key changed with the public URL: %q → %q", key, r.a.keys.LedgerVerifierKey)
	}
}
