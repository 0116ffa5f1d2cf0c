package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of the CMS and ESS structures a token is made of.
var (
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningCertV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrSigningCert     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidECDSAWithSHA256     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256WithRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidExtKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidPrivateKeyUsePeriod = asn1.ObjectIdentifier{2, 5, 29, 16}
)

const (
	cmsSignedDataVersion = 3 // RFC 5652 §5.1: eContentType other than id-data
	signerInfoVersion    = 1 // sid is issuerAndSerialNumber
	tstInfoVersion       = 1
	minRSABits           = 2048
)

// tokenEncoder holds everything of a token that does not change between tokens, encoded once.
type tokenEncoder struct {
	signer  crypto.Signer
	sigHash crypto.Hash

	digestAlg    []byte // AlgorithmIdentifier of sigHash
	sigAlg       []byte // AlgorithmIdentifier of the signature
	sid          []byte // IssuerAndSerialNumber of the TSU certificate
	tsaName      []byte // [0] GeneralName directoryName of the TSU subject
	policy       []byte // OBJECT IDENTIFIER
	accuracy     []byte // Accuracy
	attrCType    []byte // contentType attribute
	attrSignCert []byte // signingCertificateV2 attribute
	certsTSU     []byte // [0] IMPLICIT CertificateSet: the TSU certificate
	certsChain   []byte // [0] IMPLICIT CertificateSet: the TSU certificate and the chain
	precision    time.Duration
	// notAfter is the last instant the TSU key may sign: the certificate's notAfter or the
	// privateKeyUsagePeriod's notAfter, whichever is first.
	notBefore, notAfter time.Time
}

// newTokenEncoder checks the TSU certificate and key and precomputes the constant parts.
func newTokenEncoder(signer crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate,
	policy asn1.ObjectIdentifier, accuracy time.Duration) (*tokenEncoder, error) {
	e := &tokenEncoder{signer: signer, notBefore: cert.NotBefore, notAfter: cert.NotAfter}
	var sigOID asn1.ObjectIdentifier
	rsaParams := false
	switch pub := signer.Public().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			e.sigHash, sigOID = crypto.SHA256, oidECDSAWithSHA256
		case elliptic.P384():
			e.sigHash, sigOID = crypto.SHA384, oidECDSAWithSHA384
		case elliptic.P521():
			e.sigHash, sigOID = crypto.SHA512, oidECDSAWithSHA512
		default:
			return nil, fmt.Errorf("TSU key: ECDSA curve %s is not supported (P-256, P-384, P-521)", pub.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("TSU key: RSA key of %d bits is too small (at least %d)", pub.N.BitLen(), minRSABits)
		}
		e.sigHash, sigOID, rsaParams = crypto.SHA256, oidSHA256WithRSA, true
	default:
		return nil, fmt.Errorf("TSU key: %T is not supported (ECDSA or RSA)", pub)
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, errors.New("TSU key: the signer's public key is not the TSU certificate's")
	}

	e.digestAlg = encodeAlgID(oidForHash(e.sigHash), true)
	e.sigAlg = encodeAlgID(sigOID, rsaParams)

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(cert.RawIssuer)
		b.AddASN1BigInt(cert.SerialNumber)
	})
	e.sid = b.BytesOrPanic()

	b = cryptobyte.Builder{}
	b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddBytes(cert.RawSubject)
		})
	})
	e.tsaName = b.BytesOrPanic()

	b = cryptobyte.Builder{}
	b.AddASN1ObjectIdentifier(policy)
	if e.policy, _ = b.Bytes(); e.policy == nil {
		return nil, fmt.Errorf("policy %v is not a valid OBJECT IDENTIFIER", policy)
	}

	var err error
	if e.accuracy, e.precision, err = encodeAccuracy(accuracy); err != nil {
		return nil, err
	}

	b = cryptobyte.Builder{}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidAttrContentType)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidTSTInfo) })
	})
	e.attrCType = b.BytesOrPanic()

	// SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }
	// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial }
	certHash := sha256.Sum256(cert.Raw)
	b = cryptobyte.Builder{}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidAttrSigningCertV2)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(certHash[:])
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddBytes(cert.RawIssuer)
								})
							})
							b.AddASN1BigInt(cert.SerialNumber)
						})
					})
				})
			})
		})
	})
	e.attrSignCert = b.BytesOrPanic()

	e.certsTSU = encodeCertificateSet([]*x509.Certificate{cert})
	e.certsChain = encodeCertificateSet(append([]*x509.Certificate{cert}, chain...))

	if nb, na, ok, err := privateKeyUsagePeriod(cert); err != nil {
		return nil, err
	} else if ok {
		if !nb.IsZero() && nb.After(e.notBefore) {
			e.notBefore = nb
		}
		if !na.IsZero() && na.Before(e.notAfter) {
			e.notAfter = na
		}
	}
	return e, nil
}

// encodeAlgID returns AlgorithmIdentifier { oid, NULL } or { oid } without parameters.
func encodeAlgID(oid asn1.ObjectIdentifier, withNULL bool) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if withNULL {
			b.AddASN1NULL()
		}
	})
	return b.BytesOrPanic()
}

// encodeAccuracy returns the DER Accuracy for d and the genTime precision that keeps the
// rounding error within half of it: whole seconds for d ≥ 1 s, else the largest power-of-ten
// fraction of a second not above d.
func encodeAccuracy(d time.Duration) ([]byte, time.Duration, error) {
	if d < time.Millisecond || d%time.Microsecond != 0 || d > 1000*time.Hour {
		return nil, 0, fmt.Errorf("accuracy %v must be between 1ms and 1000h, in whole microseconds", d)
	}
	secs := int64(d / time.Second)
	millis := int64(d % time.Second / time.Millisecond)
	micros := int64(d % time.Millisecond / time.Microsecond)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if secs > 0 {
			b.AddASN1Int64(secs)
		}
		if millis > 0 {
			b.AddASN1Int64WithTag(millis, cbasn1.Tag(0).ContextSpecific())
		}
		if micros > 0 {
			b.AddASN1Int64WithTag(micros, cbasn1.Tag(1).ContextSpecific())
		}
	})
	precision := time.Second
	for precision > d {
		precision /= 10
	}
	return b.BytesOrPanic(), precision, nil
}

// encodeCertificateSet returns [0] IMPLICIT SET OF Certificate, sorted as DER requires.
func encodeCertificateSet(certs []*x509.Certificate) []byte {
	raws := make([][]byte, 0, len(certs))
	for _, c := range certs {
		raws = append(raws, c.Raw)
	}
	slices.SortFunc(raws, bytes.Compare)
	raws = slices.CompactFunc(raws, bytes.Equal)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		for _, r := range raws {
			b.AddBytes(r)
		}
	})
	return b.BytesOrPanic()
}

// privateKeyUsagePeriod reads the optional PrivateKeyUsagePeriod extension (RFC 3280 §4.2.1.4):
// SEQUENCE { notBefore [0] GeneralizedTime OPTIONAL, notAfter [1] GeneralizedTime OPTIONAL }.
func privateKeyUsagePeriod(cert *x509.Certificate) (notBefore, notAfter time.Time, ok bool, err error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidPrivateKeyUsePeriod) {
			continue
		}
		var v struct {
			NotBefore time.Time `asn1:"optional,tag:0,generalized"`
			NotAfter  time.Time `asn1:"optional,tag:1,generalized"`
		}
		if rest, err := asn1.Unmarshal(ext.Value, &v); err != nil || len(rest) != 0 {
			return time.Time{}, time.Time{}, false, fmt.Errorf("TSU certificate: malformed privateKeyUsagePeriod extension: %v", err)
		}
		return v.NotBefore, v.NotAfter, true, nil
	}
	return time.Time{}, time.Time{}, false, nil
}

// genTime returns the instant written as genTime for the clock reading now.
func (e *tokenEncoder) genTime(now time.Time) time.Time {
	return now.Round(e.precision).UTC()
}

// encode builds and signs the token for req at genTime gt with the given serial number
// (big-endian, unsigned). With wrap it returns a granted TimeStampResp, else the bare
// TimeStampToken (ContentInfo).
func (e *tokenEncoder) encode(req *request, gt time.Time, serial []byte, withChain, wrap bool) ([]byte, error) {
	// TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, accuracy,
	//   ordering DEFAULT FALSE (omitted), nonce OPTIONAL, tsa [0] OPTIONAL, extensions [1] OPTIONAL }
	tst := cryptobyte.NewBuilder(make([]byte, 0, 256))
	tst.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(tstInfoVersion)
		b.AddBytes(e.policy)
		b.AddBytes(req.messageImprint)
		addUnsignedInteger(b, serial)
		addGeneralizedTime(b, gt)
		b.AddBytes(e.accuracy)
		if req.nonce != nil {
			b.AddBytes(req.nonce)
		}
		b.AddBytes(e.tsaName)
	})
	tstInfo, err := tst.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding TSTInfo: %w", err)
	}

	var sum [sha512.Size]byte
	digest := hashInto(sum[:0], e.sigHash, tstInfo)
	ab := cryptobyte.NewBuilder(make([]byte, 0, 16+len(digest)))
	ab.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidAttrMessageDigest)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })
	})
	attrDigest := ab.BytesOrPanic()
	attrs := [3][]byte{e.attrCType, attrDigest, e.attrSignCert}
	slices.SortFunc(attrs[:], bytes.Compare) // DER SET OF order
	// The signature covers the attributes encoded as a SET (tag 0x31); the SignerInfo carries
	// the same octets under [0] IMPLICIT (tag 0xA0).
	sa := cryptobyte.NewBuilder(make([]byte, 0, 8+len(attrs[0])+len(attrs[1])+len(attrs[2])))
	sa.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		b.AddBytes(attrs[0])
		b.AddBytes(attrs[1])
		b.AddBytes(attrs[2])
	})
	signedAttrs := sa.BytesOrPanic()
	var sum2 [sha512.Size]byte
	sig, err := e.signer.Sign(rand.Reader, hashInto(sum2[:0], e.sigHash, signedAttrs), e.sigHash)
	if err != nil {
		return nil, fmt.Errorf("signing the token: %w", err)
	}
	signedAttrs[0] = 0xA0

	var certs []byte
	switch {
	case !req.certReq:
	case withChain:
		certs = e.certsChain
	default:
		certs = e.certsTSU
	}
	out := cryptobyte.NewBuilder(make([]byte, 0, 512+len(tstInfo)+len(signedAttrs)+len(sig)+len(certs)))
	token := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidSignedData)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1Int64(cmsSignedDataVersion)
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(e.digestAlg) })
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidTSTInfo)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(tstInfo)
						})
					})
					b.AddBytes(certs)
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1Int64(signerInfoVersion)
							b.AddBytes(e.sid)
							b.AddBytes(e.digestAlg)
							b.AddBytes(signedAttrs)
							b.AddBytes(e.sigAlg)
							b.AddASN1OctetString(sig)
						})
					})
				})
			})
		})
	}
	if wrap {
		out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(statusGranted) })
			token(b)
		})
	} else {
		token(out)
	}
	der, err := out.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding the token: %w", err)
	}
	return der, nil
}

// hashInto appends the h digest of data to dst without allocating a hash.Hash.
func hashInto(dst []byte, h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(data)
		return append(dst, s[:]...)
	case crypto.SHA384:
		s := sha512.Sum384(data)
		return append(dst, s[:]...)
	default:
		s := sha512.Sum512(data)
		return append(dst, s[:]...)
	}
}

// addUnsignedInteger adds a DER INTEGER whose value is the big-endian unsigned number v.
func addUnsignedInteger(b *cryptobyte.Builder, v []byte) {
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	b.AddASN1(cbasn1.INTEGER, func(b *cryptobyte.Builder) {
		if len(v) == 0 || v[0]&0x80 != 0 {
			b.AddUint8(0)
		}
		b.AddBytes(v)
	})
}

// addGeneralizedTime adds t (UTC) as a DER GeneralizedTime: YYYYMMDDHHMMSS[.f*]Z with the
// fraction present only when non-zero and without trailing zeros (X.690 §11.7).
func addGeneralizedTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		b.SetError(fmt.Errorf("genTime year %d is out of range", y))
		return
	}
	buf := make([]byte, 0, 24)
	buf = t.AppendFormat(buf, "20060102150405")
	if ns := t.Nanosecond(); ns != 0 {
		frac := strconv.AppendInt(nil, int64(ns)+1e9, 10)[1:] // 9 digits, leading zeros kept
		frac = bytes.TrimRight(frac, "0")
		buf = append(buf, '.')
		buf = append(buf, frac...)
	}
	buf = append(buf, 'Z')
	b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes(buf) })
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}
