package ca

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/caddyserver/certmagic"
)

// CertmagicIssuer returns a certmagic.Issuer that obtains the appliance's TLS certificates from
// this CA (TLS mode "internal"). Certificates are issued by the issuing CA for the CSR's DNS
// names and IP addresses, valid for Options.ServerValidity, and come with the issuing CA
// certificate so that a client trusting only the root completes the chain.
func (c *CA) CertmagicIssuer() certmagic.Issuer { return &issuer{ca: c} }

type issuer struct{ ca *CA }

var _ certmagic.Issuer = (*issuer)(nil)

func (i *issuer) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if csr == nil {
		return nil, errors.New("ca: no certificate request")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("ca: certificate request signature: %w", err)
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, errors.New("ca: server certificates carry only DNS names and IP addresses")
	}
	names := append([]string(nil), csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		names = append(names, ip.String())
	}
	cert, err := i.ca.IssueServer(ctx, names, csr.PublicKey, 0)
	if err != nil {
		return nil, err
	}
	return &certmagic.IssuedCertificate{Certificate: append(pemCert(cert), pemCert(i.ca.keys.Issuing)...)}, nil
}

// IssuerKey names this CA in certmagic's storage: one directory per issuing CA certificate.
func (i *issuer) IssuerKey() string {
	sum := sha256.Sum256(i.ca.keys.Issuing.Raw)
	return "paraphe-internal-" + hex.EncodeToString(sum[:8])
}
