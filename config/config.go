// Package config holds Paraphe's one configuration: a YAML file, overridden by PARAPHE_*
// environment variables, then by command-line flags. With no configuration at all it yields
// the embedded development setup (data in ./paraphe-data, HTTP on 127.0.0.1:8080, metrics on
// 127.0.0.1:9464, emails and SMS captured in an outbox).
//
// Load never returns a half-valid Config: every problem is reported at once by Validate, each
// with the path of the option at fault.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Modes of operation.
const (
	ModeDevelopment = "development"
	ModeProduction  = "production"
)

// TLS modes.
const (
	TLSOff      = "off"
	TLSInternal = "internal"
	TLSACME     = "acme"
)

// Config is the whole configuration of one appliance. The YAML keys and the PARAPHE_*
// variables are derived from the yaml tags: tls.acme.email is PARAPHE_TLS_ACME_EMAIL.
type Config struct {
	// Mode is development (keys made on first start, passphrase generated, outbox instead of
	// email and SMS) or production (nothing is made or sent implicitly).
	Mode string `yaml:"mode"`
	// DataDir holds keys, the ledger, state and documents.
	DataDir string `yaml:"data_dir"`
	// Listen is the one HTTP(S) listener: ceremony, API, TSA, CA, ledger.
	Listen string `yaml:"listen"`
	// MetricsListen is the Prometheus listener; empty disables it.
	MetricsListen string `yaml:"metrics_listen"`
	// PublicURL is the base URL signers, relying parties and certificates see (CRL and OCSP
	// URLs are built from it). Derived from Listen and TLS when empty.
	PublicURL string `yaml:"public_url"`

	Organization Organization `yaml:"organization"`
	Keys         Keys         `yaml:"keys"`
	TLS          TLS          `yaml:"tls"`
	HTTP         HTTP         `yaml:"http"`
	CA           CA           `yaml:"ca"`
	TSA          TSA          `yaml:"tsa"`
	Ledger       Ledger       `yaml:"ledger"`
	Ceremony     Ceremony     `yaml:"ceremony"`
	SMTP         SMTP         `yaml:"smtp"`
	SMS          SMS          `yaml:"sms"`
	Log          Log          `yaml:"log"`

	// BootstrapAPIKey, when set, is registered as an admin API key at start. Only from the
	// environment (PARAPHE_BOOTSTRAP_API_KEY) or a file; never logged.
	BootstrapAPIKey string `yaml:"bootstrap_api_key"`
	// BootstrapAdmin, from PARAPHE_BOOTSTRAP_ADMIN_*, creates the first administrator.
	BootstrapAdmin BootstrapAdmin `yaml:"bootstrap_admin"`
}

// Organization names the operator; it goes into every certificate subject.
type Organization struct {
	Name    string `yaml:"name"`
	Country string `yaml:"country"`
}

// Keys says where the key hierarchy lives and how it is protected.
type Keys struct {
	// KMS is empty for passphrase-encrypted key files under data_dir/keys, or a pkcs11: URI
	// of an HSM token (cgo build).
	KMS string `yaml:"kms"`
	// Passphrase encrypts key files. Prefer PARAPHE_KEYS_PASSPHRASE or passphrase_file.
	Passphrase string `yaml:"passphrase"`
	// PassphraseFile is read when Passphrase is empty.
	PassphraseFile string `yaml:"passphrase_file"`
}

// TLS configures the listener's transport security.
type TLS struct {
	Mode      string   `yaml:"mode"`
	Hostnames []string `yaml:"hostnames"`
	ACME      ACME     `yaml:"acme"`
}

// ACME configures certificates from an ACME CA (the host must be reachable from it).
type ACME struct {
	Email     string `yaml:"email"`
	Directory string `yaml:"directory"`
	AgreeTOS  bool   `yaml:"agree_tos"`
}

// HTTP bounds every request.
type HTTP struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes      int64         `yaml:"max_body_bytes"`
	RateLimit         RateLimit     `yaml:"rate_limit"`
}

// RateLimit is the average number of requests per second one client address may make to each
// group of routes (bursts of three times as many); 0 turns a limit off.
type RateLimit struct {
	Ceremony float64 `yaml:"ceremony"` // /s/: the signer's pages and protocol
	API      float64 `yaml:"api"`      // /api/: the sender API
	TSA      float64 `yaml:"tsa"`      // /tsa
	OCSP     float64 `yaml:"ocsp"`     // /ocsp and /ca/crl
	Verify   float64 `yaml:"verify"`   // /verify: the public verification page
	Admin    float64 `yaml:"admin"`    // /admin/: the sender's web app
}

// BootstrapAdmin creates the first administrator at start when Email is set (and the account
// does not exist yet; an existing password is never changed). There is no default password.
type BootstrapAdmin struct {
	Organization string `yaml:"organization"`
	Email        string `yaml:"email"`
	Password     string `yaml:"password"`
}

// Ceremony configures envelopes.
type Ceremony struct {
	// Retention is how long after an envelope ends its personal data must be kept before the
	// sender may erase it.
	Retention time.Duration `yaml:"retention"`
	// ReadDwell is how long most of a page must stay visible in the signer's reader before the
	// page is reported read (0: as soon as most of it is visible). At most a minute.
	ReadDwell time.Duration `yaml:"read_dwell"`
}

// CA configures per-signer certificates.
type CA struct {
	SignerValidity time.Duration `yaml:"signer_validity"`
	CRLValidity    time.Duration `yaml:"crl_validity"`
	Policies       []string      `yaml:"policies"`
}

// TSA configures the RFC 3161 timestamp authority.
type TSA struct {
	Policy       string        `yaml:"policy"`
	Accuracy     time.Duration `yaml:"accuracy"`
	NTPServers   []string      `yaml:"ntp_servers"`
	NTPInterval  time.Duration `yaml:"ntp_interval"`
	IncludeChain bool          `yaml:"include_chain"`
}

// Ledger configures the verifiable log.
type Ledger struct {
	// Origin is the first line of every checkpoint; derived from PublicURL when empty.
	Origin             string        `yaml:"origin"`
	GroupCommitWindow  time.Duration `yaml:"group_commit_window"`
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
}

// SMTP configures outgoing email. An empty Host means the outbox (development only).
type SMTP struct {
	Host string `yaml:"host"`
	// Port is the server's port; 0 means the usual one for Security (see ServerPort).
	Port     int    `yaml:"port"`
	Security string `yaml:"security"` // starttls, tls, none
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	From     string `yaml:"from"`
	// CAFile, when set, is a PEM file of the only roots trusted for the server's certificate
	// (a relay with a private CA); empty means the system roots.
	CAFile string `yaml:"ca_file"`
}

// SMS configures the one-time-code gateway.
type SMS struct {
	Provider string    `yaml:"provider"` // outbox, http, twilio
	HTTP     SMSHTTP   `yaml:"http"`
	Twilio   SMSTwilio `yaml:"twilio"`
}

// SMSHTTP is a generic HTTP gateway: the body template gets {{.To}} and {{.Text}}.
//
// A message counts as sent when the gateway answers one of SuccessStatus (any 2xx when the
// list is empty) and, when SuccessContains is set, its response body contains that text.
// Anything else is a failed attempt, retried, then recorded in the envelope's deliveries.
type SMSHTTP struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// SuccessStatus lists the accepted HTTP statuses: a single number (200) or a list
	// ([200, 201, 202]); an empty list ([]) accepts any 2xx.
	SuccessStatus StatusList `yaml:"success_status"`
	// SuccessContains, when set, must appear in the response body as well (e.g. "queued").
	SuccessContains string `yaml:"success_contains"`
}

// StatusList is a list of HTTP statuses. In YAML it is a single number or a list of numbers;
// in a PARAPHE_* variable, numbers separated by commas.
type StatusList []int

// UnmarshalYAML accepts a single status as well as a list.
func (l *StatusList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var one int
		if err := n.Decode(&one); err != nil {
			return err
		}
		*l = StatusList{one}
		return nil
	}
	var many []int
	if err := n.Decode(&many); err != nil {
		return err
	}
	*l = StatusList(many)
	return nil
}

// SMSTwilio is the Twilio-compatible Messages API.
type SMSTwilio struct {
	BaseURL    string `yaml:"base_url"`
	AccountSID string `yaml:"account_sid"`
	AuthToken  string `yaml:"auth_token"`
	From       string `yaml:"from"`
}

// Log configures structured logs on standard error.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Default returns the embedded development configuration.
func Default() Config {
	return Config{
		Mode:          ModeDevelopment,
		DataDir:       "paraphe-data",
		Listen:        "127.0.0.1:8080",
		MetricsListen: "127.0.0.1:9464",
		Organization:  Organization{Name: "Paraphe Development", Country: "FR"},
		TLS:           TLS{Mode: TLSOff, ACME: ACME{Directory: "https://acme-v02.api.letsencrypt.org/directory"}},
		HTTP: HTTP{
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      120 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   30 * time.Second,
			MaxBodyBytes:      50 << 20,
			RateLimit:         RateLimit{Ceremony: 20, API: 50, TSA: 200, OCSP: 200, Verify: 2, Admin: 20},
		},
		CA:       CA{SignerValidity: time.Hour, CRLValidity: 24 * time.Hour},
		TSA:      TSA{Policy: "0.4.0.2023.1.1", Accuracy: time.Second, NTPInterval: 5 * time.Minute},
		Ledger:   Ledger{GroupCommitWindow: time.Millisecond, CheckpointInterval: 5 * time.Millisecond},
		Ceremony: Ceremony{Retention: 30 * 24 * time.Hour, ReadDwell: 1500 * time.Millisecond},
		SMTP:     SMTP{Security: "starttls", From: "Paraphe <no-reply@localhost>"},
		SMS:      SMS{Provider: "outbox", HTTP: SMSHTTP{Method: "POST", SuccessStatus: StatusList{200}}},
		Log:      Log{Level: "info", Format: "text"},
	}
}

// Load reads the YAML file at path (none when path is empty) over the defaults, then applies
// the PARAPHE_* variables of env (as os.Environ gives them), derives what is left empty and
// validates the result.
func Load(path string, env []string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(&c, env); err != nil {
		return Config{}, err
	}
	c.Derive()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Derive fills the options whose defaults depend on others. It is idempotent.
func (c *Config) Derive() {
	if c.PublicURL == "" {
		scheme, host := "http", c.Listen
		if c.TLS.Mode != TLSOff && c.TLS.Mode != "" {
			scheme = "https"
			if len(c.TLS.Hostnames) > 0 {
				if _, port, err := net.SplitHostPort(c.Listen); err == nil && port != "443" {
					host = net.JoinHostPort(c.TLS.Hostnames[0], port)
				} else {
					host = c.TLS.Hostnames[0]
				}
			}
		}
		if h, port, err := net.SplitHostPort(host); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
			host = net.JoinHostPort("localhost", port)
		}
		c.PublicURL = scheme + "://" + host
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Ledger.Origin == "" {
		if u, err := url.Parse(c.PublicURL); err == nil && u.Host != "" {
			c.Ledger.Origin = u.Host + "/ledger"
		}
	}
}

// Validate reports every problem at once, each prefixed by the option's path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...)))
	}
	switch c.Mode {
	case ModeDevelopment, ModeProduction:
	default:
		bad("mode", "must be development or production, not %q", c.Mode)
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	checkAddr := func(path, addr string, required bool) {
		if addr == "" {
			if required {
				bad(path, "required")
			}
			return
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			bad(path, "%q is not host:port: %v", addr, err)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(path, "%q has an invalid port", addr)
		}
	}
	checkAddr("listen", c.Listen, true)
	checkAddr("metrics_listen", c.MetricsListen, false)
	if c.Listen != "" && c.Listen == c.MetricsListen && !strings.HasSuffix(c.Listen, ":0") {
		bad("metrics_listen", "must differ from listen (%s)", c.Listen)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("public_url", "%q is not an absolute http(s) URL", c.PublicURL)
	} else if u.RawQuery != "" || u.Fragment != "" {
		bad("public_url", "%q must not have a query or fragment", c.PublicURL)
	}
	if strings.TrimSpace(c.Organization.Name) == "" {
		bad("organization.name", "required (it goes into every certificate subject)")
	}
	if len(c.Organization.Country) != 2 || strings.ToUpper(c.Organization.Country) != c.Organization.Country {
		bad("organization.country", "%q is not an ISO 3166 two-letter code such as FR", c.Organization.Country)
	}
	if c.Keys.KMS != "" && !strings.HasPrefix(c.Keys.KMS, "pkcs11:") {
		bad("keys.kms", "%q: only pkcs11: URIs are supported (empty means encrypted key files)", c.Keys.KMS)
	}
	if c.Mode == ModeProduction && c.Keys.Passphrase == "" && c.Keys.PassphraseFile == "" && c.Keys.KMS == "" {
		bad("keys.passphrase", "required in production (set PARAPHE_KEYS_PASSPHRASE or keys.passphrase_file)")
	}
	switch c.TLS.Mode {
	case TLSOff:
		if c.Mode == ModeProduction && !isLoopback(c.Listen) {
			bad("tls.mode", "off is only allowed on a loopback listener in production (put a TLS proxy in front, or use internal or acme)")
		}
	case TLSInternal:
	case TLSACME:
		if c.TLS.ACME.Email == "" {
			bad("tls.acme.email", "required when tls.mode is acme")
		} else if _, err := mail.ParseAddress(c.TLS.ACME.Email); err != nil {
			bad("tls.acme.email", "%q is not an email address", c.TLS.ACME.Email)
		}
		if !c.TLS.ACME.AgreeTOS {
			bad("tls.acme.agree_tos", "must be true when tls.mode is acme")
		}
		if len(c.TLS.Hostnames) == 0 {
			bad("tls.hostnames", "at least one public hostname is required when tls.mode is acme")
		}
		if u, err := url.Parse(c.TLS.ACME.Directory); err != nil || u.Scheme != "https" {
			bad("tls.acme.directory", "%q is not an https URL", c.TLS.ACME.Directory)
		}
	default:
		bad("tls.mode", "must be off, internal or acme, not %q", c.TLS.Mode)
	}
	for i, h := range c.TLS.Hostnames {
		if h == "" || strings.ContainsAny(h, "/: ") && net.ParseIP(h) == nil {
			bad(fmt.Sprintf("tls.hostnames[%d]", i), "%q is not a hostname", h)
		}
	}
	positive := func(path string, d time.Duration) {
		if d <= 0 {
			bad(path, "must be positive, not %s", d)
		}
	}
	positive("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	for path, v := range map[string]float64{"ceremony": c.HTTP.RateLimit.Ceremony, "api": c.HTTP.RateLimit.API, "tsa": c.HTTP.RateLimit.TSA, "ocsp": c.HTTP.RateLimit.OCSP, "verify": c.HTTP.RateLimit.Verify, "admin": c.HTTP.RateLimit.Admin} {
		if v < 0 {
			bad("http.rate_limit."+path, "must be 0 (off) or positive, not %g", v)
		}
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes", "must be positive, not %d", c.HTTP.MaxBodyBytes)
	}
	positive("ca.signer_validity", c.CA.SignerValidity)
	if c.CA.SignerValidity > 7*24*time.Hour {
		bad("ca.signer_validity", "%s is longer than a week; signer certificates serve one signing act", c.CA.SignerValidity)
	}
	positive("ca.crl_validity", c.CA.CRLValidity)
	for i, p := range c.CA.Policies {
		if !isOID(p) {
			bad(fmt.Sprintf("ca.policies[%d]", i), "%q is not a dotted OID", p)
		}
	}
	if !isOID(c.TSA.Policy) {
		bad("tsa.policy", "%q is not a dotted OID", c.TSA.Policy)
	}
	if c.TSA.Accuracy < time.Second {
		bad("tsa.accuracy", "must be at least 1s (genTime has whole seconds), not %s", c.TSA.Accuracy)
	}
	positive("tsa.ntp_interval", c.TSA.NTPInterval)
	for i, s := range c.TSA.NTPServers {
		if s == "" || strings.ContainsAny(s, "/ ") {
			bad(fmt.Sprintf("tsa.ntp_servers[%d]", i), "%q is not host or host:port", s)
		}
	}
	if c.Ledger.Origin == "" || strings.ContainsAny(c.Ledger.Origin, "\n+") {
		bad("ledger.origin", "%q must be a non-empty single line without '+'", c.Ledger.Origin)
	}
	if c.Ledger.GroupCommitWindow < 0 || c.Ledger.GroupCommitWindow > time.Second {
		bad("ledger.group_commit_window", "must be between 0 and 1s, not %s", c.Ledger.GroupCommitWindow)
	}
	positive("ledger.checkpoint_interval", c.Ledger.CheckpointInterval)
	if c.Ceremony.Retention < 0 {
		bad("ceremony.retention", "must not be negative, not %s", c.Ceremony.Retention)
	}
	if c.Ceremony.ReadDwell < 0 || c.Ceremony.ReadDwell > time.Minute {
		bad("ceremony.read_dwell", "must be between 0 and 1m (how long most of a page stays visible before it counts as read), not %s", c.Ceremony.ReadDwell)
	}
	if c.SMTP.Host == "" {
		if c.Mode == ModeProduction {
			bad("smtp.host", "required in production (the outbox is for development only)")
		}
	} else {
		if c.SMTP.Port < 0 || c.SMTP.Port > 65535 {
			bad("smtp.port", "%d is not a port", c.SMTP.Port)
		}
		switch c.SMTP.Security {
		case "starttls", "tls", "none":
		default:
			bad("smtp.security", "must be starttls, tls or none, not %q", c.SMTP.Security)
		}
	}
	if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
		bad("smtp.from", "%q is not an address: %v", c.SMTP.From, err)
	}
	switch c.SMS.Provider {
	case "outbox":
		if c.Mode == ModeProduction {
			bad("sms.provider", "outbox is for development only; use http or twilio")
		}
	case "http":
		if u, err := url.Parse(c.SMS.HTTP.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("sms.http.url", "%q is not an absolute http(s) URL", c.SMS.HTTP.URL)
		}
		if c.SMS.HTTP.Body == "" {
			bad("sms.http.body", "required: a template using {{.To}} and {{.Text}}")
		}
		for i, st := range c.SMS.HTTP.SuccessStatus {
			if st < 100 || st > 599 {
				bad(fmt.Sprintf("sms.http.success_status[%d]", i), "%d is not an HTTP status (100 to 599); use [] to accept any 2xx", st)
			}
		}
	case "twilio":
		if c.SMS.Twilio.AccountSID == "" {
			bad("sms.twilio.account_sid", "required when sms.provider is twilio")
		}
		if c.SMS.Twilio.AuthToken == "" {
			bad("sms.twilio.auth_token", "required when sms.provider is twilio")
		}
		if c.SMS.Twilio.From == "" {
			bad("sms.twilio.from", "required when sms.provider is twilio")
		}
	default:
		bad("sms.provider", "must be outbox, http or twilio, not %q", c.SMS.Provider)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, not %q", c.Log.Format)
	}
	if c.BootstrapAPIKey != "" && len(c.BootstrapAPIKey) < 32 {
		bad("bootstrap_api_key", "must be at least 32 characters")
	}
	if b := c.BootstrapAdmin; b.Email != "" || b.Password != "" || b.Organization != "" {
		if _, err := mail.ParseAddress(b.Email); err != nil {
			bad("bootstrap_admin.email", "%q is not an email address", b.Email)
		}
		if strings.TrimSpace(b.Organization) == "" {
			bad("bootstrap_admin.organization", "required with bootstrap_admin.email")
		}
		if len(b.Password) < 12 {
			bad("bootstrap_admin.password", "at least 12 characters required")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Problems: errs}
}

// ValidationError lists every problem found by Validate.
type ValidationError struct{ Problems []error }

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As see each problem.
func (e *ValidationError) Unwrap() []error { return e.Problems }

// Passphrase returns the key passphrase from the configuration or its file, or nil when
// neither is set.
func (c *Config) Passphrase() ([]byte, error) {
	if c.Keys.Passphrase != "" {
		return []byte(c.Keys.Passphrase), nil
	}
	if c.Keys.PassphraseFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.Keys.PassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("keys.passphrase_file: %w", err)
	}
	p := bytes.TrimRight(b, "\r\n")
	if len(p) == 0 {
		return nil, fmt.Errorf("keys.passphrase_file: %s is empty", c.Keys.PassphraseFile)
	}
	return p, nil
}

// Path returns a path under the data directory.
func (c *Config) Path(elem ...string) string {
	return filepath.Join(append([]string{c.DataDir}, elem...)...)
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isOID(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// ServerPort is the SMTP server's port: Port, or when it is 0 the usual one for Security —
// 465 for implicit TLS (RFC 8314), 587 (submission) otherwise.
func (s SMTP) ServerPort() int {
	switch {
	case s.Port != 0:
		return s.Port
	case s.Security == "tls":
		return 465
	}
	return 587
}
