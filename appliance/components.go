package appliance

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/config"
	"github.com/paraphe/paraphe/ledger"
	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/tsa"
	"github.com/paraphe/paraphe/web"
	"github.com/paraphe/paraphe/web/api"
)

// openCA opens the certificate authority over the state store.
func (a *Appliance) openCA(ctx context.Context) error {
	policies, err := parseOIDs(a.cfg.CA.Policies)
	if err != nil {
		return fmt.Errorf("ca.policies: %w", err)
	}
	a.ca, err = ca.New(ctx, ca.Options{
		Keys:           a.keys,
		DB:             a.state,
		BaseURL:        a.cfg.PublicURL,
		SignerValidity: a.cfg.CA.SignerValidity,
		CRLValidity:    a.cfg.CA.CRLValidity,
		Policies:       policies,
		Logger:         a.log.With("component", "ca"),
		Registerer:     a.registry,
	})
	return err
}

// openTSA starts the timestamp authority with the TSU key of the hierarchy.
func (a *Appliance) openTSA(ctx context.Context) error {
	policy, err := parseOID(a.cfg.TSA.Policy)
	if err != nil {
		return fmt.Errorf("tsa.policy: %w", err)
	}
	t, err := tsa.New(ctx, tsa.Options{
		Signer:       a.keys.TSASigner,
		Cert:         a.keys.TSA,
		Chain:        tsaChain(a),
		Policy:       policy,
		Accuracy:     a.cfg.TSA.Accuracy,
		IncludeChain: a.cfg.TSA.IncludeChain,
		NTPServers:   a.cfg.TSA.NTPServers,
		NTPInterval:  a.cfg.TSA.NTPInterval,
		StateDir:     a.cfg.Path("tsa"),
		Logger:       a.log,
		Registerer:   a.registry,
	})
	if err != nil {
		return err
	}
	a.tsa = t
	a.closers = append(a.closers, t.Close)
	return nil
}

// tsaChain is the chain above the TSU certificate: its issuer up to the root.
func tsaChain(a *Appliance) []*x509.Certificate {
	chain := []*x509.Certificate{}
	if a.keys.TSA.CheckSignatureFrom(a.keys.Issuing) == nil {
		chain = append(chain, a.keys.Issuing)
	}
	return append(chain, a.keys.Root)
}

// openLedger opens the ledger on its own Badger store and records the appliance's life in it:
// appliance.initialized once (the digests of every certificate of the key ceremony) and
// appliance.started at every start.
func (a *Appliance) openLedger(ctx context.Context) error {
	store, err := badgerstore.Open(ctx, a.cfg.Path("ledger"), badgerstore.Options{Logger: a.log.With("component", "ledger-storage")})
	if err != nil {
		return fmt.Errorf("ledger storage: %w", err)
	}
	a.ledgerStore = store
	a.closers = append(a.closers, store.Close)
	l, err := ledger.Open(ctx, ledger.Options{
		Storage:            ledger.NewBadgerStorage(store),
		Origin:             a.cfg.Ledger.Origin,
		Signer:             a.keys.LedgerSigner,
		VerifierKey:        a.keys.LedgerVerifierKey,
		Timestamper:        a.tsa,
		GroupCommitWindow:  a.cfg.Ledger.GroupCommitWindow,
		CheckpointInterval: a.cfg.Ledger.CheckpointInterval,
		Logger:             a.log,
		Registerer:         a.registry,
	})
	if err != nil {
		return err
	}
	a.ledger = l
	a.closers = append(a.closers, l.Close)
	return a.recordLife(ctx)
}

// initializedKey marks, in the state store, that appliance.initialized is durably in the
// ledger. The event goes first: a crash in between logs it twice (two ids), never zero times.
var initializedKey = []byte("appliance/initialized-event")

func (a *Appliance) recordLife(ctx context.Context) error {
	err := a.state.View(func(txn *badger.Txn) error {
		_, err := txn.Get(initializedKey)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		digests := map[string]string{}
		for name, d := range a.keys.Digests() {
			digests[name] = hex.EncodeToString(d[:])
		}
		e, err := event.New(event.ApplianceInitialized, a.now(), "", "", map[string]any{
			"certificates": digests,
			"ledger_key":   a.keys.LedgerVerifierKey,
		})
		if err != nil {
			return err
		}
		p, err := a.ledger.Append(ctx, e)
		if err != nil {
			return fmt.Errorf("ledger: recording appliance.initialized: %w", err)
		}
		if err := a.state.Update(func(txn *badger.Txn) error { return txn.Set(initializedKey, []byte(p.ID)) }); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	e, err := event.New(event.ApplianceStarted, a.now(), "", "", map[string]any{"version": a.version})
	if err != nil {
		return err
	}
	if _, err := a.ledger.Append(ctx, e); err != nil {
		return fmt.Errorf("ledger: recording appliance.started: %w", err)
	}
	return nil
}

func parseOIDs(ss []string) ([]asn1.ObjectIdentifier, error) {
	var out []asn1.ObjectIdentifier
	for _, s := range ss {
		o, err := parseOID(s)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var o asn1.ObjectIdentifier
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a dotted OID", s)
		}
		o = append(o, n)
	}
	if len(o) < 2 {
		return nil, fmt.Errorf("%q is not a dotted OID", s)
	}
	return o, nil
}

// devMounts are the routes that exist in development only: the outbox page (GET /dev/outbox,
// behind an API key like GET /api/v1/outbox). In production there are none, so /dev/outbox is
// the front's 404.
func (a *Appliance) devMounts() []web.Mount {
	if a.cfg.Mode != config.ModeDevelopment || a.outbox == nil {
		return nil
	}
	h, err := api.OutboxPage(api.OutboxPageOptions{Outbox: a.outbox, DB: a.state, Logger: a.log.With("component", "outbox")})
	if err != nil { // cannot happen: the outbox and the state store are open
		a.log.Error("outbox page", "err", err)
		return nil
	}
	return []web.Mount{{Patterns: []string{api.OutboxPagePath}, Handler: h}}
}
