package tsa

import (
	"crypto"
	"encoding/asn1"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// maxNonceLen caps the content octets of a request nonce: 256 bits plus a sign octet.
const maxNonceLen = 33

// Hash algorithm identifiers (RFC 5758, NIST CSOR) and the ones refused by name.
var (
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidMD5    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
)

// hashForOID returns the accepted hash named by oid, or 0.
func hashForOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

// oidForHash is the inverse of hashForOID.
func oidForHash(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA256:
		return oidSHA256
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return nil
}

// request is a parsed, validated TimeStampReq. Its byte slices alias the input.
type request struct {
	hash           crypto.Hash
	hashed         []byte
	messageImprint []byte // the whole MessageImprint element, echoed into TSTInfo
	policy         asn1.ObjectIdentifier
	nonce          []byte // the whole nonce INTEGER element, echoed into TSTInfo; nil if absent
	certReq        bool
}

// parseRequest parses a DER TimeStampReq (RFC 3161 §2.4.1) and checks it against the profile:
//
//	TimeStampReq ::= SEQUENCE {
//	   version        INTEGER { v1(1) },
//	   messageImprint MessageImprint,
//	   reqPolicy      TSAPolicyId OPTIONAL,
//	   nonce          INTEGER OPTIONAL,
//	   certReq        BOOLEAN DEFAULT FALSE,
//	   extensions     [0] IMPLICIT Extensions OPTIONAL }
//
// Structural faults are badDataFormat; a hash other than SHA-256/384/512 is badAlg; a reqPolicy
// not in accepted is unacceptedPolicy; a critical extension is unacceptedExtension. The returned
// error is always a *RefusedError.
func parseRequest(der []byte, accepted []asn1.ObjectIdentifier) (*request, *RefusedError) {
	in := cryptobyte.String(der)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) {
		return nil, refuse(BadDataFormat, "request is not a DER TimeStampReq SEQUENCE")
	}
	if !in.Empty() {
		return nil, refuse(BadDataFormat, "trailing data after the TimeStampReq")
	}
	var version int64
	if !body.ReadASN1Integer(&version) {
		return nil, refuse(BadDataFormat, "request version is not a DER INTEGER")
	}
	if version != 1 {
		return nil, refuse(BadDataFormat, fmt.Sprintf("request version is %d, only v1 is defined", version))
	}
	r := &request{}
	var mi cryptobyte.String
	if !body.ReadASN1Element(&mi, cbasn1.SEQUENCE) {
		return nil, refuse(BadDataFormat, "messageImprint is not a SEQUENCE")
	}
	r.messageImprint = mi
	if fail := r.parseImprint(mi); fail != nil {
		return nil, fail
	}
	if body.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		if !body.ReadASN1ObjectIdentifier(&r.policy) {
			return nil, refuse(BadDataFormat, "reqPolicy is not a valid OBJECT IDENTIFIER")
		}
	}
	if body.PeekASN1Tag(cbasn1.INTEGER) {
		var nonce, content cryptobyte.String
		if !body.ReadASN1Element(&nonce, cbasn1.INTEGER) {
			return nil, refuse(BadDataFormat, "nonce is not a DER INTEGER")
		}
		if elem := nonce; !elem.ReadASN1(&content, cbasn1.INTEGER) || !minimalInteger(content) {
			return nil, refuse(BadDataFormat, "nonce is not a minimally encoded INTEGER")
		}
		if len(content) > maxNonceLen {
			return nil, refuse(BadDataFormat, fmt.Sprintf("nonce is longer than %d bits", (maxNonceLen-1)*8))
		}
		r.nonce = nonce
	}
	if body.PeekASN1Tag(cbasn1.BOOLEAN) {
		if !body.ReadASN1Boolean(&r.certReq) {
			return nil, refuse(BadDataFormat, "certReq is not a DER BOOLEAN")
		}
	}
	if body.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var exts cryptobyte.String
		if !body.ReadASN1(&exts, cbasn1.Tag(0).Constructed().ContextSpecific()) || exts.Empty() {
			return nil, refuse(BadDataFormat, "extensions are not a non-empty [0] SEQUENCE OF Extension")
		}
		for !exts.Empty() {
			var ext cryptobyte.String
			var id asn1.ObjectIdentifier
			var critical bool
			var value cryptobyte.String
			if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) ||
				!ext.ReadASN1ObjectIdentifier(&id) ||
				(ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical)) ||
				!ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
				return nil, refuse(BadDataFormat, "a request extension is not a valid Extension")
			}
			if critical {
				return nil, refuse(UnacceptedExtension, fmt.Sprintf("critical request extension %s is not supported", id))
			}
		}
	}
	if !body.Empty() {
		return nil, refuse(BadDataFormat, "unexpected fields after the TimeStampReq extensions")
	}
	if r.policy != nil && !slices.ContainsFunc(accepted, r.policy.Equal) {
		return nil, refuse(UnacceptedPolicy, fmt.Sprintf("policy %s is not accepted", r.policy))
	}
	return r, nil
}

// parseImprint checks MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
// hashedMessage OCTET STRING } and fills r.hash and r.hashed.
func (r *request) parseImprint(mi cryptobyte.String) *RefusedError {
	var seq, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !mi.ReadASN1(&seq, cbasn1.SEQUENCE) ||
		!seq.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1ObjectIdentifier(&oid) {
		return refuse(BadDataFormat, "messageImprint hashAlgorithm is not an AlgorithmIdentifier")
	}
	var hashed cryptobyte.String
	if !seq.ReadASN1(&hashed, cbasn1.OCTET_STRING) || !seq.Empty() {
		return refuse(BadDataFormat, "messageImprint hashedMessage is not an OCTET STRING")
	}
	switch {
	case alg.Empty():
	case string(alg) == "\x05\x00":
	default:
		return refuse(BadAlg, fmt.Sprintf("hash algorithm %s has parameters; SHA-2 takes none or NULL", oid))
	}
	r.hash = hashForOID(oid)
	if r.hash == 0 {
		name := oid.String()
		switch {
		case oid.Equal(oidSHA1):
			name = "SHA-1"
		case oid.Equal(oidMD5):
			name = "MD5"
		}
		return refuse(BadAlg, fmt.Sprintf("hash algorithm %s is not accepted; use SHA-256, SHA-384 or SHA-512", name))
	}
	if len(hashed) != r.hash.Size() {
		return refuse(BadDataFormat, fmt.Sprintf("imprint is %d bytes, %v needs %d", len(hashed), r.hash, r.hash.Size()))
	}
	r.hashed = hashed
	return nil
}

// minimalInteger reports whether b is the content of a DER INTEGER: not empty and without a
// redundant leading octet.
func minimalInteger(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if len(b) > 1 && ((b[0] == 0 && b[1]&0x80 == 0) || (b[0] == 0xff && b[1]&0x80 == 0x80)) {
		return false
	}
	return true
}
