package tsa

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// VerifyOptions say what a token is checked against.
type VerifyOptions struct {
	// Roots are the trust anchors; required.
	Roots *x509.CertPool
	// Intermediates may help build the chain, besides the certificates in the token.
	Intermediates *x509.CertPool
	// TSUCertificates are candidates for the signing certificate when the token carries none
	// (a reply to a request without certReq).
	TSUCertificates []*x509.Certificate
	// Policies, when not empty, are the TSA policies accepted in the token.
	Policies []asn1.ObjectIdentifier
	// Nonce, when not nil, must be the token's nonce.
	Nonce *big.Int
}

// VerifyToken checks that token (a DER TimeStampToken, a CMS ContentInfo) stamps digest made
// with h, is signed by a TSU certificate that chains to roots (through intermediates or
// certificates in the token) at the token's genTime with id-kp-timeStamping critical and alone,
// and that its signed ESSCertID(v2) names that very certificate. It returns the parsed token.
func VerifyToken(token []byte, digest []byte, h crypto.Hash, roots *x509.CertPool, intermediates *x509.CertPool) (*timestamp.Timestamp, error) {
	return VerifyTokenWith(token, digest, h, VerifyOptions{Roots: roots, Intermediates: intermediates})
}

// VerifyTokenWith is VerifyToken with more options.
func VerifyTokenWith(token []byte, digest []byte, h crypto.Hash, o VerifyOptions) (*timestamp.Timestamp, error) {
	ts, _, err := verifyToken(token, digest, h, o)
	return ts, err
}

// verifyToken is VerifyTokenWith that also returns the certificate that signed.
func verifyToken(token []byte, digest []byte, h crypto.Hash, o VerifyOptions) (*timestamp.Timestamp, *x509.Certificate, error) {
	if o.Roots == nil {
		return nil, nil, errors.New("verify token: no trust roots given")
	}
	if err := checkTokenContentType(token); err != nil {
		return nil, nil, fmt.Errorf("verify token: %w", err)
	}
	ts, err := timestamp.Parse(token)
	if err != nil {
		return nil, nil, fmt.Errorf("verify token: parsing: %w", err)
	}
	p7, err := pkcs7.Parse(token)
	if err != nil {
		return nil, nil, fmt.Errorf("verify token: parsing CMS: %w", err)
	}
	if len(p7.Signers) != 1 {
		return nil, nil, fmt.Errorf("verify token: %d signers, want exactly 1", len(p7.Signers))
	}
	if hashForOID(p7.Signers[0].DigestAlgorithm.Algorithm) == 0 {
		return nil, nil, fmt.Errorf("verify token: signature digest algorithm %s is not accepted", p7.Signers[0].DigestAlgorithm.Algorithm)
	}
	ee := p7.GetOnlySigner()
	if ee == nil {
		p7.Certificates = append(p7.Certificates, o.TSUCertificates...)
		if ee = p7.GetOnlySigner(); ee == nil {
			return nil, nil, errors.New("verify token: the signing certificate is neither in the token nor among the given TSU certificates")
		}
	}
	var ct asn1.ObjectIdentifier
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeContentType, &ct); err != nil || !ct.Equal(oidTSTInfo) {
		return nil, nil, fmt.Errorf("verify token: signed contentType attribute is not id-ct-TSTInfo (%v, %v)", ct, err)
	}
	if err := checkESSCertID(p7, ee); err != nil {
		return nil, nil, fmt.Errorf("verify token: %w", err)
	}
	if err := checkTimeStampingEKU(ee); err != nil {
		return nil, nil, fmt.Errorf("verify token: signing certificate %q: %w", ee.Subject, err)
	}
	inter := x509.NewCertPool()
	if o.Intermediates != nil {
		inter = o.Intermediates.Clone()
	}
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	err = p7.VerifyWithOpts(x509.VerifyOptions{
		Roots:         o.Roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		CurrentTime:   ts.Time,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("verify token: signature or chain: %w", err)
	}
	if ts.HashAlgorithm != h || !bytes.Equal(ts.HashedMessage, digest) {
		return nil, nil, fmt.Errorf("verify token: it stamps a different %v imprint than the one given (%v)", ts.HashAlgorithm, h)
	}
	if len(o.Policies) > 0 && !slices.ContainsFunc(o.Policies, ts.Policy.Equal) {
		return nil, nil, fmt.Errorf("verify token: policy %s is not accepted", ts.Policy)
	}
	if o.Nonce != nil && (ts.Nonce == nil || ts.Nonce.Cmp(o.Nonce) != 0) {
		return nil, nil, errors.New("verify token: nonce does not match the request's")
	}
	return ts, ee, nil
}

// checkTokenContentType walks ContentInfo → SignedData → encapContentInfo and requires
// signedData carrying id-ct-TSTInfo.
func checkTokenContentType(token []byte) error {
	s := cryptobyte.String(token)
	var ci, sd, signed, encap cryptobyte.String
	var ctype, etype asn1.ObjectIdentifier
	var version int64
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !s.Empty() ||
		!ci.ReadASN1ObjectIdentifier(&ctype) ||
		!ci.ReadASN1(&sd, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!sd.ReadASN1(&signed, cbasn1.SEQUENCE) ||
		!signed.ReadASN1Integer(&version) ||
		!signed.SkipASN1(cbasn1.SET) ||
		!signed.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!encap.ReadASN1ObjectIdentifier(&etype) {
		return errors.New("not a DER CMS ContentInfo with SignedData")
	}
	if !ctype.Equal(oidSignedData) || !etype.Equal(oidTSTInfo) {
		return fmt.Errorf("content %s / %s is not signedData / id-ct-TSTInfo", ctype, etype)
	}
	return nil
}

// checkESSCertID requires a signed signingCertificateV2 (or signingCertificate) attribute whose
// first ESSCertID hashes ee.
func checkESSCertID(p7 *pkcs7.PKCS7, ee *x509.Certificate) error {
	var v2 struct {
		Certs []struct {
			HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
			CertHash      []byte
			IssuerSerial  asn1.RawValue `asn1:"optional"`
		}
		Policies asn1.RawValue `asn1:"optional"`
	}
	if err := p7.UnmarshalSignedAttribute(oidAttrSigningCertV2, &v2); err == nil {
		if len(v2.Certs) == 0 {
			return errors.New("signingCertificateV2 names no certificate")
		}
		id := v2.Certs[0]
		h := crypto.SHA256
		if len(id.HashAlgorithm.Algorithm) > 0 {
			if h = hashForOID(id.HashAlgorithm.Algorithm); h == 0 {
				return fmt.Errorf("ESSCertIDv2 hash %s is not accepted", id.HashAlgorithm.Algorithm)
			}
		}
		if !bytes.Equal(hashInto(nil, h, ee.Raw), id.CertHash) {
			return errors.New("ESSCertIDv2 does not name the certificate that signed")
		}
		return nil
	}
	var v1 struct {
		Certs []struct {
			CertHash     []byte
			IssuerSerial asn1.RawValue `asn1:"optional"`
		}
		Policies asn1.RawValue `asn1:"optional"`
	}
	if err := p7.UnmarshalSignedAttribute(oidAttrSigningCert, &v1); err != nil {
		return errors.New("no signed ESSCertID or ESSCertIDv2 attribute")
	}
	if len(v1.Certs) == 0 {
		return errors.New("signingCertificate names no certificate")
	}
	sum := sha1.Sum(ee.Raw)
	if !bytes.Equal(sum[:], v1.Certs[0].CertHash) {
		return errors.New("ESSCertID does not name the certificate that signed")
	}
	return nil
}

// TokenFromResponse returns the TimeStampToken of a granted DER TimeStampResp, or a
// *RefusedError for a rejection.
func TokenFromResponse(der []byte) ([]byte, error) {
	s := cryptobyte.String(der)
	var resp, status cryptobyte.String
	var pkiStatus int64
	if !s.ReadASN1(&resp, cbasn1.SEQUENCE) || !s.Empty() ||
		!resp.ReadASN1(&status, cbasn1.SEQUENCE) ||
		!status.ReadASN1Integer(&pkiStatus) {
		return nil, errors.New("not a DER TimeStampResp")
	}
	if pkiStatus != statusGranted && pkiStatus != 1 { // granted, grantedWithMods
		var text []string
		if status.PeekASN1Tag(cbasn1.SEQUENCE) {
			var free cryptobyte.String
			status.ReadASN1(&free, cbasn1.SEQUENCE)
			for !free.Empty() {
				var u cryptobyte.String
				if !free.ReadASN1(&u, cbasn1.UTF8String) {
					break
				}
				text = append(text, string(u))
			}
		}
		fail := &RefusedError{FailInfo: -1, Reason: fmt.Sprintf("PKIStatus %d %q", pkiStatus, text)}
		var bits asn1.BitString
		var raw cryptobyte.String
		if status.ReadASN1Element(&raw, cbasn1.BIT_STRING) {
			if _, err := asn1.Unmarshal(raw, &bits); err == nil {
				for _, f := range failInfos {
					if bits.At(int(f)) == 1 {
						fail.FailInfo = f
						break
					}
				}
			}
		}
		return nil, fail
	}
	var token cryptobyte.String
	if !resp.ReadASN1Element(&token, cbasn1.SEQUENCE) || !resp.Empty() {
		return nil, errors.New("granted TimeStampResp without a single TimeStampToken")
	}
	return token, nil
}
