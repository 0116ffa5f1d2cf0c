package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"
)

// maxReplyBytes caps what the client reads from a server.
const maxReplyBytes = 1 << 20

// QueryOptions configure Query.
type QueryOptions struct {
	// URL is the TSA endpoint the query is POSTed to (for Paraphe, BASE/tsa).
	URL string
	// Hash is the imprint's hash: SHA-256 (default), SHA-384 or SHA-512.
	Hash crypto.Hash
	// Policy, if set, is sent as reqPolicy and required in the token.
	Policy asn1.ObjectIdentifier
	// Roots and Intermediates verify the reply; Roots is required.
	Roots, Intermediates *x509.CertPool
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// QueryResult is a verified reply.
type QueryResult struct {
	Response  []byte // the DER TimeStampResp as received
	Token     []byte // its TimeStampToken
	Timestamp *timestamp.Timestamp
	Nonce     *big.Int          // the nonce sent (and found in the token)
	Signer    *x509.Certificate // the TSU certificate that signed
}

// Query hashes data, sends an RFC 3161 request with a random 64-bit nonce and certReq set, and
// returns the reply once VerifyTokenWith accepts it for that imprint, nonce and policy. A
// rejection is returned as a *RefusedError.
func Query(ctx context.Context, data io.Reader, o QueryOptions) (*QueryResult, error) {
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	if oidForHash(o.Hash) == nil {
		return nil, fmt.Errorf("tsa query: hash %v is not SHA-256, SHA-384 or SHA-512", o.Hash)
	}
	if o.Roots == nil {
		return nil, errors.New("tsa query: no trust roots to verify the reply")
	}
	h := o.Hash.New()
	if _, err := io.Copy(h, data); err != nil {
		return nil, fmt.Errorf("tsa query: reading the data: %w", err)
	}
	digest := h.Sum(nil)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("tsa query: nonce: %w", err)
	}
	req, err := (&timestamp.Request{HashAlgorithm: o.Hash, HashedMessage: digest, Nonce: nonce,
		Certificates: true, TSAPolicyOID: o.Policy}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("tsa query: encoding the request: %w", err)
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("tsa query: %w", err)
	}
	hreq.Header.Set("Content-Type", ContentTypeQuery)
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("tsa query: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tsa query: reading the reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("tsa query: %s answered %s: %.200q", o.URL, resp.Status, body)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != ContentTypeReply {
		return nil, fmt.Errorf("tsa query: reply Content-Type %q is not %s", resp.Header.Get("Content-Type"), ContentTypeReply)
	}
	if len(body) > maxReplyBytes {
		return nil, fmt.Errorf("tsa query: reply over %d bytes", maxReplyBytes)
	}
	token, err := TokenFromResponse(body)
	if err != nil {
		return nil, fmt.Errorf("tsa query: %w", err)
	}
	vo := VerifyOptions{Roots: o.Roots, Intermediates: o.Intermediates, Nonce: nonce}
	if o.Policy != nil {
		vo.Policies = []asn1.ObjectIdentifier{o.Policy}
	}
	ts, signer, err := verifyToken(token, digest, o.Hash, vo)
	if err != nil {
		return nil, fmt.Errorf("tsa query: %w", err)
	}
	return &QueryResult{Response: body, Token: token, Timestamp: ts, Nonce: nonce, Signer: signer}, nil
}

// FetchTrust fetches a Paraphe appliance's certificates from base (its address): the TSU
// certificate and chain from /tsa/certs.pem and the root from /ca/root.pem. When the appliance
// serves no /ca/root.pem, self-signed certificates in /tsa/certs.pem are taken as roots.
// Trusting what the server being checked serves proves only its consistency: pin the root
// instead whenever it is known.
func FetchTrust(ctx context.Context, client *http.Client, base string) (roots, intermediates *x509.CertPool, err error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	chain, err := fetchPEM(ctx, client, base+"/tsa/certs.pem")
	if err != nil {
		return nil, nil, err
	}
	roots, intermediates = x509.NewCertPool(), x509.NewCertPool()
	rootCerts, rerr := fetchPEM(ctx, client, base+"/ca/root.pem")
	if rerr != nil {
		// No /ca/root.pem: the self-signed certificates of the TSA chain are the roots.
		rootCerts = nil
		for _, c := range chain {
			if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
				rootCerts = append(rootCerts, c)
			}
		}
		if len(rootCerts) == 0 {
			return nil, nil, fmt.Errorf("no root certificate: %w, and %s/tsa/certs.pem holds no self-signed certificate", rerr, base)
		}
	}
	for _, c := range rootCerts {
		roots.AddCert(c)
	}
	for _, c := range chain {
		intermediates.AddCert(c)
	}
	return roots, intermediates, nil
}

func fetchPEM(ctx context.Context, client *http.Client, url string) ([]*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	certs, err := ParseCertificatesPEM(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return certs, nil
}

// ParseCertificatesPEM parses every CERTIFICATE block of data; it fails when there is none or
// one does not parse.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}
