package ceremony

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a rule violation or a bad input: a machine-readable Code, the HTTP status that the
// web layer answers with, and a message for humans. When a step returns an *Error, nothing was
// changed unless the rule itself is a ceremony step (a wrong code is recorded as otp.failed).
type Error struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Detail  map[string]any `json:"detail,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func ruleErr(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) with(k string, v any) *Error {
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	e.Detail[k] = v
	return e
}

// AsError returns the *Error in err's chain, if any. A stored document that no longer matches
// its digest (ErrCorrupt) is one too, with status 500 and CodeDocumentDamaged: the signer or
// sender learns what is wrong, the operator restores the file (the web layer logs it).
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	if errors.Is(err, ErrCorrupt) {
		return &Error{Status: http.StatusInternalServerError, Code: CodeDocumentDamaged,
			Message: "a stored document no longer matches its digest; the operator must restore it from a backup"}, true
	}
	return nil, false
}

// Error codes. They are part of the public protocol (docs/API.md).
const (
	CodeDocumentDamaged    = "document_damaged"
	CodeEnvelopeNotFound   = "envelope_not_found"
	CodeEnvelopeNotActive  = "envelope_not_active"
	CodeEnvelopeNotDraft   = "envelope_not_draft"
	CodeSignerNotFound     = "signer_not_found"
	CodeNotInvited         = "signer_not_invited"
	CodeSignerFinished     = "signer_finished"
	CodeSigning            = "signing_in_progress"
	CodeLocked             = "code_locked"
	CodeDocumentNotFound   = "document_not_found"
	CodeDocumentLocked     = "document_locked"
	CodeNotCurrentDocument = "not_current_document"
	CodePageOutOfRange     = "page_out_of_range"
	CodeFieldNotFound      = "field_not_found"
	CodeFieldNotYours      = "field_not_yours"
	CodeFieldInvalid       = "field_invalid"
	CodeFieldsFrozen       = "fields_frozen"
	CodeIncomplete         = "reading_incomplete"
	CodeReasonRequired     = "reason_required"
	CodeReasonTooLong      = "reason_too_long"
	CodeConsentGiven       = "consent_already_given"
	CodeConsentRequired    = "consent_required"
	CodeConsentMismatch    = "consent_text_mismatch"
	CodeNoCode             = "no_active_code"
	CodeCodeFormat         = "code_malformed"
	CodeCodeWrong          = "code_wrong"
	CodeCodeExpired        = "code_expired"
	CodeResendTooSoon      = "code_resend_too_soon"
	CodeSendLimit          = "code_send_limit"
	CodeDeliveryFailed     = "delivery_failed"
	CodeNotSigned          = "document_not_signed"
	CodeNotLocked          = "signer_not_locked"
)

func conflict(code, format string, args ...any) *Error {
	return ruleErr(http.StatusConflict, code, format, args...)
}

func unprocessable(code, format string, args ...any) *Error {
	return ruleErr(http.StatusUnprocessableEntity, code, format, args...)
}

func notFound(code, format string, args ...any) *Error {
	return ruleErr(http.StatusNotFound, code, format, args...)
}
