package appliance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paraphe/paraphe/config"
)

// Serve listens on the configured addresses and serves until ctx is done, then drains
// in-flight requests (up to http.shutdown_timeout) and returns. ready, when not nil, receives
// the bound addresses once both listeners accept connections (useful with port 0).
func (a *Appliance) Serve(ctx context.Context, ready func(listen, metrics net.Addr)) error {
	cfg := a.cfg
	tlsConf, err := a.tlsConfig(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slogErrorLog(a.log),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go a.watchRootCRL(wctx, rootCRLPoll)
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()

	var metricsAddr net.Addr
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			srv.Close()
			return fmt.Errorf("metrics_listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}))
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		servers = append(servers, msrv)
		metricsAddr = mln.Addr()
		go func() { errc <- msrv.Serve(mln) }()
	}
	a.log.Info("serving", "listen", ln.Addr().String(), "tls", cfg.TLS.Mode, "metrics", addrString(metricsAddr),
		"public_url", cfg.PublicURL, "version", a.version)
	if ready != nil {
		ready(ln.Addr(), metricsAddr)
	}

	select {
	case err := <-errc:
		for _, s := range servers {
			s.Close()
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down: draining in-flight requests", "timeout", cfg.HTTP.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func addrString(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}

// tlsConfig returns nil for tls.mode off.
func (a *Appliance) tlsConfig(ctx context.Context) (*tls.Config, error) {
	switch a.cfg.TLS.Mode {
	case config.TLSOff:
		return nil, nil
	case config.TLSInternal, config.TLSACME:
		return a.certmagicTLS(ctx)
	}
	return nil, fmt.Errorf("tls.mode: unknown mode %q", a.cfg.TLS.Mode)
}
