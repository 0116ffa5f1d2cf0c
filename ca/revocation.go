package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/ocsp"
)

// RevocationFetcher has the method set of pades.RevocationSource (which this package does not
// import): DER CRLs and DER OCSP responses for a certificate issued by issuer.
type RevocationFetcher interface {
	Revocation(ctx context.Context, cert, issuer *x509.Certificate) (crls, ocsps [][]byte, err error)
}

// InProcessRevocation answers revocation queries about the appliance's own certificates without
// HTTP: the issuing CA's CRL and OCSP responses come from the CA itself, the root's CRL from the
// key set. It works before the HTTP listener is up and whatever the public URL resolves to.
// Obtain one with CA.RevocationSource.
type InProcessRevocation struct {
	ca       *CA
	fallback RevocationFetcher
}

// RevocationSource returns an in-process source of revocation data for the certificates of
// this CA's hierarchy; it satisfies pades.RevocationSource. Certificates of another issuer (a
// third party's signature in a PDF being sealed) are passed to fallback, typically
// pades.HTTPRevocation{}; with a nil fallback they are an error.
func (c *CA) RevocationSource(fallback RevocationFetcher) *InProcessRevocation {
	return &InProcessRevocation{ca: c, fallback: fallback}
}

// Revocation implements pades.RevocationSource. Like the HTTP source it follows the
// certificate's own pointers: a certificate that names no CRL and no OCSP responder (the root,
// the OCSP responder) gets nothing. For a certificate of the issuing CA it returns the current
// CRL if the certificate names a CRL distribution point and an OCSP response (SHA-256 CertID,
// no nonce) if it names an OCSP responder; for a certificate of the root, the root CRL.
func (r *InProcessRevocation) Revocation(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, [][]byte, error) {
	if cert == nil || issuer == nil {
		return nil, nil, errors.New("ca: revocation data needs a certificate and its issuer")
	}
	c := r.ca
	switch {
	case bytes.Equal(issuer.Raw, c.keys.Issuing.Raw):
		return r.issuing(ctx, cert, issuer)
	case bytes.Equal(issuer.Raw, c.keys.Root.Raw):
		if len(cert.CRLDistributionPoints) == 0 {
			return nil, nil, nil
		}
		crl := c.RootCRL()
		if crl == nil {
			return nil, nil, fmt.Errorf("ca: %s names a CRL distribution point but the key set has no root CRL", cert.Subject)
		}
		return [][]byte{crl.Raw}, nil, nil
	case r.fallback != nil:
		return r.fallback.Revocation(ctx, cert, issuer)
	}
	return nil, nil, fmt.Errorf("ca: %s is issued by %s, not by this appliance's CA", cert.Subject, issuer.Subject)
}

func (r *InProcessRevocation) issuing(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, [][]byte, error) {
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		return nil, nil, fmt.Errorf("ca: %s is not signed by the issuing CA: %w", cert.Subject, err)
	}
	var crls, ocsps [][]byte
	if len(cert.CRLDistributionPoints) > 0 {
		der, err := r.ca.CRL(ctx)
		if err != nil {
			return nil, nil, err
		}
		crls = append(crls, der)
	}
	if len(cert.OCSPServer) > 0 {
		req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA256})
		if err != nil {
			return nil, nil, fmt.Errorf("ca: building the OCSP request for %s: %w", cert.Subject, err)
		}
		a := r.ca.respondOCSP(ctx, req)
		if a.result != resultGood && a.result != resultRevoked {
			return nil, nil, fmt.Errorf("ca: the OCSP responder answered %s for %s", a.result, cert.Subject)
		}
		ocsps = append(ocsps, a.der)
	}
	return crls, ocsps, nil
}
