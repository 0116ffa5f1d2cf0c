package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The OCSP responder (RFC 6960) is written here rather than taken from golang.org/x/crypto/ocsp
// because that package puts template extensions in singleExtensions: a nonce must be echoed in
// responseExtensions (RFC 6960 §4.4.1, RFC 9654), which is where OpenSSL looks for it. Requests
// are parsed strictly with cryptobyte; responses are built with cryptobyte.

// OCSP response statuses (RFC 6960 §4.2.1).
const (
	ocspSuccessful       = 0
	ocspMalformedRequest = 1
	ocspInternalError    = 2
	ocspTryLater         = 3
	ocspUnauthorized     = 6
)

const (
	maxOCSPCertIDs  = 16  // CertIDs per request
	maxOCSPNonceLen = 128 // RFC 9654
)

var (
	oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	hashOIDs     = map[string]crypto.Hash{
		asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}.String():             crypto.SHA1,
		asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}.String(): crypto.SHA256,
		asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}.String(): crypto.SHA384,
		asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}.String(): crypto.SHA512,
	}
)

// errorResponse returns an unsigned OCSPResponse with a non-successful status.
func errorResponse(status int) []byte {
	return []byte{0x30, 0x03, 0x0a, 0x01, byte(status)}
}

type issuerHash struct{ name, key []byte }

// issuerHashes precomputes, for every hash a CertID may use, the hashes of the issuing CA's
// name and public key.
func issuerHashes(issuer *x509.Certificate) (map[crypto.Hash]issuerHash, error) {
	var spki struct {
		Algo      pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, err
	}
	out := map[crypto.Hash]issuerHash{}
	for _, h := range hashOIDs {
		n, k := h.New(), h.New()
		n.Write(issuer.RawSubject)
		k.Write(spki.PublicKey.RightAlign())
		out[h] = issuerHash{n.Sum(nil), k.Sum(nil)}
	}
	return out, nil
}

// ocspCertID is one CertID of a request, with its DER kept to be echoed in the response.
type ocspCertID struct {
	raw      []byte
	hash     crypto.Hash // 0 when the algorithm is not one we know
	nameHash []byte
	keyHash  []byte
	serial   *big.Int
}

type ocspRequest struct {
	certs []ocspCertID
	nonce []byte // extnValue of the nonce extension, echoed verbatim; nil if absent
}

var errMalformed = errors.New("malformed OCSP request")

// parseOCSPRequest parses an OCSPRequest (RFC 6960 §4.1.1) strictly: DER only, no trailing
// bytes, version v1, at least one and at most maxOCSPCertIDs CertIDs, a nonce of 1 to 128
// octets, no unknown critical extension. A signature, if present, is ignored.
func parseOCSPRequest(der []byte) (*ocspRequest, error) {
	in := cryptobyte.String(der)
	var outer, tbs cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !in.Empty() ||
		!outer.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!outer.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !outer.Empty() {
		return nil, errMalformed
	}
	var ver cryptobyte.String
	var hasVer bool
	if !tbs.ReadOptionalASN1(&ver, &hasVer, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errMalformed
	}
	if hasVer {
		var v int64
		if !ver.ReadASN1Integer(&v) || !ver.Empty() || v != 0 {
			return nil, errMalformed
		}
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) { // requestorName
		return nil, errMalformed
	}
	var list cryptobyte.String
	if !tbs.ReadASN1(&list, cbasn1.SEQUENCE) {
		return nil, errMalformed
	}
	req := &ocspRequest{}
	for !list.Empty() {
		if len(req.certs) == maxOCSPCertIDs {
			return nil, errMalformed
		}
		var r, rawID cryptobyte.String
		if !list.ReadASN1(&r, cbasn1.SEQUENCE) || !r.ReadASN1Element(&rawID, cbasn1.SEQUENCE) {
			return nil, errMalformed
		}
		id, err := parseCertID(rawID)
		if err != nil {
			return nil, err
		}
		var exts cryptobyte.String
		var hasExts bool
		if !r.ReadOptionalASN1(&exts, &hasExts, cbasn1.Tag(0).Constructed().ContextSpecific()) || !r.Empty() {
			return nil, errMalformed
		}
		if hasExts {
			if err := parseExtensions(exts, func(oid asn1.ObjectIdentifier, critical bool, _ []byte) error {
				if critical {
					return errMalformed
				}
				return nil
			}); err != nil {
				return nil, err
			}
		}
		req.certs = append(req.certs, id)
	}
	if len(req.certs) == 0 {
		return nil, errMalformed
	}
	var exts cryptobyte.String
	var hasExts bool
	if !tbs.ReadOptionalASN1(&exts, &hasExts, cbasn1.Tag(2).Constructed().ContextSpecific()) || !tbs.Empty() {
		return nil, errMalformed
	}
	if hasExts {
		err := parseExtensions(exts, func(oid asn1.ObjectIdentifier, critical bool, value []byte) error {
			switch {
			case oid.Equal(oidOCSPNonce):
				if req.nonce != nil {
					return errMalformed
				}
				// RFC 9654: extnValue holds Nonce ::= OCTET STRING (SIZE(1..128)). Older
				// clients put the raw nonce in extnValue; accept it with the same bounds.
				n := cryptobyte.String(value)
				var inner []byte
				if !(n.ReadASN1Bytes(&inner, cbasn1.OCTET_STRING) && n.Empty()) {
					inner = value
				}
				if len(inner) < 1 || len(inner) > maxOCSPNonceLen {
					return errMalformed
				}
				req.nonce = append([]byte(nil), value...)
			case critical:
				return errMalformed
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return req, nil
}

func parseCertID(raw cryptobyte.String) (ocspCertID, error) {
	id := ocspCertID{raw: append([]byte(nil), raw...)}
	var seq, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	id.serial = new(big.Int)
	if !raw.ReadASN1(&seq, cbasn1.SEQUENCE) ||
		!seq.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) ||
		!seq.ReadASN1Bytes(&id.nameHash, cbasn1.OCTET_STRING) ||
		!seq.ReadASN1Bytes(&id.keyHash, cbasn1.OCTET_STRING) ||
		!seq.ReadASN1Integer(id.serial) || !seq.Empty() {
		return id, errMalformed
	}
	// Parameters: absent or NULL.
	if !alg.Empty() && !(alg.SkipASN1(cbasn1.NULL) && alg.Empty()) {
		return id, errMalformed
	}
	id.hash = hashOIDs[oid.String()]
	return id, nil
}

// parseExtensions walks Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension.
func parseExtensions(s cryptobyte.String, fn func(asn1.ObjectIdentifier, bool, []byte) error) error {
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() || seq.Empty() {
		return errMalformed
	}
	seen := map[string]bool{}
	for !seq.Empty() {
		var ext cryptobyte.String
		var oid asn1.ObjectIdentifier
		var critical bool
		var value []byte
		if !seq.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) ||
			!ext.ReadOptionalASN1Boolean(&critical, cbasn1.BOOLEAN, false) ||
			!ext.ReadASN1Bytes(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return errMalformed
		}
		if seen[oid.String()] {
			return errMalformed
		}
		seen[oid.String()] = true
		if err := fn(oid, critical, value); err != nil {
			return err
		}
	}
	return nil
}

// responder signs OCSP responses with the OCSP responder certificate's key.
type responder struct {
	cert    *x509.Certificate
	signer  crypto.Signer
	hash    crypto.Hash
	algDER  []byte // AlgorithmIdentifier
	idByKey []byte // SHA-1 of the responder's public key, for ResponderID byKey
}

func newResponder(cert *x509.Certificate, signer crypto.Signer) (responder, error) {
	r := responder{cert: cert, signer: signer}
	var b cryptobyte.Builder
	switch k := signer.Public().(type) {
	case *ecdsa.PublicKey:
		var oid asn1.ObjectIdentifier
		switch k.Curve {
		case elliptic.P256():
			r.hash, oid = crypto.SHA256, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
		case elliptic.P384():
			r.hash, oid = crypto.SHA384, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
		default:
			return r, errors.New("ca: unsupported OCSP responder curve")
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	case *rsa.PublicKey:
		r.hash = crypto.SHA256
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11})
			b.AddASN1NULL()
		})
	default:
		return r, fmt.Errorf("ca: unsupported OCSP responder key %T", signer.Public())
	}
	var err error
	if r.algDER, err = b.Bytes(); err != nil {
		return r, err
	}
	var spki struct {
		Algo      pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return r, err
	}
	h := sha1.Sum(spki.PublicKey.RightAlign())
	r.idByKey = h[:]
	if pk, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pk.Equal(signer.Public()) {
		return r, errors.New("ca: the OCSP responder key does not match its certificate")
	}
	return r, nil
}

// singleStatus is the status to put in one SingleResponse.
type singleStatus struct {
	id        *ocspCertID
	status    string // StatusGood, StatusRevoked or "unknown"
	revokedAt time.Time
	reason    int
	next      time.Time // nextUpdate
}

const statusUnknown = "unknown"

// sign builds and signs a successful BasicOCSPResponse.
func (r *responder) sign(producedAt, thisUpdate time.Time, singles []singleStatus, nonce []byte) ([]byte, error) {
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // byKey
			b.AddASN1OctetString(r.idByKey)
		})
		b.AddASN1GeneralizedTime(producedAt)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, s := range singles {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(s.id.raw)
					switch s.status {
					case StatusGood:
						b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(*cryptobyte.Builder) {})
					case StatusRevoked:
						b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1GeneralizedTime(s.revokedAt.UTC())
							if s.reason != ReasonUnspecified {
								b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddASN1Enum(int64(s.reason))
								})
							}
						})
					default:
						b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(*cryptobyte.Builder) {})
					}
					b.AddASN1GeneralizedTime(thisUpdate)
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1GeneralizedTime(s.next)
					})
				})
			}
		})
		if nonce != nil {
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidOCSPNonce)
						b.AddASN1OctetString(nonce)
					})
				})
			})
		}
	})
	tbsDER, err := tbs.Bytes()
	if err != nil {
		return nil, err
	}
	h := r.hash.New()
	h.Write(tbsDER)
	sig, err := r.signer.Sign(rand.Reader, h.Sum(nil), r.hash)
	if err != nil {
		return nil, fmt.Errorf("ca: signing the OCSP response: %w", err)
	}
	var basic cryptobyte.Builder
	basic.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddBytes(r.algDER)
		b.AddASN1BitString(sig)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(r.cert.Raw) })
		})
	})
	basicDER, err := basic.Bytes()
	if err != nil {
		return nil, err
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Enum(ocspSuccessful)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidOCSPBasic)
				b.AddASN1OctetString(basicDER)
			})
		})
	})
	return out.Bytes()
}

// OCSP result labels, for metrics and for the caller.
const (
	resultGood         = "good"
	resultRevoked      = "revoked"
	resultUnknown      = "unknown"
	resultMalformed    = "malformed"
	resultUnauthorized = "unauthorized"
	resultError        = "error"
)

// ocspAnswer is a response and what it said.
type ocspAnswer struct {
	der        []byte
	result     string
	cacheable  bool      // successful and without a nonce
	thisUpdate time.Time // for HTTP caching headers
	nextUpdate time.Time
}

// RespondOCSP answers a DER OCSPRequest with a DER OCSPResponse. It never fails: malformed
// input yields malformedRequest, a request about another issuer unauthorized, an internal
// failure internalError.
func (c *CA) RespondOCSP(ctx context.Context, der []byte) []byte {
	return c.respondOCSP(ctx, der).der
}

func (c *CA) respondOCSP(ctx context.Context, der []byte) ocspAnswer {
	a := c.answerOCSP(ctx, der)
	c.m.ocsp.WithLabelValues(a.result).Inc()
	return a
}

func (c *CA) answerOCSP(ctx context.Context, der []byte) ocspAnswer {
	req, err := parseOCSPRequest(der)
	if err != nil {
		return ocspAnswer{der: errorResponse(ocspMalformedRequest), result: resultMalformed}
	}
	now := c.now().UTC().Truncate(time.Second)
	next := now.Add(c.ocspV)
	minNext := next
	singles := make([]singleStatus, len(req.certs))
	for i := range req.certs {
		id := &req.certs[i]
		ih, ok := c.issuerHashes[id.hash]
		if !ok || !bytes.Equal(ih.key, id.keyHash) || !bytes.Equal(ih.name, id.nameHash) {
			return ocspAnswer{der: errorResponse(ocspUnauthorized), result: resultUnauthorized}
		}
		singles[i] = singleStatus{id: id, status: statusUnknown, next: next}
		if id.serial.Sign() <= 0 {
			continue
		}
		rec, err := c.Lookup(ctx, id.serial)
		switch {
		case errors.Is(err, ErrUnknownSerial):
			continue
		case err != nil:
			c.log.LogAttrs(ctx, slog.LevelError, "OCSP lookup failed", slog.String("error", err.Error()))
			return ocspAnswer{der: errorResponse(ocspTryLater), result: resultError}
		case rec.Status == StatusRevoked:
			singles[i].status, singles[i].revokedAt, singles[i].reason = StatusRevoked, rec.RevokedAt, rec.Reason
		default:
			singles[i].status = StatusGood
		}
		// A status is not announced past the certificate's own end (clients such as
		// certmagic reject a response that outlives the certificate).
		if rec.NotAfter.After(now) && rec.NotAfter.Before(next) {
			singles[i].next = rec.NotAfter
			if rec.NotAfter.Before(minNext) {
				minNext = rec.NotAfter
			}
		}
	}
	resp, err := c.responder.sign(now, now, singles, req.nonce)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelError, "OCSP signing failed", slog.String("error", err.Error()))
		return ocspAnswer{der: errorResponse(ocspInternalError), result: resultError}
	}
	result := resultGood // the worst status of the response, for metrics
	for _, s := range singles {
		switch {
		case s.status == StatusRevoked:
			result = resultRevoked
		case s.status == statusUnknown && result == resultGood:
			result = resultUnknown
		}
	}
	return ocspAnswer{der: resp, result: result, cacheable: req.nonce == nil, thisUpdate: now, nextUpdate: minNext}
}
