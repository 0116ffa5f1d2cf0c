// Package testworld assembles, for the tests of the web packages, the parts of a Paraphe
// appliance that sit under its HTTP handlers, as package appliance assembles them: a state
// store with the appliance's Badger options, the key hierarchy of a real key ceremony with its
// CA (CRL and OCSP), TSA and platform seal, a real ledger, the ceremony service and the front
// handler of package web, on an httptest server.
//
// It does not import the web app or the signer's pages, so that their own (internal) tests can
// use it; the caller mounts them. Everything a World opens is closed when its test ends, and
// every World is independent: its own directory, keys, stores and listener.
package testworld

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/pades"
	"github.com/paraphe/paraphe/tsa"
	"github.com/paraphe/paraphe/web"
	"github.com/paraphe/paraphe/web/api"
)

// ReceiptWait is how long the worlds' answers wait for ledger receipts.
const ReceiptWait = 3 * time.Second

// World is the ground of a test appliance: a directory, a state store, a listener (serving
// 404 until Serve), a logger and a ledger.
type World struct {
	T      testing.TB
	Dir    string
	DB     *badger.DB
	Server *httptest.Server
	Logger *slog.Logger
	Ledger *ceremonytest.Ledger
}

// New opens a world in a temporary directory: the state store in Dir/db with the appliance's
// options (synchronous writes) and an in-memory ledger.
func New(t testing.TB) *World {
	t.Helper()
	w := &World{T: t, Dir: t.TempDir(), Logger: Logger(), Ledger: ceremonytest.NewLedger(t)}
	db, err := badger.Open(badgerstore.BadgerOptions(w.Dir+"/db", slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.DB = db
	w.Server = httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(w.Server.Close)
	return w
}

// Logger discards, except warnings and errors on stderr under go test -v.
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// PKI is the appliance's public-key infrastructure: the hierarchy of a key ceremony, the CA
// over the world's state store and the TSA.
type PKI struct {
	Keys *keys.Set
	CA   *ca.CA
	TSA  *tsa.TSA
	// Roots holds the root CA, for verifiers.
	Roots *x509.CertPool
	// Sealer seals with the platform seal certificate, timestamped by the TSA.
	Sealer ceremony.PAdESSealer
	logger *slog.Logger
}

// PKI runs the key ceremony in Dir/keys for the server's URL and opens the CA over the state
// store and the TSA in Dir/tsa. The CA's routes are not mounted: see PKI.Mount.
func (w *World) PKI() *PKI {
	t := w.T
	t.Helper()
	ctx := context.Background()
	set, err := keys.Init(ctx, keys.Options{Dir: w.Dir + "/keys", Passphrase: []byte("test passphrase"), Organization: "Paraphe Test",
		Country: "FR", LedgerKeyName: "paraphe.test", BaseURL: w.Server.URL})
	if err != nil {
		t.Fatalf("key ceremony: %v", err)
	}
	authority, err := ca.New(ctx, ca.Options{Keys: set, DB: w.DB, BaseURL: w.Server.URL, Logger: w.Logger})
	if err != nil {
		t.Fatalf("ca: %v", err)
	}
	p := &PKI{Keys: set, CA: authority, Roots: x509.NewCertPool(), logger: w.Logger}
	p.TSA, err = tsa.New(ctx, tsa.Options{Signer: set.TSASigner, Cert: set.TSA, Chain: p.above(set.TSA), IncludeChain: true,
		StateDir: w.Dir + "/tsa", Logger: w.Logger})
	if err != nil {
		t.Fatalf("tsa: %v", err)
	}
	t.Cleanup(func() { p.TSA.Close() })
	p.Roots.AddCert(set.Root)
	p.Sealer = ceremony.PAdESSealer{Signer: set.SealSigner, Chain: append([]*x509.Certificate{set.Seal}, p.above(set.Seal)...),
		Timestamper: p.TSA, Certs: []*x509.Certificate{set.Root}, Logger: w.Logger}
	return p
}

// above is the chain above a certificate of the hierarchy: the issuing CA if it signed it,
// then the root.
func (p *PKI) above(c *x509.Certificate) []*x509.Certificate {
	if c.CheckSignatureFrom(p.Keys.Issuing) == nil {
		return []*x509.Certificate{p.Keys.Issuing, p.Keys.Root}
	}
	return []*x509.Certificate{p.Keys.Root}
}

// PDF is the PAdES engine, timestamping with the TSA.
func (p *PKI) PDF() ceremony.PAdES {
	return ceremony.PAdES{Timestamper: p.TSA, Certs: []*x509.Certificate{p.Keys.Root}, Logger: p.logger}
}

// Issuer issues the signers' certificates from the CA.
func (p *PKI) Issuer() ceremony.CAIssuer {
	return ceremony.CAIssuer{CA: p.CA, Chain: []*x509.Certificate{p.Keys.Issuing, p.Keys.Root}}
}

// Mount serves the CA's certificates, CRLs and OCSP.
func (p *PKI) Mount() web.Mount {
	return web.Mount{Patterns: []string{"/ca/", "/ocsp", "/ocsp/"}, Handler: p.CA.Handler()}
}

// Evidence builds evidence bundles over the ledger, the CA, the TSA and the platform seal
// applied by svc.
func (p *PKI) Evidence(l *ceremonytest.Ledger, svc *ceremony.Service) *evidence.Builder {
	return &evidence.Builder{
		Ledger: ceremony.EvidenceLedger{Log: l.Log}, Chain: []*x509.Certificate{p.Keys.Issuing, p.Keys.Root},
		TSAChain: append([]*x509.Certificate{p.Keys.TSA}, p.above(p.Keys.TSA)...), SealChain: p.Sealer.Chain, Timestamper: p.TSA,
		Revocation: pades.HTTPRevocation{},
		Seal: func(ctx context.Context, pdf []byte) ([]byte, error) {
			out, _, err := svc.Seal(ctx, pdf, p.Sealer)
			return out, err
		},
	}
}

// CeremonyOptions are the options the worlds' ceremony services share: the world's state store,
// directory, ledger and logger, the given engine, issuer and notifier, and short retries.
func (w *World) CeremonyOptions(pdf ceremony.PDFEngine, issuer ceremony.CertificateIssuer, n ceremony.Notifier) ceremony.Options {
	return ceremony.Options{DB: w.DB, DataDir: w.Dir, Ledger: w.Ledger.Ceremony(), PDF: pdf, Issuer: issuer, Notifier: n,
		BaseURL: w.Server.URL, Organization: "Notaires Associés", Logger: w.Logger, RetryDelays: []time.Duration{10 * time.Millisecond},
		ReceiptWait: ReceiptWait}
}

// Ceremony opens the ceremony service, closed when the test ends.
func (w *World) Ceremony(o ceremony.Options) *ceremony.Service {
	w.T.Helper()
	svc, err := ceremony.New(context.Background(), o)
	if err != nil {
		w.T.Fatal(err)
	}
	w.T.Cleanup(func() { svc.Close() })
	return svc
}

// API is the sender API over svc.
func (w *World) API(svc *ceremony.Service) http.Handler {
	w.T.Helper()
	h, err := api.New(api.Options{Service: svc, DB: w.DB, Logger: w.Logger, ReceiptWait: ReceiptWait})
	if err != nil {
		w.T.Fatal(err)
	}
	return h
}

// Serve serves mounts behind the front handler of package web, with the appliance's default
// body limit (110 MiB) and a minute per request.
func (w *World) Serve(mounts ...web.Mount) {
	w.T.Helper()
	front, err := web.New(web.Options{MaxBodyBytes: 110 << 20, RequestTimeout: time.Minute, Logger: w.Logger, Mounts: mounts})
	if err != nil {
		w.T.Fatal(err)
	}
	w.Server.Config.Handler = front
}

// NewAPIKey registers a new sender API key for the organisation "notaires" and returns it.
func (w *World) NewAPIKey() string {
	w.T.Helper()
	key, err := api.NewKey()
	if err != nil {
		w.T.Fatal(err)
	}
	if err := api.RegisterKey(context.Background(), w.DB, "notaires", key); err != nil {
		w.T.Fatal(err)
	}
	return key
}

// Upload is the multipart body of an envelope upload: the manifest part (none when manifest is
// nil) and a "file" part per file, and its content type.
func Upload(manifest []byte, files map[string][]byte) (body *bytes.Buffer, contentType string) {
	body = new(bytes.Buffer)
	mw := multipart.NewWriter(body)
	if manifest != nil {
		pw, _ := mw.CreateFormField("manifest")
		pw.Write(manifest)
	}
	for name, data := range files {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(data)
	}
	mw.Close()
	return body, mw.FormDataContentType()
}

// Clock is a clock that tests move forward, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
