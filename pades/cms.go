package pades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers used in CMS (RFC 5652), ESS (RFC 5035) and RFC 3161.
var (
	oidData                 = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData           = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo              = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest    = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCert      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCertV2    = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrTimeStampToken   = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidSHA1                 = encasn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256               = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384               = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512               = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidRSAEncryption        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS               = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECPublicKey          = encasn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA256      = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384      = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512      = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519              = encasn1.ObjectIdentifier{1, 3, 101, 112}
	oidExtKeyUsageTimeStamp = encasn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

func hashOID(h crypto.Hash) (encasn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return oidSHA256, nil
	case crypto.SHA384:
		return oidSHA384, nil
	case crypto.SHA512:
		return oidSHA512, nil
	}
	return nil, fmt.Errorf("unsupported digest algorithm %v", h)
}

func hashFromOID(o encasn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case o.Equal(oidSHA256):
		return crypto.SHA256, nil
	case o.Equal(oidSHA384):
		return crypto.SHA384, nil
	case o.Equal(oidSHA512):
		return crypto.SHA512, nil
	case o.Equal(oidSHA1):
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("unsupported digest algorithm %v", o)
}

// signatureAlgorithm returns the CMS signature algorithm identifier for key with hash h.
func signatureAlgorithm(pub crypto.PublicKey, h crypto.Hash) (oid encasn1.ObjectIdentifier, nullParams bool, err error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		switch h {
		case crypto.SHA256:
			return oidECDSAWithSHA256, false, nil
		case crypto.SHA384:
			return oidECDSAWithSHA384, false, nil
		case crypto.SHA512:
			return oidECDSAWithSHA512, false, nil
		}
	case *rsa.PublicKey:
		switch h {
		case crypto.SHA256:
			return oidSHA256WithRSA, true, nil
		case crypto.SHA384:
			return oidSHA384WithRSA, true, nil
		case crypto.SHA512:
			return oidSHA512WithRSA, true, nil
		}
	}
	return nil, false, fmt.Errorf("unsupported signing key type %T", pub)
}

func addAlgID(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier, nullParams bool) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if nullParams {
			b.AddASN1NULL()
		}
	})
}

func attribute(oid encasn1.ObjectIdentifier, value []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(value) })
	})
	return b.BytesOrPanic()
}

func derOf(f func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

// essCertIDv2 is the signingCertificateV2 attribute value binding cert (SHA-256 hash and
// issuer/serial).
func signingCertificateV2(cert *x509.Certificate) []byte {
	sum := crypto.SHA256.New()
	sum.Write(cert.Raw)
	return derOf(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, hashAlgorithm DEFAULT sha256
					b.AddASN1OctetString(sum.Sum(nil))
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
							b.AddASN1(asn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
								b.AddBytes(cert.RawIssuer)
							})
						})
						b.AddASN1BigInt(cert.SerialNumber)
					})
				})
			})
		})
	})
}

// cadesSigner produces the CAdES-BES SignedData of a PAdES signature.
type cadesSigner struct {
	signer crypto.Signer
	chain  []*x509.Certificate
	bag    []*x509.Certificate // certificates embedded in the CMS; chain when nil
	hash   crypto.Hash
}

// signedAttributes returns the DER SET OF the signed attributes (sorted, as DER requires).
func (s cadesSigner) signedAttributes(digest []byte) []byte {
	attrs := [][]byte{
		attribute(oidAttrContentType, derOf(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) })),
		attribute(oidAttrMessageDigest, derOf(func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })),
		attribute(oidAttrSigningCertV2, signingCertificateV2(s.chain[0])),
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	return derOf(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
			for _, a := range attrs {
				b.AddBytes(a)
			}
		})
	})
}

// sign returns the signature value over the signed attributes.
func (s cadesSigner) sign(signedAttrs []byte) ([]byte, error) {
	h := s.hash.New()
	h.Write(signedAttrs)
	sig, err := s.signer.Sign(rand.Reader, h.Sum(nil), s.hash)
	if err != nil {
		return nil, fmt.Errorf("signing the CMS signed attributes: %w", err)
	}
	return sig, nil
}

// assemble builds the ContentInfo. timestampToken, when not nil, becomes the unsigned
// attribute id-aa-timeStampToken.
func (s cadesSigner) assemble(signedAttrs, sig, timestampToken []byte) ([]byte, error) {
	hoid, err := hashOID(s.hash)
	if err != nil {
		return nil, err
	}
	soid, null, err := signatureAlgorithm(s.chain[0].PublicKey, s.hash)
	if err != nil {
		return nil, err
	}
	// Re-tag the SET as [0] IMPLICIT.
	attrs := cryptobyte.String(signedAttrs)
	var setBody cryptobyte.String
	if !attrs.ReadASN1(&setBody, asn1.SET) {
		return nil, errors.New("internal error: signed attributes are not a SET")
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { addAlgID(b, hoid, false) })
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) })
				bag := s.bag
				if bag == nil {
					bag = s.chain
				}
				b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					for _, c := range bag {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(s.chain[0].RawIssuer)
							b.AddASN1BigInt(s.chain[0].SerialNumber)
						})
						addAlgID(b, hoid, false)
						b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(setBody) })
						addAlgID(b, soid, null)
						b.AddASN1OctetString(sig)
						if timestampToken != nil {
							b.AddASN1(asn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
								b.AddBytes(attribute(oidAttrTimeStampToken, timestampToken))
							})
						}
					})
				})
			})
		})
	})
	return b.Bytes()
}

// signedData is a parsed CMS SignedData with exactly one SignerInfo.
type signedData struct {
	certs        []*x509.Certificate
	eContentType encasn1.ObjectIdentifier
	eContent     []byte
	hasEContent  bool
	signer       signerInfo
}

type signerInfo struct {
	sidIssuer   []byte
	sidSerial   *big.Int
	sidSKI      []byte
	digestAlg   encasn1.ObjectIdentifier
	signedAttrs []byte // DER SET OF, as signed
	attrs       map[string][][]byte
	sigAlg      encasn1.ObjectIdentifier
	signature   []byte
	unsigned    map[string][][]byte
}

var errCMS = errors.New("malformed CMS")

// parseSignedData parses a DER ContentInfo holding SignedData. Trailing zero bytes (the
// /Contents padding) are allowed.
func parseSignedData(der []byte) (*signedData, error) {
	return parseSignedDataCerts(der, true)
}

// parseSignedDataCerts is parseSignedData that skips parsing the certificates when
// parseCerts is false.
func parseSignedDataCerts(der []byte, parseCerts bool) (*signedData, error) {
	in := cryptobyte.String(der)
	var ci, content, sd cryptobyte.String
	var ctype encasn1.ObjectIdentifier
	if !in.ReadASN1(&ci, asn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ctype) {
		return nil, fmt.Errorf("%w: not a ContentInfo", errCMS)
	}
	for _, c := range in {
		if c != 0 {
			return nil, fmt.Errorf("%w: data after the ContentInfo", errCMS)
		}
	}
	if !ctype.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: content type %v is not signedData", errCMS, ctype)
	}
	if !ci.ReadASN1(&content, asn1.Tag(0).ContextSpecific().Constructed()) || !content.ReadASN1(&sd, asn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: no SignedData", errCMS)
	}
	var version int64
	var digestAlgs, eci cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, asn1.SET) || !sd.ReadASN1(&eci, asn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: bad SignedData header", errCMS)
	}
	out := &signedData{}
	if !eci.ReadASN1ObjectIdentifier(&out.eContentType) {
		return nil, fmt.Errorf("%w: bad encapContentInfo", errCMS)
	}
	if !eci.Empty() {
		var ec, oct cryptobyte.String
		if !eci.ReadASN1(&ec, asn1.Tag(0).ContextSpecific().Constructed()) || !ec.ReadASN1(&oct, asn1.OCTET_STRING) {
			return nil, fmt.Errorf("%w: bad eContent", errCMS)
		}
		out.eContent, out.hasEContent = oct, true
	}
	var certs cryptobyte.String
	var present bool
	if !sd.ReadOptionalASN1(&certs, &present, asn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, fmt.Errorf("%w: bad certificates", errCMS)
	}
	for present && !certs.Empty() {
		var c cryptobyte.String
		var tag asn1.Tag
		if !certs.ReadAnyASN1Element(&c, &tag) {
			return nil, fmt.Errorf("%w: bad certificate entry", errCMS)
		}
		if tag != asn1.SEQUENCE || !parseCerts {
			continue // other certificate formats are ignored
		}
		cert, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate in the CMS: %v", errCMS, err)
		}
		out.certs = append(out.certs, cert)
	}
	var crls cryptobyte.String
	if !sd.ReadOptionalASN1(&crls, nil, asn1.Tag(1).ContextSpecific().Constructed()) {
		return nil, fmt.Errorf("%w: bad crls", errCMS)
	}
	var sis cryptobyte.String
	if !sd.ReadASN1(&sis, asn1.SET) || !sd.Empty() {
		return nil, fmt.Errorf("%w: bad signerInfos", errCMS)
	}
	var si cryptobyte.String
	if !sis.ReadASN1(&si, asn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: no SignerInfo", errCMS)
	}
	if !sis.Empty() {
		return nil, fmt.Errorf("%w: more than one SignerInfo", errCMS)
	}
	s, err := parseSignerInfo(si)
	if err != nil {
		return nil, err
	}
	out.signer = *s
	return out, nil
}

func parseSignerInfo(si cryptobyte.String) (*signerInfo, error) {
	s := &signerInfo{}
	var version int64
	if !si.ReadASN1Integer(&version) {
		return nil, fmt.Errorf("%w: bad SignerInfo version", errCMS)
	}
	var sid cryptobyte.String
	var sidTag asn1.Tag
	if !si.ReadAnyASN1(&sid, &sidTag) {
		return nil, fmt.Errorf("%w: bad SignerInfo sid", errCMS)
	}
	switch sidTag {
	case asn1.SEQUENCE:
		var issuer cryptobyte.String
		s.sidSerial = new(big.Int)
		if !sid.ReadASN1Element(&issuer, asn1.SEQUENCE) || !sid.ReadASN1Integer(s.sidSerial) {
			return nil, fmt.Errorf("%w: bad issuerAndSerialNumber", errCMS)
		}
		s.sidIssuer = issuer
	case asn1.Tag(0).ContextSpecific():
		s.sidSKI = sid
	default:
		return nil, fmt.Errorf("%w: unknown SignerIdentifier", errCMS)
	}
	var alg cryptobyte.String
	if !si.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&s.digestAlg) {
		return nil, fmt.Errorf("%w: bad digestAlgorithm", errCMS)
	}
	var sa cryptobyte.String
	var present bool
	if !si.ReadOptionalASN1(&sa, &present, asn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, fmt.Errorf("%w: bad signedAttrs", errCMS)
	}
	if present {
		s.signedAttrs = derOf(func(b *cryptobyte.Builder) { b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(sa) }) })
		var err error
		if s.attrs, err = parseAttributes(sa); err != nil {
			return nil, err
		}
	}
	if !si.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&s.sigAlg) {
		return nil, fmt.Errorf("%w: bad signatureAlgorithm", errCMS)
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, asn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: bad signature", errCMS)
	}
	s.signature = sig
	var ua cryptobyte.String
	if !si.ReadOptionalASN1(&ua, &present, asn1.Tag(1).ContextSpecific().Constructed()) || !si.Empty() {
		return nil, fmt.Errorf("%w: bad unsignedAttrs", errCMS)
	}
	if present {
		var err error
		if s.unsigned, err = parseAttributes(ua); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func parseAttributes(in cryptobyte.String) (map[string][][]byte, error) {
	m := map[string][][]byte{}
	for !in.Empty() {
		var a, vals cryptobyte.String
		var oid encasn1.ObjectIdentifier
		if !in.ReadASN1(&a, asn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&oid) || !a.ReadASN1(&vals, asn1.SET) {
			return nil, fmt.Errorf("%w: bad attribute", errCMS)
		}
		if _, dup := m[oid.String()]; dup {
			return nil, fmt.Errorf("%w: attribute %v appears twice", errCMS, oid)
		}
		var list [][]byte
		for !vals.Empty() {
			var v cryptobyte.String
			if !vals.ReadAnyASN1Element(&v, nil) {
				return nil, fmt.Errorf("%w: bad attribute value of %v", errCMS, oid)
			}
			list = append(list, v)
		}
		m[oid.String()] = list
	}
	return m, nil
}

// single returns the only value of attribute oid.
func single(m map[string][][]byte, oid encasn1.ObjectIdentifier) ([]byte, error) {
	v, ok := m[oid.String()]
	if !ok {
		return nil, fmt.Errorf("attribute %v is missing", oid)
	}
	if len(v) != 1 {
		return nil, fmt.Errorf("attribute %v has %d values, want 1", oid, len(v))
	}
	return v[0], nil
}

// findSigner returns the certificate the SignerInfo identifies, among pool.
func (s *signerInfo) findSigner(pool []*x509.Certificate) (*x509.Certificate, error) {
	for _, c := range pool {
		if s.sidSerial != nil && c.SerialNumber.Cmp(s.sidSerial) == 0 && bytes.Equal(c.RawIssuer, s.sidIssuer) {
			return c, nil
		}
		if s.sidSKI != nil && bytes.Equal(c.SubjectKeyId, s.sidSKI) {
			return c, nil
		}
	}
	return nil, errors.New("the certificate identified by the SignerInfo is not in the CMS")
}

// verifySignerInfo checks, for the certificate that the SignerInfo identifies: the content
// type and message digest attributes, the signing-certificate binding (V2, or V1 when
// allowV1), and the signature over the signed attributes. It returns that certificate.
func (sd *signedData) verifySignerInfo(digest []byte, allowV1 bool) (*x509.Certificate, error) {
	s := &sd.signer
	cert, err := s.findSigner(sd.certs)
	if err != nil {
		return nil, err
	}
	if s.signedAttrs == nil {
		return nil, errors.New("the SignerInfo has no signed attributes")
	}
	ct, err := single(s.attrs, oidAttrContentType)
	if err != nil {
		return cert, err
	}
	var ctOID encasn1.ObjectIdentifier
	if v := cryptobyte.String(ct); !v.ReadASN1ObjectIdentifier(&ctOID) || !ctOID.Equal(sd.eContentType) {
		return cert, fmt.Errorf("contentType attribute %v does not match the encapsulated content type %v", ctOID, sd.eContentType)
	}
	md, err := single(s.attrs, oidAttrMessageDigest)
	if err != nil {
		return cert, err
	}
	var mdv cryptobyte.String
	if v := cryptobyte.String(md); !v.ReadASN1(&mdv, asn1.OCTET_STRING) {
		return cert, errors.New("messageDigest attribute is not an OCTET STRING")
	}
	if !bytes.Equal(mdv, digest) {
		return cert, errors.New("message digest mismatch: the signed bytes were changed")
	}
	if err := checkSigningCertificate(s.attrs, cert, allowV1); err != nil {
		return cert, err
	}
	if err := checkSignature(cert, s.digestAlg, s.sigAlg, s.signedAttrs, s.signature); err != nil {
		return cert, err
	}
	return cert, nil
}

// checkSigningCertificate verifies that the first ESSCertID(v2) names cert.
func checkSigningCertificate(attrs map[string][][]byte, cert *x509.Certificate, allowV1 bool) error {
	v2, errV2 := single(attrs, oidAttrSigningCertV2)
	v1, errV1 := single(attrs, oidAttrSigningCert)
	var val []byte
	isV2 := true
	switch {
	case errV2 == nil:
		val = v2
	case allowV1 && errV1 == nil:
		val, isV2 = v1, false
	default:
		return errors.New("the signingCertificateV2 attribute is missing")
	}
	in := cryptobyte.String(val)
	var sc, certs, id cryptobyte.String
	if !in.ReadASN1(&sc, asn1.SEQUENCE) || !sc.ReadASN1(&certs, asn1.SEQUENCE) || !certs.ReadASN1(&id, asn1.SEQUENCE) {
		return errors.New("malformed signing certificate attribute")
	}
	h := crypto.SHA1
	if isV2 {
		h = crypto.SHA256
		if id.PeekASN1Tag(asn1.SEQUENCE) {
			var alg cryptobyte.String
			var oid encasn1.ObjectIdentifier
			if !id.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
				return errors.New("malformed ESSCertIDv2 hash algorithm")
			}
			var err error
			if h, err = hashFromOID(oid); err != nil {
				return err
			}
		}
	}
	var certHash cryptobyte.String
	if !id.ReadASN1(&certHash, asn1.OCTET_STRING) {
		return errors.New("malformed ESSCertID certHash")
	}
	if !h.Available() {
		return fmt.Errorf("hash %v unavailable", h)
	}
	sum := h.New()
	sum.Write(cert.Raw)
	if !bytes.Equal(sum.Sum(nil), certHash) {
		return errors.New("signing certificate attribute does not match the certificate that signed (certificate substitution)")
	}
	if !id.Empty() {
		var is, names cryptobyte.String
		serial := new(big.Int)
		if !id.ReadASN1(&is, asn1.SEQUENCE) || !is.ReadASN1(&names, asn1.SEQUENCE) || !is.ReadASN1Integer(serial) {
			return errors.New("malformed ESSCertID issuerSerial")
		}
		if serial.Cmp(cert.SerialNumber) != 0 {
			return errors.New("signing certificate attribute names another serial number")
		}
	}
	return nil
}

func checkSignature(cert *x509.Certificate, digestAlg, sigAlg encasn1.ObjectIdentifier, signed, sig []byte) error {
	h, err := hashFromOID(digestAlg)
	if err != nil {
		return err
	}
	var alg x509.SignatureAlgorithm
	switch {
	case sigAlg.Equal(oidECDSAWithSHA256):
		alg = x509.ECDSAWithSHA256
	case sigAlg.Equal(oidECDSAWithSHA384):
		alg = x509.ECDSAWithSHA384
	case sigAlg.Equal(oidECDSAWithSHA512):
		alg = x509.ECDSAWithSHA512
	case sigAlg.Equal(oidSHA256WithRSA):
		alg = x509.SHA256WithRSA
	case sigAlg.Equal(oidSHA384WithRSA):
		alg = x509.SHA384WithRSA
	case sigAlg.Equal(oidSHA512WithRSA):
		alg = x509.SHA512WithRSA
	case sigAlg.Equal(oidEd25519):
		alg = x509.PureEd25519
	case sigAlg.Equal(oidRSAEncryption), sigAlg.Equal(oidECPublicKey):
		// Algorithm named by the key, digest by digestAlgorithm.
		switch cert.PublicKey.(type) {
		case *rsa.PublicKey:
			alg = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSA, crypto.SHA384: x509.SHA384WithRSA, crypto.SHA512: x509.SHA512WithRSA}[h]
		case *ecdsa.PublicKey:
			alg = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.ECDSAWithSHA256, crypto.SHA384: x509.ECDSAWithSHA384, crypto.SHA512: x509.ECDSAWithSHA512}[h]
		}
	}
	if alg == x509.UnknownSignatureAlgorithm {
		return fmt.Errorf("unsupported signature algorithm %v with digest %v", sigAlg, digestAlg)
	}
	if _, ok := cert.PublicKey.(ed25519.PublicKey); ok && alg != x509.PureEd25519 {
		return errors.New("signature algorithm does not match the Ed25519 key")
	}
	if err := cert.CheckSignature(alg, signed, sig); err != nil {
		return fmt.Errorf("the signature does not verify with the signer's key: %w", err)
	}
	return nil
}

// tstInfo is the part of an RFC 3161 TSTInfo that verification uses.
type tstInfo struct {
	hash    crypto.Hash
	imprint []byte
	genTime time.Time
	serial  *big.Int
	policy  encasn1.ObjectIdentifier
}

func parseTSTInfo(b []byte) (*tstInfo, error) {
	in := cryptobyte.String(b)
	var t, mi, alg cryptobyte.String
	var version int64
	out := &tstInfo{serial: new(big.Int)}
	var hoid encasn1.ObjectIdentifier
	var imprint cryptobyte.String
	if !in.ReadASN1(&t, asn1.SEQUENCE) || !t.ReadASN1Integer(&version) || !t.ReadASN1ObjectIdentifier(&out.policy) ||
		!t.ReadASN1(&mi, asn1.SEQUENCE) || !mi.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&hoid) ||
		!mi.ReadASN1(&imprint, asn1.OCTET_STRING) || !t.ReadASN1Integer(out.serial) {
		return nil, errors.New("malformed TSTInfo")
	}
	var gt cryptobyte.String
	if !t.ReadASN1(&gt, asn1.GeneralizedTime) {
		return nil, errors.New("malformed TSTInfo genTime")
	}
	// time.Parse accepts the optional fractional seconds that RFC 3161 allows.
	when, err := time.Parse("20060102150405Z0700", string(gt))
	if err != nil {
		return nil, fmt.Errorf("malformed TSTInfo genTime %q", gt)
	}
	out.genTime = when
	h, err := hashFromOID(hoid)
	if err != nil {
		return nil, fmt.Errorf("TSTInfo: %w", err)
	}
	out.hash, out.imprint = h, imprint
	return out, nil
}
