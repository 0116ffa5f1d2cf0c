package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of Paraphe (docs/OIDS.md). The arc is a PLACEHOLDER under IANA's
// documentation enterprise number 32473 (RFC 5612) until the project registers its own private
// enterprise number. A UUID arc (2.25.<uuid>) cannot be used for the binding extension: Go's
// crypto/x509 refuses to parse any certificate with an extension OID whose arcs exceed 31 bits.
var (
	OIDArc            = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 2026}
	OIDLedgerBinding  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 2026, 1, 1}
	OIDSignerPolicy   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 2026, 2, 1}
	ledgerLeafHashLen = 32
)

// Binding ties a signer certificate to the ledger leaf of the otp.verified event that
// authorised it: the leaf's index in the log and its RFC 6962 leaf hash (SHA-256).
//
// DER, in the non-critical extension OIDLedgerBinding:
//
//	LedgerBinding ::= SEQUENCE {
//	    leafIndex  INTEGER (0..18446744073709551615),
//	    leafHash   OCTET STRING (SIZE (32)) }
type Binding struct {
	LeafIndex uint64
	LeafHash  []byte
}

func (b Binding) marshal() ([]byte, error) {
	if len(b.LeafHash) != ledgerLeafHashLen {
		return nil, fmt.Errorf("ca: binding leaf hash must be %d bytes, got %d", ledgerLeafHashLen, len(b.LeafHash))
	}
	var bb cryptobyte.Builder
	bb.AddASN1(cbasn1.SEQUENCE, func(s *cryptobyte.Builder) {
		s.AddASN1Uint64(b.LeafIndex)
		s.AddASN1OctetString(b.LeafHash)
	})
	return bb.Bytes()
}

func (b Binding) extension() (pkix.Extension, error) {
	v, err := b.marshal()
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDLedgerBinding, Critical: false, Value: v}, nil
}

// ParseBinding reads the ledger binding of a certificate. It reports false (and no error) when
// the certificate has none, and an error when the extension is present but malformed, critical
// or repeated. It is pure: verifiers use it with no appliance state.
func ParseBinding(cert *x509.Certificate) (Binding, bool, error) {
	if cert == nil {
		return Binding{}, false, errors.New("ca: nil certificate")
	}
	var found *pkix.Extension
	for i := range cert.Extensions {
		e := &cert.Extensions[i]
		if !e.Id.Equal(OIDLedgerBinding) {
			continue
		}
		if found != nil {
			return Binding{}, true, errors.New("ca: ledger binding extension appears twice")
		}
		found = e
	}
	if found == nil {
		return Binding{}, false, nil
	}
	if found.Critical {
		return Binding{}, true, errors.New("ca: ledger binding extension must not be critical")
	}
	b, err := parseBindingValue(found.Value)
	return b, true, err
}

func parseBindingValue(v []byte) (Binding, error) {
	in := cryptobyte.String(v)
	var seq cryptobyte.String
	var b Binding
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&b.LeafIndex) ||
		!seq.ReadASN1Bytes(&b.LeafHash, cbasn1.OCTET_STRING) || !seq.Empty() {
		return Binding{}, errors.New("ca: malformed ledger binding extension")
	}
	if len(b.LeafHash) != ledgerLeafHashLen {
		return Binding{}, fmt.Errorf("ca: ledger binding leaf hash has %d bytes, want %d", len(b.LeafHash), ledgerLeafHashLen)
	}
	b.LeafHash = append([]byte(nil), b.LeafHash...)
	return b, nil
}
