package ceremonytest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
)

// BindingOID is the extension the test CA uses to bind a certificate to its otp.verified leaf.
var BindingOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 6, 1}

// Binding is the content of the binding extension.
type Binding struct {
	LeafIndex int64
	LeafHash  []byte
}

// CA is a two-level test CA (root, issuing) that issues signer certificates bound to a leaf.
type CA struct {
	Root, Issuing *x509.Certificate
	key           crypto.Signer
	mu            sync.Mutex
	Issued        []*x509.Certificate
}

// NewCA makes a fresh CA.
func NewCA(t testing.TB) *CA {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Paraphe Test Root", Organization: []string{"Paraphe"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rder, err := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rder)
	it := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Paraphe Test Signers", Organization: []string{"Paraphe"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	ider, err := x509.CreateCertificate(rand.Reader, it, root, &ik.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := x509.ParseCertificate(ider)
	return &CA{Root: root, Issuing: iss, key: ik}
}

// IssueSigner implements ceremony.CertificateIssuer.
func (c *CA) IssueSigner(_ context.Context, req ceremony.CertificateRequest) (*x509.Certificate, []*x509.Certificate, error) {
	if len(req.LeafHash) != 32 {
		return nil, nil, fmt.Errorf("test ca: leaf hash must be 32 bytes")
	}
	ext, err := asn1.Marshal(Binding{LeafIndex: int64(req.LeafIndex), LeafHash: req.LeafHash})
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: req.Name, Organization: []string{req.Organization}},
		EmailAddresses: []string{req.Email}, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, ExtraExtensions: []pkix.Extension{{Id: BindingOID, Value: ext}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Issuing, req.PublicKey, c.key)
	if err != nil {
		return nil, nil, fmt.Errorf("test ca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	c.Issued = append(c.Issued, cert)
	c.mu.Unlock()
	return cert, []*x509.Certificate{c.Issuing, c.Root}, nil
}

// BindingOf reads the binding extension of a certificate issued by the test CA.
func BindingOf(cert *x509.Certificate) (Binding, error) {
	for _, e := range cert.Extensions {
		if e.Id.Equal(BindingOID) {
			var b Binding
			_, err := asn1.Unmarshal(e.Value, &b)
			return b, err
		}
	}
	return Binding{}, fmt.Errorf("no binding extension")
}
