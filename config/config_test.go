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

// ceremony.read_dwell (issue 7) comes from YAML or PARAPHE_CEREMONY_READ_DWELL and is refused
// outside 0–1m with a message that says why.
func TestCeremonyReadDwell(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("ceremony:\n  read_dwell: 250ms\n"), 0o600)
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ceremony.ReadDwell != 250*time.Millisecond {
		t.Errorf("read_dwell from YAML = %s", c.Ceremony.ReadDwell)
	}
	if c, err = Load(p, []string{"PARAPHE_CEREMONY_READ_DWELL=4s"}); err != nil || c.Ceremony.ReadDwell != 4*time.Second {
		t.Errorf("read_dwell from the environment = %s, %v", c.Ceremony.ReadDwell, err)
	}
	if c, err = Load("", []string{"PARAPHE_CEREMONY_READ_DWELL=0s"}); err != nil || c.Ceremony.ReadDwell != 0 {
		t.Errorf("read_dwell 0 (report at once): %s, %v", c.Ceremony.ReadDwell, err)
	}
	if c, err = Load("", []string{"PARAPHE_CEREMONY_READ_DWELL=1m"}); err != nil || c.Ceremony.ReadDwell != time.Minute {
		t.Errorf("read_dwell 1m (the bound): %s, %v", c.Ceremony.ReadDwell, err)
	}
	for _, v := range []string{"-1s", "61s", "2h"} {
		_, err := Load("", []string{"PARAPHE_CEREMONY_READ_DWELL=" + v})
		if err == nil || !strings.Contains(err.Error(), "ceremony.read_dwell: must be between 0 and 1m") {
			t.Errorf("read_dwell %s: %v", v, err)
		}
	}
	if _, err := Load("", []string{"PARAPHE_CEREMONY_READ_DWELL=slow"}); err == nil || !strings.Contains(err.Error(), "PARAPHE_CEREMONY_READ_DWELL") {
		t.Errorf("read_dwell not a duration: %v", err)
	}
}

// The generic SMS gateway's success condition (issue 6): one status or a list ([] is any 2xx),
// and a body marker, from YAML or the environment; statuses outside 100–599 are refused.
func TestSMSHTTPSuccessCondition(t *testing.T) {
	base := "sms:\n  provider: http\n  http:\n    url: https://sms.example/send\n    body: '{{.To}} {{.Text}}'\n"
	load := func(yamlExtra string, env ...string) (Config, error) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(p, []byte(base+yamlExtra), 0o600)
		return Load(p, env)
	}
	for _, tc := range []struct {
		yaml string
		env  []string
		want StatusList
	}{
		{"", nil, StatusList{200}},
		{"    success_status: 202\n", nil, StatusList{202}},
		{"    success_status: [200, 201, 202]\n", nil, StatusList{200, 201, 202}},
		{"    success_status: []\n", nil, StatusList{}},
		{"", []string{"PARAPHE_SMS_HTTP_SUCCESS_STATUS=200, 202"}, StatusList{200, 202}},
	} {
		c, err := load(tc.yaml, tc.env...)
		if err != nil {
			t.Fatalf("%q %v: %v", tc.yaml, tc.env, err)
		}
		if !reflect.DeepEqual(c.SMS.HTTP.SuccessStatus, tc.want) {
			t.Errorf("%q %v: success_status = %v, want %v", tc.yaml, tc.env, c.SMS.HTTP.SuccessStatus, tc.want)
		}
	}
	c, err := load("    success_contains: '\"status\":\"queued\"'\n")
	if err != nil || c.SMS.HTTP.SuccessContains != `"status":"queued"` {
		t.Errorf("success_contains from YAML = %q, %v", c.SMS.HTTP.SuccessContains, err)
	}
	if c, err = load("", "PARAPHE_SMS_HTTP_SUCCESS_CONTAINS=accepted"); err != nil || c.SMS.HTTP.SuccessContains != "accepted" {
		t.Errorf("success_contains from the environment = %q, %v", c.SMS.HTTP.SuccessContains, err)
	}
	_, err = load("    success_status: [200, 700]\n")
	if err == nil || !strings.Contains(err.Error(), "sms.http.success_status[1]: 700 is not an HTTP status") {
		t.Errorf("status 700: %v", err)
	}
	if _, err = load("", "PARAPHE_SMS_HTTP_SUCCESS_STATUS=200,ok"); err == nil || !strings.Contains(err.Error(), "PARAPHE_SMS_HTTP_SUCCESS_STATUS") {
		t.Errorf("status list with a word: %v", err)
	}
	if _, err = load("    success_status: ok\n"); err == nil {
		t.Error("success_status: ok accepted")
	}
}

// TestKeyPassphraseAlias: PARAPHE_KEY_PASSPHRASE, the name in the design, sets the key
// passphrase like PARAPHE_KEYS_PASSPHRASE; both set to different values is an error.
func TestKeyPassphraseAlias(t *testing.T) {
	for _, name := range []string{"PARAPHE_KEY_PASSPHRASE", "PARAPHE_KEYS_PASSPHRASE"} {
		c, err := Load("", []string{name + "=correct-horse"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p, err := c.Passphrase(); err != nil || string(p) != "correct-horse" {
			t.Fatalf("%s: passphrase %q, %v", name, p, err)
		}
	}
	if _, err := Load("", []string{"PARAPHE_KEY_PASSPHRASE=a", "PARAPHE_KEYS_PASSPHRASE=a"}); err != nil {
		t.Fatalf("both names with the same value: %v", err)
	}
	// The same variable twice: the later value wins, as before.
	if c, err := Load("", []string{"PARAPHE_LISTEN=127.0.0.1:1", "PARAPHE_LISTEN=127.0.0.1:2"}); err != nil || c.Listen != "127.0.0.1:2" {
		t.Fatalf("PARAPHE_LISTEN twice: %q, %v", c.Listen, err)
	}
	_, err := Load("", []string{"PARAPHE_KEY_PASSPHRASE=a", "PARAPHE_KEYS_PASSPHRASE=b"})
	if err == nil || !strings.Contains(err.Error(), "PARAPHE_KEY_PASSPHRASE and PARAPHE_KEYS_PASSPHRASE") {
		t.Fatalf("both names, different values: %v", err)
	}
}

// TestSMTPPortFollowsSecurity: without a port, implicit TLS uses 465 and the others 587; a
// port given is kept.
func TestSMTPPortFollowsSecurity(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want int
	}{
		{[]string{"PARAPHE_SMTP_HOST=mail.example.org"}, 587},
		{[]string{"PARAPHE_SMTP_HOST=mail.example.org", "PARAPHE_SMTP_SECURITY=tls"}, 465},
		{[]string{"PARAPHE_SMTP_HOST=mail.example.org", "PARAPHE_SMTP_SECURITY=none"}, 587},
		{[]string{"PARAPHE_SMTP_HOST=mail.example.org", "PARAPHE_SMTP_SECURITY=tls", "PARAPHE_SMTP_PORT=2465"}, 2465},
	} {
		cfg, err := Load("", c.env)
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		if got := cfg.SMTP.ServerPort(); got != c.want {
			t.Errorf("%v: port %d, want %d", c.env, got, c.want)
		}
	}
	if _, err := Load("", []string{"PARAPHE_SMTP_HOST=mail.example.org", "PARAPHE_SMTP_PORT=70000"}); err == nil {
		t.Error("port 70000 accepted")
	}
}
