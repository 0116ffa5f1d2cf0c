package evidence

import (
	"fmt"

	"github.com/paraphe/paraphe/ledger/event"
)

// ceremonies checks that each signer's events form a ceremony in the order the appliance
// enforces: invitation → every page of every document read, in document order → required
// fields → consent → code sent → code verified → certificate issued → every document signed →
// signer completed; or, after the same reading and fields, a refusal. A signer who stopped
// early (the envelope expired, was voided or declined by another) is reported as incomplete;
// every step they did reach must have all of its prerequisites.
func (v *verifier) ceremonies() {
	for _, s := range v.m.Signers {
		sr := SignerReport{ID: s.ID, Name: s.Name}
		subject := &finding{code: "signer", args: []any{s.ID}}
		issue := func(code string, a ...any) {
			f := finding{code: code, args: a}
			sr.Issues = append(sr.Issues, f.text("en"))
			v.failIn(subject, f)
		}
		var evs []indexedEvent
		for _, ev := range v.events {
			if ev.Signer == s.ID {
				evs = append(evs, ev)
			}
		}
		first := func(t event.Type, match func(indexedEvent) bool) (uint64, bool) {
			for _, ev := range evs {
				if ev.Type == t && (match == nil || match(ev)) {
					return ev.index, true
				}
			}
			return 0, false
		}
		last := func(t event.Type, match func(indexedEvent) bool) (uint64, bool) {
			var idx uint64
			found := false
			for _, ev := range evs {
				if ev.Type == t && (match == nil || match(ev)) {
					idx, found = ev.index, true
				}
			}
			return idx, found
		}
		invited, hasInvite := first(event.InvitationSent, nil)
		consent, hasConsent := first(event.ConsentGiven, nil)
		refused, hasRefusal := first(event.SignerRefused, nil)
		otpSent, hasOTPSent := first(event.OTPSent, nil)
		verified, hasVerified := last(event.OTPVerified, nil)
		issuedAt, hasIssued := last(event.CertificateIssued, nil)
		completed, hasCompleted := first(event.SignerCompleted, nil)
		_, signedAny := first(event.DocumentSigned, nil)

		outcome := "not invited"
		switch {
		case hasCompleted:
			outcome = "signed"
		case hasRefusal:
			outcome = "refused"
		case hasInvite:
			outcome = "incomplete"
		}
		sr.Outcome = outcome
		switch s.Status {
		case "signed":
			if !hasCompleted {
				issue("ceremony.signed_unrecorded")
			}
		case "refused":
			if !hasRefusal {
				issue("ceremony.refused_unrecorded")
			}
		}
		if v.m.Envelope.Status == "completed" && !hasCompleted {
			issue("ceremony.completed_missing")
		}

		decided := hasConsent || hasRefusal
		decision := consent
		if hasRefusal && (!hasConsent || refused < consent) {
			decision = refused
		}
		if decided || signedAny || hasVerified {
			if !hasInvite {
				issue("ceremony.not_invited")
			}
			// Reading: every page of every document, documents in order.
			var prevEnd uint64
			for di, d := range v.m.Documents {
				var start, end uint64
				for p := 1; p <= d.Pages; p++ {
					idx, ok := first(event.PageRead, func(ev indexedEvent) bool {
						return ev.Data["document"] == d.ID && fmt.Sprint(ev.Data["page"]) == fmt.Sprint(p)
					})
					switch {
					case !ok:
						issue("ceremony.page_unread", p, d.ID, d.Name)
						continue
					case hasInvite && idx < invited:
						issue("ceremony.page_before_invitation", p, d.ID, idx, invited)
					case decided && idx > decision:
						issue("ceremony.page_after_decision", p, d.ID, idx, decision)
					}
					if start == 0 || idx < start {
						start = idx
					}
					if idx > end {
						end = idx
					}
				}
				if di > 0 && start != 0 && start < prevEnd {
					issue("ceremony.document_order", d.ID, start, v.m.Documents[di-1].ID, prevEnd)
				}
				if end > prevEnd {
					prevEnd = end
				}
				if idx, ok := first(event.DocumentRead, func(ev indexedEvent) bool { return ev.Data["document"] == d.ID }); !ok {
					issue("ceremony.document_unread", d.ID, d.Name)
				} else if idx < end {
					issue("ceremony.document_read_early", d.ID, idx, end)
				}
				// Required fields of this signer.
				for _, f := range d.Fields {
					if f.Signer != s.ID || !f.Required {
						continue
					}
					idx, ok := last(event.FieldCompleted, func(ev indexedEvent) bool {
						return ev.Data["document"] == d.ID && ev.Data["field"] == f.ID
					})
					switch {
					case !ok:
						issue("ceremony.field_missing", f.ID, d.ID)
					case decided && idx > decision:
						issue("ceremony.field_after_decision", f.ID, idx, decision)
					}
				}
			}
		}
		if hasVerified || hasIssued || signedAny || hasCompleted {
			switch {
			case !hasConsent:
				issue("ceremony.no_consent")
			case !hasOTPSent || otpSent < consent:
				issue("ceremony.no_otp_sent", consent)
			case !hasVerified:
				issue("ceremony.no_otp_verified")
			case verified < otpSent:
				issue("ceremony.otp_order", verified, otpSent)
			}
			if hasRefusal {
				issue("ceremony.refused_and_signed", refused)
			}
		}
		if signedAny || hasCompleted || v.certs[s.ID] != nil {
			switch {
			case !hasIssued:
				issue("ceremony.no_certificate")
			case hasVerified && issuedAt < verified:
				issue("ceremony.certificate_order", issuedAt, verified)
			}
			if hasIssued {
				ev := v.byIdx[issuedAt]
				if fmt.Sprint(ev.Data["otp_leaf"]) != fmt.Sprint(verified) {
					issue("ceremony.certificate_otp_leaf", issuedAt, ev.Data["otp_leaf"], verified)
				}
			}
		}
		if hasCompleted {
			for _, d := range v.m.Documents {
				idx, ok := last(event.DocumentSigned, func(ev indexedEvent) bool { return ev.Data["document"] == d.ID })
				switch {
				case !ok:
					issue("ceremony.document_unsigned", d.ID, d.Name)
				case idx < issuedAt:
					issue("ceremony.signed_before_certificate", d.ID, idx, issuedAt)
				case idx > completed:
					issue("ceremony.signed_after_completion", d.ID, idx, completed)
				}
			}
		}
		sr.Valid = len(sr.Issues) == 0
		v.r.Signers = append(v.r.Signers, sr)
	}
}

// envelope checks the envelope's own events against its status.
func (v *verifier) envelope() {
	find := func(t event.Type) (uint64, bool) {
		for _, ev := range v.events {
			if ev.Type == t && ev.Signer == "" {
				return ev.index, true
			}
		}
		return 0, false
	}
	if _, ok := find(event.EnvelopeCreated); !ok {
		v.fail("envelope.not_created", v.m.Envelope.ID)
	}
	want := map[string]event.Type{"completed": event.EnvelopeCompleted, "declined": event.EnvelopeDeclined,
		"expired": event.EnvelopeExpired, "voided": event.EnvelopeVoided, "erased": event.EnvelopeErased}
	if t, ok := want[v.m.Envelope.Status]; ok {
		if _, ok := find(t); !ok {
			v.fail("envelope.status_unrecorded", v.m.Envelope.ID, v.m.Envelope.Status, t)
		}
	}
	if v.m.Envelope.Status == "declined" {
		refused := false
		for _, ev := range v.events {
			refused = refused || ev.Type == event.SignerRefused
		}
		if !refused {
			v.fail("envelope.declined_unrecorded", v.m.Envelope.ID)
		}
	}
	if done, ok := find(event.EnvelopeCompleted); ok {
		for _, ev := range v.events {
			if ev.Type == event.SignerCompleted && ev.index > done {
				v.fail("envelope.completed_early", v.m.Envelope.ID, done, leafName(ev.index, ev.Event))
			}
		}
	}
}
