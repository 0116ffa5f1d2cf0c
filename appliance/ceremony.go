package appliance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/config"
	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/pades"
	"github.com/paraphe/paraphe/web/admin"
	"github.com/paraphe/paraphe/web/api"
	"github.com/paraphe/paraphe/web/signer"
	"github.com/paraphe/paraphe/web/signerui"
	"github.com/paraphe/paraphe/web/verifyui"
)

// openCeremony opens the signing ceremony over the state store with the real ledger, CA, TSA
// and PAdES engine, its notifiers (the outbox in development), the sender API and the signer's
// protocol, and starts its scheduler (expiry, reminders, webhook retries, resumed signing).
func (a *Appliance) openCeremony(ctx context.Context) error {
	notifier, err := a.notifier()
	if err != nil {
		return err
	}
	root := []*x509.Certificate{a.keys.Root}
	// Revocation data for the DSS comes from the CA in process (its CRL and OCSP, the root CRL of
	// the key set), not over HTTP from the appliance to itself; a third party's certificate in a
	// PDF being sealed is looked up over HTTP.
	rev := a.ca.RevocationSource(pades.HTTPRevocation{})
	// The web app's organisations brand the envelopes they send (name and logo for signers).
	accounts, err := admin.NewAccounts(a.state, admin.AccountsOptions{Secrets: a.keys.DataKey()})
	if err != nil {
		return err
	}
	svc, err := ceremony.New(ctx, ceremony.Options{
		DB:           a.state,
		DataDir:      a.cfg.DataDir,
		Ledger:       ceremony.LogLedger{Log: a.ledger},
		PDF:          ceremony.PAdES{Timestamper: a.tsa, Revocation: rev, Certs: root, Logger: a.log},
		Issuer:       ceremony.CAIssuer{CA: a.ca, Chain: []*x509.Certificate{a.keys.Issuing, a.keys.Root}},
		Notifier:     notifier,
		BaseURL:      a.cfg.PublicURL,
		Organization: a.cfg.Organization.Name,
		Brands:       accounts,
		Logger:       a.log.With("component", "ceremony"),
		Secrets:      a.keys.DataKey(), // seals webhook secrets in the state store
	})
	if err != nil {
		return err
	}
	a.ceremony = svc
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(runCtx, time.Second) }()
	a.closers = append(a.closers, func() error { stop(); <-done; return svc.Close() })

	if a.cfg.BootstrapAPIKey != "" {
		if err := api.RegisterKey(ctx, a.state, "bootstrap", a.cfg.BootstrapAPIKey); err != nil {
			return fmt.Errorf("bootstrap_api_key: %w", err)
		}
		a.log.Info("bootstrap API key registered")
	}
	var outbox *ceremony.Outbox
	if a.cfg.Mode == config.ModeDevelopment {
		outbox = a.outbox
	}
	sealer := ceremony.PAdESSealer{
		Signer:      a.keys.SealSigner,
		Chain:       sealChain(a),
		Timestamper: a.tsa,
		Revocation:  rev,
		Certs:       root,
		Logger:      a.log,
	}
	ev := &evidence.Builder{
		Ledger:      ceremony.EvidenceLedger{Log: a.ledger},
		Chain:       []*x509.Certificate{a.keys.Issuing, a.keys.Root},
		TSAChain:    append([]*x509.Certificate{a.keys.TSA}, tsaChain(a)...),
		SealChain:   sealer.Chain,
		Timestamper: a.tsa,
		Revocation:  rev,
		Seal: func(ctx context.Context, pdf []byte) ([]byte, error) {
			out, _, err := svc.Seal(ctx, pdf, sealer)
			return out, err
		},
	}
	a.api, err = api.New(api.Options{
		Service:   svc,
		DB:        a.state,
		Outbox:    outbox,
		Sealer:    sealer,
		Evidence:  ev,
		Retention: retention(a.cfg.Ceremony.Retention),
		Logger:    a.log.With("component", "api"),
	})
	if err != nil {
		return err
	}
	secure := a.cfg.TLS.Mode != config.TLSOff
	pages, err := signerui.New(signerui.Options{Service: svc, Secure: secure, ReadDwell: readDwell(a.cfg.Ceremony.ReadDwell),
		Logger: a.log.With("component", "signerui")})
	if err != nil {
		return err
	}
	a.signer = signer.New(signer.Options{Service: svc, Secure: secure, Page: pages, Evidence: ev, Logger: a.log.With("component", "signer")})
	roots := x509.NewCertPool()
	roots.AddCert(a.keys.Root)
	if a.verify, err = verifyui.New(verifyui.Options{Roots: roots, LedgerKey: a.keys.LedgerVerifierKey, Logger: a.log.With("component", "verify")}); err != nil {
		return err
	}
	pdfjs := ""
	if pages.ViewerEmbedded() {
		pdfjs = pages.AssetBase() + "pdfjs/"
	}
	app, err := admin.New(admin.Options{
		Service:  svc,
		DB:       a.state,
		Accounts: accounts,
		Notifier: notifier,
		PDFJS:    pdfjs,
		Evidence: ev,
		Secure:   secure,
		Secrets:  a.keys.DataKey(), // seals TOTP and organisation webhook secrets
		Logger:   a.log.With("component", "admin"),
	})
	if err != nil {
		return err
	}
	if b := a.cfg.BootstrapAdmin; b.Email != "" {
		_, created, err := app.Accounts().Bootstrap(ctx, b.Organization, b.Email, b.Password)
		if err != nil {
			return fmt.Errorf("bootstrap_admin: %w", err)
		}
		if created {
			a.log.Info("bootstrap administrator created", "organization", b.Organization)
		}
	}
	if a.cfg.Mode == config.ModeDevelopment {
		if err := a.devAccess(ctx, app.Accounts()); err != nil {
			return err
		}
	}
	a.admin = app
	return nil
}

// sealChain is the platform seal certificate and its issuers up to the root.
func sealChain(a *Appliance) []*x509.Certificate {
	chain := []*x509.Certificate{a.keys.Seal}
	if a.keys.Seal.CheckSignatureFrom(a.keys.Issuing) == nil {
		chain = append(chain, a.keys.Issuing)
	}
	return append(chain, a.keys.Root)
}

// notifier sends emails over SMTP and SMS through the configured gateway; in development
// whatever has no server configured goes to the outbox.
func (a *Appliance) notifier() (ceremony.Notifier, error) {
	var n ceremony.Notifiers
	if a.cfg.SMTP.Host == "" || a.cfg.SMS.Provider == "outbox" {
		a.outbox = ceremony.NewOutbox(a.state, nil)
	}
	if a.cfg.SMTP.Host == "" {
		n.Mail = a.outbox
	} else {
		sc := ceremony.SMTPConfig{
			Host: a.cfg.SMTP.Host, Port: a.cfg.SMTP.ServerPort(), TLS: a.cfg.SMTP.Security,
			Username: a.cfg.SMTP.Username, Password: a.cfg.SMTP.Password, From: a.cfg.SMTP.From,
		}
		if a.cfg.SMTP.CAFile != "" {
			b, err := os.ReadFile(a.cfg.SMTP.CAFile)
			if err != nil {
				return nil, fmt.Errorf("smtp.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("smtp.ca_file: %s holds no PEM certificate", a.cfg.SMTP.CAFile)
			}
			sc.TLSConfig = &tls.Config{RootCAs: pool, ServerName: a.cfg.SMTP.Host, MinVersion: tls.VersionTLS12}
		}
		m, err := ceremony.NewSMTPMailer(sc)
		if err != nil {
			return nil, fmt.Errorf("smtp: %w", err)
		}
		n.Mail = m
	}
	switch a.cfg.SMS.Provider {
	case "outbox":
		n.Text = a.outbox
	case "http":
		h := a.cfg.SMS.HTTP
		// The success condition: one of the statuses (any 2xx when none is listed) and, when
		// set, the marker in the response body.
		g, err := ceremony.NewHTTPGateway(ceremony.HTTPGatewayConfig{URL: h.URL, Method: h.Method, Headers: h.Headers, Body: h.Body,
			SuccessStatus: []int(h.SuccessStatus), SuccessContains: h.SuccessContains})
		if err != nil {
			return nil, fmt.Errorf("sms.http: %w", err)
		}
		n.Text = g
	case "twilio":
		t := a.cfg.SMS.Twilio
		g, err := ceremony.NewTwilio(ceremony.TwilioConfig{BaseURL: t.BaseURL, AccountSID: t.AccountSID, AuthToken: t.AuthToken, From: t.From})
		if err != nil {
			return nil, fmt.Errorf("sms.twilio: %w", err)
		}
		n.Text = g
	default:
		return nil, fmt.Errorf("sms.provider: unknown provider %q", a.cfg.SMS.Provider)
	}
	return n, nil
}

// retention maps the configuration's 0 ("erasable at once") to the API's "no retention".
func retention(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// readDwell maps the configuration's 0 ("reported as soon as it is visible") to the pages' "no
// dwell" (their 0 is the default).
func readDwell(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
