package tsa

import (
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// FailInfo is an RFC 3161 PKIFailureInfo bit: why a request was refused.
type FailInfo int

// The PKIFailureInfo bits this TSA uses (RFC 3161 §2.4.2).
const (
	BadAlg              FailInfo = 0
	BadRequest          FailInfo = 2
	BadDataFormat       FailInfo = 5
	TimeNotAvailable    FailInfo = 14
	UnacceptedPolicy    FailInfo = 15
	UnacceptedExtension FailInfo = 16
	AddInfoNotAvailable FailInfo = 17
	SystemFailure       FailInfo = 25
)

// failInfos lists every FailInfo in a fixed order, for metrics and precomputed replies.
var failInfos = [...]FailInfo{BadAlg, BadRequest, BadDataFormat, TimeNotAvailable,
	UnacceptedPolicy, UnacceptedExtension, AddInfoNotAvailable, SystemFailure}

// String returns the ASN.1 name of the bit, as used in metric labels.
func (f FailInfo) String() string {
	switch f {
	case BadAlg:
		return "badAlg"
	case BadRequest:
		return "badRequest"
	case BadDataFormat:
		return "badDataFormat"
	case TimeNotAvailable:
		return "timeNotAvailable"
	case UnacceptedPolicy:
		return "unacceptedPolicy"
	case UnacceptedExtension:
		return "unacceptedExtension"
	case AddInfoNotAvailable:
		return "addInfoNotAvailable"
	case SystemFailure:
		return "systemFailure"
	}
	return "unknown"
}

// RefusedError is the error Timestamp returns when it refuses to stamp, and what the request
// parser returns: the failInfo that goes on the wire and a text saying what was wrong.
type RefusedError struct {
	FailInfo FailInfo
	Reason   string
}

func (e *RefusedError) Error() string {
	return "time-stamp refused (" + e.FailInfo.String() + "): " + e.Reason
}

func refuse(f FailInfo, reason string) *RefusedError {
	return &RefusedError{FailInfo: f, Reason: reason}
}

// pkiStatus values (RFC 3161 §2.4.2).
const (
	statusGranted   = 0
	statusRejection = 2
)

// encodeRejection returns a DER TimeStampResp with PKIStatus rejection, statusString text and
// failInfo f.
//
//	TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken TimeStampToken OPTIONAL }
//	PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL,
//	                             failInfo PKIFailureInfo OPTIONAL }
func encodeRejection(f FailInfo, text string) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(statusRejection)
			if text != "" {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(text)) })
				})
			}
			// A named BIT STRING in DER drops trailing zero bits: the last byte holds bit f.
			n := int(f)/8 + 1
			bits := make([]byte, n)
			bits[n-1] = 0x80 >> (uint(f) % 8)
			b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
				b.AddUint8(uint8(7 - int(f)%8))
				b.AddBytes(bits)
			})
		})
	})
	return b.BytesOrPanic()
}
