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
		issue := func(format string, a ...any) {
			msg := fmt.Sprintf(format, a...)
			sr.Issues = append(sr.Issues, msg)
			v.fail("signer %s: %s", s.ID, msg)
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
				issue("the manifest says signed, but no signer.completed leaf records it")
			}
		case "refused":
			if !hasRefusal {
				issue("the manifest says refused, but no signer.refused leaf records it")
			}
		}
		if v.m.Envelope.Status == "completed" && !hasCompleted {
			issue("the envelope is completed but this signer's signer.completed leaf is missing")
		}

		decided := hasConsent || hasRefusal
		decision := consent
		if hasRefusal && (!hasConsent || refused < consent) {
			decision = refused
		}
		if decided || signedAny || hasVerified {
			if !hasInvite {
				issue("no invitation.sent leaf before the ceremony's steps")
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
						issue("page %d of document %s (%s) was never reported read (no page.read leaf)", p, d.ID, d.Name)
						continue
					case hasInvite && idx < invited:
						issue("page %d of document %s was read (leaf #%d) before the invitation (leaf #%d)", p, d.ID, idx, invited)
					case decided && idx > decision:
						issue("page %d of document %s was read (leaf #%d) after the decision (leaf #%d)", p, d.ID, idx, decision)
					}
					if start == 0 || idx < start {
						start = idx
					}
					if idx > end {
						end = idx
					}
				}
				if di > 0 && start != 0 && start < prevEnd {
					issue("document %s was opened (leaf #%d) before document %s was read to its end (leaf #%d)", d.ID, start, v.m.Documents[di-1].ID, prevEnd)
				}
				if end > prevEnd {
					prevEnd = end
				}
				if idx, ok := first(event.DocumentRead, func(ev indexedEvent) bool { return ev.Data["document"] == d.ID }); !ok {
					issue("document %s (%s) has no document.read leaf", d.ID, d.Name)
				} else if idx < end {
					issue("document.read of %s (leaf #%d) comes before its last page.read (leaf #%d)", d.ID, idx, end)
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
						issue("required field %s of document %s was never completed (no field.completed leaf)", f.ID, d.ID)
					case decided && idx > decision:
						issue("field %s was completed (leaf #%d) after the decision (leaf #%d)", f.ID, idx, decision)
					}
				}
			}
		}
		if hasVerified || hasIssued || signedAny || hasCompleted {
			switch {
			case !hasConsent:
				issue("a code was verified or documents signed without a consent.given leaf")
			case !hasOTPSent || otpSent < consent:
				issue("no otp.sent leaf after the consent (leaf #%d)", consent)
			case !hasVerified:
				issue("no otp.verified leaf: the signature was not authorised by a code")
			case verified < otpSent:
				issue("otp.verified (leaf #%d) comes before otp.sent (leaf #%d)", verified, otpSent)
			}
			if hasRefusal {
				issue("both a refusal (leaf #%d) and a signature", refused)
			}
		}
		if signedAny || hasCompleted || v.certs[s.ID] != nil {
			switch {
			case !hasIssued:
				issue("documents signed without a certificate.issued leaf")
			case hasVerified && issuedAt < verified:
				issue("certificate.issued (leaf #%d) comes before otp.verified (leaf #%d)", issuedAt, verified)
			}
			if hasIssued {
				ev := v.byIdx[issuedAt]
				if fmt.Sprint(ev.Data["otp_leaf"]) != fmt.Sprint(verified) {
					issue("certificate.issued (leaf #%d) names otp_leaf %v, the otp.verified leaf is #%d", issuedAt, ev.Data["otp_leaf"], verified)
				}
			}
		}
		if hasCompleted {
			for _, d := range v.m.Documents {
				idx, ok := last(event.DocumentSigned, func(ev indexedEvent) bool { return ev.Data["document"] == d.ID })
				switch {
				case !ok:
					issue("document %s (%s) was never signed (no document.signed leaf)", d.ID, d.Name)
				case idx < issuedAt:
					issue("document %s was signed (leaf #%d) before the certificate was issued (leaf #%d)", d.ID, idx, issuedAt)
				case idx > completed:
					issue("document %s was signed (leaf #%d) after signer.completed (leaf #%d)", d.ID, idx, completed)
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
		v.fail("envelope %s: no envelope.created leaf", v.m.Envelope.ID)
	}
	want := map[string]event.Type{"completed": event.EnvelopeCompleted, "declined": event.EnvelopeDeclined,
		"expired": event.EnvelopeExpired, "voided": event.EnvelopeVoided, "erased": event.EnvelopeErased}
	if t, ok := want[v.m.Envelope.Status]; ok {
		if _, ok := find(t); !ok {
			v.fail("envelope %s: the manifest says %s, but no %s leaf records it", v.m.Envelope.ID, v.m.Envelope.Status, t)
		}
	}
	if v.m.Envelope.Status == "declined" {
		refused := false
		for _, ev := range v.events {
			refused = refused || ev.Type == event.SignerRefused
		}
		if !refused {
			v.fail("envelope %s: declined without a signer.refused leaf", v.m.Envelope.ID)
		}
	}
	if done, ok := find(event.EnvelopeCompleted); ok {
		for _, ev := range v.events {
			if ev.Type == event.SignerCompleted && ev.index > done {
				v.fail("envelope %s: envelope.completed (leaf #%d) comes before %s", v.m.Envelope.ID, done, leafName(ev.index, ev.Event))
			}
		}
	}
}
