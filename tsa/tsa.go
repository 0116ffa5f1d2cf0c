package tsa

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Defaults applied by New.
var (
	// PolicyBTSP is the ETSI EN 319 421 best-practices time-stamp policy, 0.4.0.2023.1.1.
	PolicyBTSP = asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1}
)

const (
	defaultAccuracy    = time.Second
	defaultNTPInterval = time.Minute
)

// Options configure a TSA. Signer, Cert and StateDir are required.
type Options struct {
	// Signer is the TSU private key (ECDSA P-256/P-384/P-521 or RSA ≥ 2048; a KMS or PKCS#11
	// signer works). Its public key must be Cert's.
	Signer crypto.Signer
	// Cert is the TSU certificate: extended key usage id-kp-timeStamping, alone and critical
	// (RFC 3161 §2.3). Tokens are refused (systemFailure) outside its validity and outside its
	// privateKeyUsagePeriod, if it has one.
	Cert *x509.Certificate
	// Chain are the certificates above Cert, issuer first, optionally ending with the root.
	// New checks that each certificate is signed by the next. They are served at
	// /tsa/certs.pem after Cert and put into tokens with certReq when IncludeChain is set.
	Chain []*x509.Certificate
	// Policy is the TSA policy written into every token (default PolicyBTSP).
	Policy asn1.ObjectIdentifier
	// AcceptedPolicies are the reqPolicy values a request may name (default: just Policy). A
	// request naming another is refused with unacceptedPolicy; the token always carries Policy.
	AcceptedPolicies []asn1.ObjectIdentifier
	// Accuracy is declared in every token (default 1s). genTime is rounded to whole seconds for
	// an accuracy of 1s or more, else to the largest decimal fraction of a second not above it.
	Accuracy time.Duration
	// IncludeChain adds Chain to the certificates of tokens requested with certReq; without it
	// they carry the TSU certificate only.
	IncludeChain bool
	// Clock is the time source and its trust judgement. Nil means the system clock guarded
	// by NTPServers and by wall-clock step detection.
	Clock Clock
	// NTPServers ("host" or "host:port") are queried every NTPInterval (default 1m) by the
	// default clock. Empty means no NTP check (development): the clock is trusted unless it
	// steps backwards, and New logs a warning.
	NTPServers  []string
	NTPInterval time.Duration
	// MaxOffset bounds |offset| + measurement uncertainty for the default clock. It defaults
	// to, and may not exceed, Accuracy minus the genTime rounding error (half the precision):
	// 500ms for an accuracy of 1s.
	MaxOffset time.Duration
	// StateDir holds the serial-number state; created if missing.
	StateDir string
	// Logger receives operational events (never key material, imprints or nonces); default
	// slog.Default().
	Logger *slog.Logger
	// Registerer receives the TSA's metrics when not nil.
	Registerer prometheus.Registerer
}

// TSA is a running time-stamp authority. Its methods are safe for concurrent use.
type TSA struct {
	enc        *tokenEncoder
	serials    *serialSource
	clock      Clock
	ownClock   *guardedClock // non-nil when New built the clock (Close stops it)
	accepted   []asn1.ObjectIdentifier
	withChain  bool
	accuracy   time.Duration
	certsPEM   []byte
	logger     *slog.Logger
	metrics    *metrics
	registerer prometheus.Registerer
	closeOnce  sync.Once
}

// Status is the TSA's health, for /healthz.
type Status struct {
	// Ready is true when a request would be granted now.
	Ready bool
	// Reason says why not when Ready is false.
	Reason string
	// Clock is the clock's trust state (offset, last check).
	Clock ClockState
	// KeyUsableUntil is the end of the TSU certificate's validity or private-key usage period.
	KeyUsableUntil time.Time
}

// New checks o, takes the next serial boot number from o.StateDir, starts the clock guard and
// returns a TSA. ctx bounds the first NTP measurement.
func New(ctx context.Context, o Options) (*TSA, error) {
	if o.Signer == nil || o.Cert == nil {
		return nil, errors.New("tsa: Signer and Cert are required")
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "tsa")
	if err := checkTSUCertificate(o.Cert, o.Chain); err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	if len(o.Cert.Subject.Country) == 0 || len(o.Cert.Subject.Organization) == 0 {
		logger.Warn("TSU certificate subject lacks countryName or organizationName (ETSI EN 319 422 §6.2)")
	}
	if o.Policy == nil {
		o.Policy = PolicyBTSP
	}
	if o.AcceptedPolicies == nil {
		o.AcceptedPolicies = []asn1.ObjectIdentifier{o.Policy}
	}
	if o.Accuracy == 0 {
		o.Accuracy = defaultAccuracy
	}
	enc, err := newTokenEncoder(o.Signer, o.Cert, o.Chain, o.Policy, o.Accuracy)
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	bound := o.Accuracy - enc.precision/2
	switch {
	case o.MaxOffset == 0:
		o.MaxOffset = bound
	case o.MaxOffset < 0 || o.MaxOffset > bound:
		return nil, fmt.Errorf("tsa: MaxOffset %v must be positive and at most %v (accuracy %v minus half the genTime precision %v)",
			o.MaxOffset, bound, o.Accuracy, enc.precision)
	}
	if o.NTPInterval == 0 {
		o.NTPInterval = defaultNTPInterval
	}
	if o.NTPInterval < time.Second {
		return nil, fmt.Errorf("tsa: NTPInterval %v is below 1s", o.NTPInterval)
	}
	serials, err := newSerialSource(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}

	t := &TSA{
		enc:        enc,
		serials:    serials,
		clock:      o.Clock,
		accepted:   slices.Clone(o.AcceptedPolicies),
		withChain:  o.IncludeChain,
		accuracy:   o.Accuracy,
		logger:     logger,
		registerer: o.Registerer,
	}
	for _, c := range append([]*x509.Certificate{o.Cert}, o.Chain...) {
		t.certsPEM = append(t.certsPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if t.clock == nil {
		t.ownClock = newGuardedClock(ctx, clockConfig{
			servers: o.NTPServers, interval: o.NTPInterval, maxOffset: o.MaxOffset, logger: logger,
		})
		t.clock = t.ownClock
	}
	t.metrics = newMetrics(t.clock)
	if err := t.metrics.register(o.Registerer); err != nil {
		t.metrics.unregister(o.Registerer)
		if t.ownClock != nil {
			t.ownClock.close()
		}
		return nil, fmt.Errorf("tsa: registering metrics: %w", err)
	}
	logger.Info("TSA ready", "policy", o.Policy.String(), "accuracy", o.Accuracy,
		"boot", serials.boot, "ntp_servers", len(o.NTPServers), "key_usable_until", enc.notAfter)
	return t, nil
}

// Close stops the clock guard and unregisters the metrics. The TSA must not be used after.
func (t *TSA) Close() error {
	t.closeOnce.Do(func() {
		if t.ownClock != nil {
			t.ownClock.close()
		}
		t.metrics.unregister(t.registerer)
	})
	return nil
}

// Respond answers one DER TimeStampReq with a DER TimeStampResp: a granted token, or a
// rejection whose failInfo says why. It never returns nil.
func (t *TSA) Respond(ctx context.Context, der []byte) []byte {
	req, fail := parseRequest(der, t.accepted)
	if fail != nil {
		return t.reject(fail)
	}
	resp, fail := t.issue(ctx, req, true)
	if fail != nil {
		return t.reject(fail)
	}
	return resp
}

// Timestamp stamps digest, computed with h (SHA-256, SHA-384 or SHA-512), for the appliance
// itself and returns the DER TimeStampToken (a CMS ContentInfo carrying the TSU certificate,
// plus the chain with IncludeChain). A refusal is a *RefusedError.
func (t *TSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	oid := oidForHash(h)
	if oid == nil {
		fail := refuse(BadAlg, fmt.Sprintf("hash %v is not accepted; use SHA-256, SHA-384 or SHA-512", h))
		t.metrics.refused[fail.FailInfo].Inc()
		return nil, fail
	}
	if len(digest) != h.Size() {
		fail := refuse(BadDataFormat, fmt.Sprintf("digest is %d bytes, %v needs %d", len(digest), h, h.Size()))
		t.metrics.refused[fail.FailInfo].Inc()
		return nil, fail
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(encodeAlgID(oid, true))
		b.AddASN1OctetString(digest)
	})
	mi, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding the message imprint: %w", err)
	}
	token, fail := t.issue(ctx, &request{hash: h, hashed: digest, messageImprint: mi, certReq: true}, false)
	if fail != nil {
		t.metrics.refused[fail.FailInfo].Inc()
		return nil, fail
	}
	return token, nil
}

// issue signs a token for a validated request.
func (t *TSA) issue(ctx context.Context, req *request, wrap bool) ([]byte, *RefusedError) {
	now, err := t.clock.Now()
	if err != nil {
		return nil, refuse(TimeNotAvailable, err.Error())
	}
	if now.Before(t.enc.notBefore) || now.After(t.enc.notAfter) {
		return nil, refuse(SystemFailure, "the TSU key is outside its usage period")
	}
	serial, err := t.serials.next()
	if err != nil {
		t.logger.ErrorContext(ctx, "serial number", "err", err)
		return nil, refuse(SystemFailure, "no serial number available")
	}
	start := time.Now()
	out, err := t.enc.encode(req, t.enc.genTime(now), serial[:], t.withChain, wrap)
	if err != nil {
		t.logger.ErrorContext(ctx, "signing a token failed", "err", err)
		return nil, refuse(SystemFailure, "the TSU could not sign")
	}
	t.metrics.signing.Observe(time.Since(start).Seconds())
	t.metrics.issued.Inc()
	return out, nil
}

// reject counts and encodes a refusal. The client learns what was wrong with its request; for
// the TSA's own state (clock, key, signer) it gets a fixed text, the details being in Status,
// the metrics and the clock guard's log, which records each change of state once rather than
// once per request.
func (t *TSA) reject(fail *RefusedError) []byte {
	t.metrics.refused[fail.FailInfo].Inc()
	text := fail.Reason
	switch fail.FailInfo {
	case TimeNotAvailable:
		text = "the TSA's clock is not trusted at the moment"
	case SystemFailure:
		text = "the TSA cannot issue tokens at the moment"
	}
	return encodeRejection(fail.FailInfo, text)
}

// Status reports whether the TSA would issue a token now, and the clock's state.
func (t *TSA) Status() Status {
	cs := t.clock.State()
	s := Status{Ready: cs.Trusted, Clock: cs, KeyUsableUntil: t.enc.notAfter}
	if !cs.Trusted {
		s.Reason = "clock not trusted (" + cs.Cause + "): " + cs.Reason
		return s
	}
	if now, err := t.clock.Now(); err == nil && (now.Before(t.enc.notBefore) || now.After(t.enc.notAfter)) {
		s.Ready = false
		s.Reason = fmt.Sprintf("TSU key usable only from %s to %s", t.enc.notBefore.UTC().Format(time.RFC3339), t.enc.notAfter.UTC().Format(time.RFC3339))
	}
	return s
}

// CertificatesPEM returns the TSU certificate followed by Chain, PEM-encoded (what
// GET /tsa/certs.pem serves).
func (t *TSA) CertificatesPEM() []byte { return slices.Clone(t.certsPEM) }

// checkTSUCertificate applies RFC 3161 §2.3 and EN 319 422 §6 to the TSU certificate and checks
// that the chain links up.
func checkTSUCertificate(cert *x509.Certificate, chain []*x509.Certificate) error {
	if err := checkTimeStampingEKU(cert); err != nil {
		return fmt.Errorf("TSU certificate %q: %w", cert.Subject, err)
	}
	if cert.IsCA {
		return fmt.Errorf("TSU certificate %q is a CA certificate", cert.Subject)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("TSU certificate %q: key usage lacks digitalSignature", cert.Subject)
	}
	prev := cert
	for i, c := range chain {
		if err := prev.CheckSignatureFrom(c); err != nil {
			return fmt.Errorf("chain[%d] %q did not issue %q: %w", i, c.Subject, prev.Subject, err)
		}
		prev = c
	}
	return nil
}

// checkTimeStampingEKU requires the extended key usage extension to be present, critical and
// to hold id-kp-timeStamping only.
func checkTimeStampingEKU(cert *x509.Certificate) error {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidExtKeyUsage) {
			continue
		}
		if !ext.Critical {
			return errors.New("extended key usage is not critical")
		}
		if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(cert.UnknownExtKeyUsage) != 0 {
			return errors.New("extended key usage must be id-kp-timeStamping alone")
		}
		return nil
	}
	return errors.New("no extended key usage extension (id-kp-timeStamping, critical, is required)")
}
