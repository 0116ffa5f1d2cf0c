package ceremony

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"
)

// HTTPGatewayConfig describes a generic HTTP SMS gateway.
type HTTPGatewayConfig struct {
	URL     string
	Method  string            // POST by default
	Headers map[string]string // sent as is (e.g. Authorization, Content-Type)
	// Body is a text/template executed with .To and .Text; the functions json (a JSON string
	// literal) and query (URL query escaping) are available.
	Body string
	// SuccessStatus lists the HTTP statuses that mean accepted; empty means any 2xx.
	SuccessStatus []int
	// SuccessContains, when set, must appear in the response body as well.
	SuccessContains string
	Client          *http.Client
}

// HTTPGateway sends SMS through a generic HTTP gateway.
type HTTPGateway struct {
	cfg  HTTPGatewayConfig
	body *template.Template
}

// NewHTTPGateway checks cfg and returns a gateway.
func NewHTTPGateway(cfg HTTPGatewayConfig) (*HTTPGateway, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sms gateway: url %q is not an http(s) URL", cfg.URL)
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	tmpl, err := template.New("sms").Option("missingkey=error").Funcs(template.FuncMap{
		"json": func(s string) (string, error) {
			b, err := json.Marshal(s)
			return string(b), err
		},
		"query": url.QueryEscape,
	}).Parse(cfg.Body)
	if err != nil {
		return nil, fmt.Errorf("sms gateway: body template: %w", err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 15 * time.Second}
	}
	return &HTTPGateway{cfg: cfg, body: tmpl}, nil
}

// SendSMS implements Notifier.
func (g *HTTPGateway) SendSMS(ctx context.Context, m SMS) error {
	var body bytes.Buffer
	if err := g.body.Execute(&body, m); err != nil {
		return fmt.Errorf("sms gateway: body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, g.cfg.Method, g.cfg.URL, &body)
	if err != nil {
		return fmt.Errorf("sms gateway: %w", err)
	}
	for k, v := range g.cfg.Headers {
		req.Header.Set(k, v)
	}
	return checkResponse("sms gateway", g.cfg.Client, req, g.cfg.SuccessStatus, g.cfg.SuccessContains)
}

func checkResponse(what string, c *http.Client, req *http.Request, okStatus []int, contains string) error {
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(okStatus) > 0 {
		ok = false
		for _, s := range okStatus {
			ok = ok || s == resp.StatusCode
		}
	}
	if !ok {
		return fmt.Errorf("%s: HTTP status %d", what, resp.StatusCode)
	}
	if contains != "" && !bytes.Contains(b, []byte(contains)) {
		return fmt.Errorf("%s: response does not contain the success marker", what)
	}
	return nil
}

// TwilioConfig describes a Twilio-compatible Messages API.
type TwilioConfig struct {
	BaseURL    string // https://api.twilio.com by default
	AccountSID string
	AuthToken  string
	From       string // sender number or alphanumeric id
	Client     *http.Client
}

// Twilio sends SMS with a form POST to {BaseURL}/2010-04-01/Accounts/{sid}/Messages.json.
type Twilio struct {
	cfg TwilioConfig
}

// NewTwilio checks cfg and returns a sender.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.twilio.com"
	}
	if cfg.AccountSID == "" || cfg.AuthToken == "" || cfg.From == "" {
		return nil, fmt.Errorf("twilio: account sid, auth token and from are required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 15 * time.Second}
	}
	return &Twilio{cfg: cfg}, nil
}

// SendSMS implements Notifier.
func (t *Twilio) SendSMS(ctx context.Context, m SMS) error {
	form := url.Values{"To": {m.To}, "From": {t.cfg.From}, "Body": {m.Text}}
	u := strings.TrimRight(t.cfg.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(t.cfg.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("twilio: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(t.cfg.AccountSID, t.cfg.AuthToken)
	return checkResponse("twilio", t.cfg.Client, req, []int{http.StatusOK, http.StatusCreated}, "")
}
