package appliance

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestDevelopmentAccess: a development appliance started with no bootstrap administrator or
// API key can be used at once — the credentials in data_dir/dev-access sign in to the web
// app, open the outbox page and call the API; they survive a restart; the log names the file,
// never the secrets; production makes none.
func TestDevelopmentAccess(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	var logs bytes.Buffer
	open := func() *running {
		t.Helper()
		a, err := Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), "test")
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		return start(t, cfg)
	}
	r := open()
	path := cfg.Path(devAccessFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	creds, err := readDevAccess(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{creds["admin_password"], creds["api_key"]} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("a development secret was logged")
		}
	}
	if !strings.Contains(logs.String(), path) {
		t.Errorf("the log does not say where the development credentials are:\n%s", logs.String())
	}

	// The administrator signs in to the web app.
	body, _ := json.Marshal(map[string]string{"email": creds["admin_email"], "password": creds["admin_password"]})
	req, _ := http.NewRequest("POST", r.base+"/admin/api/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", r.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in with the development administrator: %d %s", resp.StatusCode, b)
	}
	// The API key opens the API and the outbox page.
	req, _ = http.NewRequest("GET", r.base+"/api/v1/outbox", nil)
	req.Header.Set("Authorization", "Bearer "+creds["api_key"])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/outbox with the development key: %v %v", resp, err)
	}
	req, _ = http.NewRequest("GET", r.base+"/dev/outbox", nil)
	req.SetBasicAuth("dev", creds["api_key"])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /dev/outbox with the development key: %v %v", resp, err)
	}
	r.stop()

	// A restart keeps them.
	r = open()
	again, err := readDevAccess(path)
	if err != nil || again["admin_password"] != creds["admin_password"] || again["api_key"] != creds["api_key"] {
		t.Fatalf("the development credentials changed at restart: %v", err)
	}
	r.stop()

	// Production makes none: TestNoOutboxPageInProduction checks it.
}
