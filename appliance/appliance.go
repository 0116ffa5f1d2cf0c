// Package appliance assembles one Paraphe appliance from its configuration: the key
// hierarchy, the state store, the CA, the TSA, the ledger and the ceremony, behind the one
// HTTP listener of package web, plus the metrics listener.
//
// It guarantees an orderly life: nothing listens before every component is open, SIGTERM (the
// context passed to Serve) drains in-flight requests before the stores close, and a failure
// to open any component closes the ones already open.
package appliance

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/config"
	"github.com/paraphe/paraphe/ledger"
	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/tsa"
	"github.com/paraphe/paraphe/web"
	"github.com/paraphe/paraphe/web/admin"
	"github.com/paraphe/paraphe/web/signer"
)

// Appliance is an open appliance, ready to Serve.
type Appliance struct {
	cfg      config.Config
	log      *slog.Logger
	version  string
	registry *prometheus.Registry

	keys        *keys.Set
	state       *badger.DB
	ca          *ca.CA
	tsa         *tsa.TSA
	ledgerStore *badgerstore.Store
	ledger      *ledger.Log
	ceremony    *ceremony.Service
	outbox      *ceremony.Outbox
	api, signer http.Handler
	verify      http.Handler
	admin       http.Handler
	now         func() time.Time

	handler http.Handler
	closers []func() error // in opening order; closed in reverse
}

// Open opens every component of the appliance described by cfg. In development it runs the
// key ceremony on first start and says so.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, version string) (_ *Appliance, err error) {
	a := &Appliance{cfg: cfg, log: log, version: version, registry: prometheus.NewRegistry(), now: time.Now}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Mode == config.ModeDevelopment {
		log.Warn("DEVELOPMENT MODE: keys may be generated, emails and SMS go to the outbox; do not use in production",
			"data_dir", cfg.DataDir, "public_url", cfg.PublicURL)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	if a.keys, err = loadKeys(ctx, cfg, log); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.keys.Close)
	if a.state, err = openBadger(cfg.Path("state"), log); err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	a.closers = append(a.closers, a.state.Close)
	if err := a.openCA(ctx); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	if err := a.openTSA(ctx); err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	if err := a.openLedger(ctx); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if err := a.openCeremony(ctx); err != nil {
		return nil, fmt.Errorf("ceremony: %w", err)
	}

	if a.handler, err = web.New(web.Options{
		Mounts:         append(a.mounts(), a.devMounts()...),
		Health:         a.health,
		MaxBodyBytes:   cfg.HTTP.MaxBodyBytes,
		RateLimits:     rateLimits(cfg.HTTP.RateLimit, a.tsa.RejectRateLimited),
		RequestTimeout: cfg.HTTP.WriteTimeout,
		TLS:            cfg.TLS.Mode != config.TLSOff,
		Logger:         log,
		Registerer:     a.registry,
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// Handler is the appliance's HTTP front, for tests and embedding.
func (a *Appliance) Handler() http.Handler { return a.handler }

// Keys is the loaded key hierarchy.
func (a *Appliance) Keys() *keys.Set { return a.keys }

// Close closes every component in reverse opening order.
func (a *Appliance) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

func (a *Appliance) mounts() []web.Mount {
	return []web.Mount{
		{Patterns: []string{"/ca/", "/ocsp", "/ocsp/"}, Handler: a.ca.Handler()},
		{Patterns: []string{"/tsa", "/tsa/"}, Handler: a.tsa.Handler()},
		{Patterns: []string{"/ledger/"}, Handler: a.ledger.Handler()},
		{Patterns: []string{"/api/v1/"}, Handler: a.api},
		{Patterns: []string{"/s/"}, Handler: a.signer},
		{Patterns: []string{"/verify", "/verify/"}, Handler: a.verify},
		{Patterns: []string{admin.Pattern}, Handler: a.admin},
	}
}

func (a *Appliance) health(ctx context.Context) web.Health {
	h := web.Health{Status: "ok", Version: a.version, Components: map[string]string{}}
	set := func(name string, err error) {
		if err != nil {
			h.Components[name] = err.Error()
			h.Status = "degraded"
			return
		}
		h.Components[name] = "ok"
	}
	// An expiring root CRL is a warning for the operator (renew it in a key ceremony); an
	// expired or missing one means relying parties can no longer check the chain.
	if err := a.rootCRLStatus(); errors.Is(err, keys.ErrRootCRLExpiring) {
		h.Components["keys"] = "warning: " + err.Error()
	} else {
		set("keys", err)
	}
	set("state", a.state.View(func(*badger.Txn) error { return nil }))
	if st := a.tsa.Status(); !st.Ready {
		set("tsa", errors.New(st.Reason))
	} else {
		set("tsa", nil)
	}
	_, err := a.ledger.Checkpoint(ctx)
	if err == nil {
		err = a.ledger.Status() // the sequencer failing: appends queue, receipts wait
	}
	set("ledger", err)
	return h
}

// openBadger opens the state store with the same options as the ledger's: synchronous writes,
// so that an acknowledged write is on disk.
func openBadger(dir string, log *slog.Logger) (*badger.DB, error) {
	return badger.Open(badgerstore.BadgerOptions(dir, log))
}

// rateLimits are the front's limits. The protocols that have their own way of saying "later"
// use it, so that a client held back gets an answer it can parse: a time-stamp query gets an
// RFC 3161 rejection (tsaReject), an OCSP request the OCSP status tryLater; the rest get 429.
func rateLimits(c config.RateLimit, tsaReject func(http.ResponseWriter, *http.Request) bool) []web.RateLimit {
	limit := func(perSecond float64, reject func(http.ResponseWriter, *http.Request) bool, prefixes ...string) web.RateLimit {
		return web.RateLimit{Prefixes: prefixes, PerSecond: perSecond, Burst: int(3 * perSecond), Reject: reject}
	}
	// A signer's session is limited too, wherever its requests come from (THREATS: per-token
	// limits on the ceremony): a link shared among many addresses gets no more than one.
	perSession := limit(c.Ceremony, nil, "/s/")
	perSession.Key = signerSession
	return []web.RateLimit{
		limit(c.Ceremony, nil, "/s/"),
		perSession,
		limit(c.API, nil, "/api/"),
		limit(c.TSA, tsaReject, "/tsa"),
		limit(c.OCSP, ocspTryLater, "/ocsp", "/ca/crl"),
		limit(c.Verify, nil, "/verify"),
		limit(c.Admin, nil, admin.Pattern),
	}
}

// signerSession keys a signer's requests by the SHA-256 of their session cookie ("" without
// one: the link's first visit is limited by address only).
func signerSession(r *http.Request) string {
	c, err := r.Cookie(signer.CookieName)
	if err != nil || c.Value == "" {
		return ""
	}
	h := sha256.Sum256([]byte(c.Value))
	return string(h[:])
}

// ocspTryLater answers an OCSP request (GET /ocsp/{request} or POST /ocsp) with the unsigned
// OCSPResponse of status tryLater (RFC 6960 §2.3, §4.2.1); a CRL download gets the default 429.
func ocspTryLater(w http.ResponseWriter, r *http.Request) bool {
	if (r.URL.Path != "/ocsp" && !strings.HasPrefix(r.URL.Path, "/ocsp/")) || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
		return false
	}
	const tryLater = 3
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	h.Set("Cache-Control", "no-store")
	w.Write([]byte{0x30, 0x03, 0x0a, 0x01, tryLater}) // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED }
	return true
}
