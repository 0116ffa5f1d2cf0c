package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsDevelopmentAndValid(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeDevelopment || c.DataDir != "paraphe-data" || c.Listen != "127.0.0.1:8080" || c.MetricsListen != "127.0.0.1:9464" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.PublicURL != "http://127.0.0.1:8080" {
		t.Fatalf("public URL derived as %q", c.PublicURL)
	}
	if c.Ledger.Origin != "127.0.0.1:8080/ledger" {
		t.Fatalf("origin derived as %q", c.Ledger.Origin)
	}
}

// The example file documents every option with its default: loading it must give exactly
// the defaults, and every field of Config must appear in it.
func TestExampleMatchesDefaults(t *testing.T) {
	c, err := Load("example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	d.Derive()
	// Empty YAML lists and maps decode as empty, not nil.
	c.TLS.Hostnames, c.CA.Policies, c.TSA.NTPServers, c.SMS.HTTP.Headers = nil, nil, nil, nil
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("example.yaml differs from Default():\n%+v\n%+v", c, d)
	}
	b, _ := os.ReadFile("example.yaml")
	fields := map[string]reflect.Value{}
	collect(reflect.ValueOf(&d).Elem(), "", fields)
	for name := range fields {
		leaf := strings.ToLower(name[strings.LastIndex(name, "_")+1:])
		if !strings.Contains(string(b), leaf+":") {
			t.Errorf("example.yaml does not document %s", name)
		}
	}
}

func TestEnvOverridesFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte("listen: 127.0.0.1:9000\ntsa:\n  ntp_servers: [a.example]\n"), 0o600)
	c, err := Load(p, []string{
		"PARAPHE_LISTEN=127.0.0.1:9100",
		"PARAPHE_TSA_NTP_SERVERS=ntp1.example, ntp2.example:123",
		"PARAPHE_CA_SIGNER_VALIDITY=30m",
		"PARAPHE_TLS_ACME_AGREE_TOS=true",
		"PARAPHE_SMS_HTTP_HEADERS=X-Key=abc,X-Other=d",
		"HOME=/root",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9100" {
		t.Errorf("listen = %q", c.Listen)
	}
	if !reflect.DeepEqual(c.TSA.NTPServers, []string{"ntp1.example", "ntp2.example:123"}) {
		t.Errorf("ntp_servers = %q", c.TSA.NTPServers)
	}
	if c.CA.SignerValidity != 30*time.Minute || !c.TLS.ACME.AgreeTOS {
		t.Errorf("duration/bool not applied: %v %v", c.CA.SignerValidity, c.TLS.ACME.AgreeTOS)
	}
	if c.SMS.HTTP.Headers["X-Other"] != "d" {
		t.Errorf("headers = %v", c.SMS.HTTP.Headers)
	}
	if c.PublicURL != "http://127.0.0.1:9100" {
		t.Errorf("public_url derived from the overridden listener: %q", c.PublicURL)
	}
}

func TestValidateReportsEveryProblemWithPath(t *testing.T) {
	_, err := Load("", []string{
		"PARAPHE_TLS_MODE=acme",
		"PARAPHE_LISTEN=nonsense",
		"PARAPHE_ORGANIZATION_COUNTRY=France",
		"PARAPHE_SMS_PROVIDER=pigeon",
		"PARAPHE_TSA_ACCURACY=10ms",
	})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	for _, want := range []string{
		"tls.acme.email: required when tls.mode is acme",
		"tls.acme.agree_tos:",
		"tls.hostnames:",
		"listen: \"nonsense\"",
		"organization.country:",
		"sms.provider:",
		"tsa.accuracy:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestProductionRefusesDevelopmentShortcuts(t *testing.T) {
	_, err := Load("", []string{"PARAPHE_MODE=production", "PARAPHE_LISTEN=0.0.0.0:8443"})
	if err == nil {
		t.Fatal("production with outbox, no passphrase and plain HTTP on a public address was accepted")
	}
	for _, want := range []string{"keys.passphrase:", "smtp.host:", "sms.provider:", "tls.mode:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestUnknownInputIsRefused(t *testing.T) {
	if _, err := Load("", []string{"PARAPHE_LISTNE=127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "PARAPHE_LISTNE: no such option") {
		t.Errorf("typo in a variable: %v", err)
	}
	if _, err := Load("", []string{"PARAPHE_HTTP_READ_TIMEOUT=soon"}); err == nil {
		t.Error("bad duration accepted")
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("listne: x\n"), 0o600)
	if _, err := Load(p, nil); err == nil || !strings.Contains(err.Error(), "listne") {
		t.Errorf("unknown YAML key: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("missing file accepted")
	}
}

func TestPublicURLFromTLSHostname(t *testing.T) {
	c, err := Load("", []string{"PARAPHE_TLS_MODE=internal", "PARAPHE_TLS_HOSTNAMES=sign.example.org", "PARAPHE_LISTEN=127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "https://sign.example.org:8443" || c.Ledger.Origin != "sign.example.org:8443/ledger" {
		t.Fatalf("got %q %q", c.PublicURL, c.Ledger.Origin)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:1\n"))
	f.Add([]byte("tls: {mode: acme}\n"))
	f.Add([]byte("sms:\n  http:\n    headers: {a: b}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p, nil)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Load returned a config that does not validate: %v", verr)
			}
		}
	})
}
