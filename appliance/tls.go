package appliance

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/paraphe/paraphe/config"
)

// certmagicTLS keeps the listener's certificate with certmagic: issued by our own CA
// (tls.mode internal) or by an ACME CA (tls.mode acme), stored under data_dir/tls and renewed
// before it expires.
func (a *Appliance) certmagicTLS(ctx context.Context) (*tls.Config, error) {
	hosts := a.cfg.TLS.Hostnames
	if len(hosts) == 0 {
		u, err := url.Parse(a.cfg.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("public_url: %w", err)
		}
		hosts = []string{u.Hostname()}
	}
	var cm *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cm, nil },
		Logger:           zap.NewNop(),
	})
	a.closers = append(a.closers, func() error { cache.Stop(); return nil })
	cm = certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: a.cfg.Path("tls")},
		Logger:  zap.NewNop(),
	})
	switch a.cfg.TLS.Mode {
	case config.TLSInternal:
		cm.Issuers = []certmagic.Issuer{a.ca.CertmagicIssuer()}
		// Our own OCSP responder is served by this very listener, not up yet at this point.
		cm.OCSP = certmagic.OCSPConfig{DisableStapling: true}
	case config.TLSACME:
		cm.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(cm, certmagic.ACMEIssuer{
			CA:     a.cfg.TLS.ACME.Directory,
			Email:  a.cfg.TLS.ACME.Email,
			Agreed: a.cfg.TLS.ACME.AgreeTOS,
			Logger: zap.NewNop(),
		})}
	}
	if err := cm.ManageSync(ctx, hosts); err != nil {
		return nil, fmt.Errorf("tls: obtaining a certificate for %v: %w", hosts, err)
	}
	tc := cm.TLSConfig()
	tc.NextProtos = append([]string{"h2", "http/1.1"}, tc.NextProtos...)
	tc.MinVersion = tls.VersionTLS12
	return tc, nil
}
