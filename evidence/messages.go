package evidence

import (
	"fmt"
	"strings"
)

// Every failure and warning of Verify has a stable code (such as "report.seal_level") and a
// catalog entry in English and French. Report.Failures and Report.Warnings hold the English
// text (what `paraphe verify` prints and --json gives), Report.FailureCodes and
// Report.WarningCodes the codes in the same order, and Report.FailuresIn and Report.WarningsIn
// the text in another language for the public verification page.

// Languages are the languages of the catalog.
var Languages = []string{"en", "fr"}

// message is a catalog entry: a fmt format per language, over the same arguments (the French
// one may reorder them with explicit indices).
type message struct{ en, fr string }

// finding is one failure or warning: a catalog code and its arguments, optionally within a
// subject (a document or a signer) whose text comes first.
type finding struct {
	code   string
	args   []any
	within *finding
}

// localized is an argument whose text depends on the language.
type localized interface {
	in(lang string) string
}

// text renders f in lang ("en" or "fr"; anything else is English).
func (f finding) text(lang string) string {
	m, ok := catalog[f.code]
	format := m.en
	if !ok {
		format = f.code + strings.Repeat(" %v", len(f.args))
	} else if lang == "fr" && m.fr != "" {
		format = m.fr
	}
	args := make([]any, len(f.args))
	for i, a := range f.args {
		if l, ok := a.(localized); ok {
			a = l.in(lang)
		}
		args[i] = a
	}
	s := fmt.Sprintf(format, args...)
	if f.within != nil {
		s = f.within.text(lang) + s
	}
	return s
}

func (v *verifier) fail(code string, a ...any) {
	v.failIn(nil, finding{code: code, args: a})
}

// failIn records the failure f within the subject (nil: none).
func (v *verifier) failIn(within *finding, f finding) {
	f.within = within
	v.r.failures = append(v.r.failures, f)
	v.r.Failures = append(v.r.Failures, f.text("en"))
	v.r.FailureCodes = append(v.r.FailureCodes, f.code)
}

func (v *verifier) warn(code string, a ...any) {
	f := finding{code: code, args: a}
	v.r.warnings = append(v.r.warnings, f)
	v.r.Warnings = append(v.r.Warnings, f.text("en"))
	v.r.WarningCodes = append(v.r.WarningCodes, f.code)
}

// FailuresIn returns the failures in lang ("en" or "fr"). A report that was not made by Verify
// in this process (one decoded from JSON) has only the English text, which it returns.
func (r *Report) FailuresIn(lang string) []string {
	return localize(r.failures, r.Failures, lang)
}

// WarningsIn is FailuresIn for the warnings.
func (r *Report) WarningsIn(lang string) []string {
	return localize(r.warnings, r.Warnings, lang)
}

func localize(fs []finding, english []string, lang string) []string {
	if len(fs) != len(english) {
		return english
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.text(lang)
	}
	return out
}

// Message returns the text of a catalog code in lang with its arguments, and whether the code
// exists.
func Message(code, lang string, args ...any) (string, bool) {
	_, ok := catalog[code]
	return finding{code: code, args: args}.text(lang), ok
}

// leafRef names a ledger leaf in a message: "leaf #12 (otp.sent, signer alice)".
type leafRef struct {
	index  uint64
	typ    string
	signer string
}

func (l leafRef) String() string { return l.in("en") }

func (l leafRef) in(lang string) string {
	leaf, signer := "leaf #%d (%s", ", signer "
	if lang == "fr" {
		leaf, signer = "événement n° %d (%s", ", signataire "
	}
	s := fmt.Sprintf(leaf, l.index, l.typ)
	if l.signer != "" {
		s += signer + l.signer
	}
	return s + ")"
}

// level is a PAdES level in a message; empty is "no level".
type level string

func (l level) String() string { return l.in("en") }

func (l level) in(lang string) string {
	switch {
	case l != "":
		return string(l)
	case lang == "fr":
		return "aucun niveau"
	}
	return "no level"
}

// catalog holds every code of Verify's failures and warnings.
var catalog = map[string]message{
	"bundle.file_missing": {
		en: "%s: missing from the bundle",
		fr: "%s : absent du dossier",
	},
	"pki.unreadable": {
		en: "%s: %v",
		fr: "%s : %v",
	},
	"ledger.key_not_pinned": {
		en: "ledger key: the bundle's key %q is not the pinned key %q",
		fr: "clé du registre : la clé du dossier %q n'est pas la clé épinglée %q",
	},
	"ledger.key_from_bundle": {
		en: "ledger key taken from the bundle; pin it with the appliance's published key (--ledger-key) or check it against the live ledger (--ledger)",
		fr: "clé du registre prise dans le dossier ; épinglez la clé publiée par l'appliance (--ledger-key) ou comparez-la au registre en ligne (--ledger)",
	},
	"ledger.key_file_mismatch": {
		en: "%s: %q differs from the manifest's key %q",
		fr: "%s : %q diffère de la clé du manifeste %q",
	},
	"ledger.key_invalid": {
		en: "ledger key: %v",
		fr: "clé du registre : %v",
	},
	"checkpoint.invalid": {
		en: "%s: %v",
		fr: "%s : %v",
	},
	"checkpoint.manifest_mismatch": {
		en: "%s: the manifest says size %d root %s, the signed checkpoint size %d root %s",
		fr: "%s : le manifeste indique la taille %d et la racine %s, le point de contrôle signé la taille %d et la racine %s",
	},
	"checkpoint.timestamp_invalid": {
		en: "%s: the checkpoint's timestamp does not verify: %v",
		fr: "%s : l'horodatage du point de contrôle n'est pas valide : %v",
	},
	"checkpoint.timestamp_mismatch": {
		en: "manifest: the checkpoint timestamp is given as %s (%s), the token says %s (%s)",
		fr: "manifeste : l'horodatage du point de contrôle y est donné comme %s (%s), le jeton indique %s (%s)",
	},
	"checkpoint.timestamp_unlisted": {
		en: "manifest: the checkpoint's timestamp is not listed",
		fr: "manifeste : l'horodatage du point de contrôle n'y figure pas",
	},
	"leaf.order": {
		en: "leaf #%d: leaves are not in increasing index order (after #%d)",
		fr: "événement n° %d : les événements ne sont pas dans l'ordre croissant (après le n° %d)",
	},
	"leaf.invalid": {
		en: "leaf #%d: not a valid ledger event: %v",
		fr: "événement n° %d : pas un événement valide du registre : %v",
	},
	"leaf.other_envelope": {
		en: "%s: belongs to envelope %q, not %q",
		fr: "%s : appartient à l'enveloppe %q, pas à %q",
	},
	"leaf.proof_not_hex": {
		en: "%s: proof hash %d is not hexadecimal",
		fr: "%s : l'empreinte de preuve %d n'est pas hexadécimale",
	},
	"leaf.not_included": {
		en: "%s: the inclusion proof does not lead to the checkpoint: %v",
		fr: "%s : la preuve d'inclusion ne mène pas au point de contrôle : %v",
	},
	"leaf.duplicate_id": {
		en: "%s: the same event id as leaf #%d",
		fr: "%s : même identifiant que l'événement n° %d",
	},
	"manifest.salt": {
		en: "manifest: the salt is not a hexadecimal string",
		fr: "manifeste : le sel n'est pas une chaîne hexadécimale",
	},
	"commitment.mismatch": {
		en: "%s: the commitment %q does not open to the bundle's value with the bundle's salt",
		fr: "%s : l'engagement %q ne s'ouvre pas sur la valeur du dossier avec le sel du dossier",
	},
	"certificate.unreadable": {
		en: "signer %s: certificate: %v",
		fr: "signataire %s : certificat : %v",
	},
	"certificate.untrusted": {
		en: "signer %s: certificate %s does not chain to the trusted roots: %v",
		fr: "signataire %s : le certificat %s ne remonte pas aux racines de confiance : %v",
	},
	"certificate.binding_invalid": {
		en: "signer %s: certificate %s: %v",
		fr: "signataire %s : certificat %s : %v",
	},
	"certificate.no_binding": {
		en: "signer %s: certificate %s carries no binding to an otp.verified leaf",
		fr: "signataire %s : le certificat %s n'est lié à aucun événement otp.verified",
	},
	"certificate.binding_unknown_leaf": {
		en: "signer %s: certificate %s is bound to leaf #%d, which is not a verified leaf of this envelope",
		fr: "signataire %s : le certificat %s est lié à l'événement n° %d, qui n'est pas un événement vérifié de cette enveloppe",
	},
	"certificate.binding_wrong_leaf": {
		en: "signer %s: certificate %s is bound to %s, not to this signer's otp.verified event",
		fr: "signataire %s : le certificat %s est lié à %s, pas à l'événement otp.verified de ce signataire",
	},
	"certificate.binding_hash": {
		en: "signer %s: certificate %s is bound to leaf #%d with hash %x, the leaf's hash is %x",
		fr: "signataire %s : le certificat %s est lié à l'événement n° %d d'empreinte %x, l'empreinte de l'événement est %x",
	},
	"certificate.serial_mismatch": {
		en: "%s: serial %v, the certificate's is %s",
		fr: "%s : numéro de série %v, celui du certificat est %s",
	},
	"certificate.otp_leaf_mismatch": {
		en: "%s: otp_leaf %v, the certificate is bound to leaf #%d",
		fr: "%s : otp_leaf %v, le certificat est lié à l'événement n° %d",
	},
	"certificate.not_issued": {
		en: "signer %s: no certificate.issued leaf records certificate %s (SHA-256 %x)",
		fr: "signataire %s : aucun événement certificate.issued n'enregistre le certificat %s (SHA-256 %x)",
	},
	"revocation.crl_invalid": {
		en: "%s: the CRL does not verify against the issuing CA: %v",
		fr: "%s : la liste de révocation n'est pas valide pour l'AC émettrice : %v",
	},
	"revocation.crl_revoked": {
		en: "%s: the certificate of signer %s is revoked (since %s)",
		fr: "%s : le certificat du signataire %s est révoqué (depuis le %s)",
	},
	"revocation.ocsp_unknown_signer": {
		en: "%s: OCSP response for signer %q, who has no certificate in the bundle",
		fr: "%s : réponse OCSP pour le signataire %q, qui n'a pas de certificat dans le dossier",
	},
	"revocation.ocsp_invalid": {
		en: "%s: the OCSP response for signer %s does not verify: %v",
		fr: "%s : la réponse OCSP pour le signataire %s n'est pas valide : %v",
	},
	"revocation.ocsp_revoked": {
		en: "%s: OCSP says the certificate of signer %s is revoked (since %s)",
		fr: "%s : selon OCSP, le certificat du signataire %s est révoqué (depuis le %s)",
	},
	"revocation.ocsp_status_unknown": {
		en: "%s: OCSP status of signer %s's certificate is unknown",
		fr: "%s : le statut OCSP du certificat du signataire %s est inconnu",
	},
	"revocation.unknown_kind": {
		en: "%s: unknown revocation kind %q",
		fr: "%s : nature de révocation inconnue %q",
	},
	"document": {
		en: "document %s (%s): ",
		fr: "document %s (%s) : ",
	},
	"document.prepared_not_created": {
		en: "the prepared digest %s is not the one envelope.created records (%q)",
		fr: "l'empreinte de la version préparée %s n'est pas celle qu'enregistre envelope.created (%q)",
	},
	"document.final_missing": {
		en: "the envelope is completed but the bundle holds no final PDF",
		fr: "l'enveloppe est terminée mais le dossier ne contient pas de PDF final",
	},
	"document.file_missing": {
		en: "%s is missing from the bundle",
		fr: "%s est absent du dossier",
	},
	"document.digest_mismatch": {
		en: "%s has SHA-256 %s, the manifest says %s",
		fr: "%s a pour SHA-256 %s, le manifeste indique %s",
	},
	"document.unreadable": {
		en: "%s is not a readable PDF: %v",
		fr: "%s n'est pas un PDF lisible : %v",
	},
	"document.signatures_invalid": {
		en: "%s: the PAdES signatures do not verify: %s",
		fr: "%s : les signatures PAdES ne sont pas valides : %s",
	},
	"document.pages_mismatch": {
		en: "%s has %d pages, the manifest says %d",
		fr: "%s a %d pages, le manifeste en indique %d",
	},
	"document.prepared_not_revision": {
		en: "the prepared version %s is not a revision of %s",
		fr: "la version préparée %s n'est pas une révision de %s",
	},
	"document.signed_not_revision": {
		en: "%s: the signed version %v is not a revision of %s",
		fr: "%s : la version signée %v n'est pas une révision de %s",
	},
	"document.consented_not_revision": {
		en: "%s: the version consented to (%s) is not a revision of %s",
		fr: "%s : la version acceptée (%s) n'est pas une révision de %s",
	},
	"document.signature_missing": {
		en: "no signature by signer %s's certificate %s, though document.signed records one",
		fr: "aucune signature par le certificat %[2]s du signataire %[1]s, bien que document.signed en enregistre une",
	},
	"document.signature_unrecorded": {
		en: "signed by signer %s's certificate %s with no document.signed leaf",
		fr: "signé par le certificat %[2]s du signataire %[1]s sans événement document.signed",
	},
	"document.signature_revision": {
		en: "signer %s's signature ends its revision at byte %d, not at the version %s that document.signed records",
		fr: "la signature du signataire %s termine sa révision à l'octet %d, pas à la version %s qu'enregistre document.signed",
	},
	"timestamp.mismatch": {
		en: "manifest: the timestamp of signer %s on document %s is given as %s, the PDF's token says %s",
		fr: "manifeste : l'horodatage du signataire %s sur le document %s y est donné comme %s, le jeton du PDF indique %s",
	},
	"timestamp.unlisted": {
		en: "manifest: the timestamp of signer %s on document %s is not listed",
		fr: "manifeste : l'horodatage du signataire %s sur le document %s n'y figure pas",
	},
	"report.unreadable": {
		en: "%s: not a readable PDF: %v",
		fr: "%s : pas un PDF lisible : %v",
	},
	"report.seal_invalid": {
		en: "%s: the platform seal does not verify: %s",
		fr: "%s : le sceau de la plateforme n'est pas valide : %s",
	},
	"report.not_sealed": {
		en: "%s: not sealed in the %s field",
		fr: "%s : pas scellé dans le champ %s",
	},
	"report.wrong_seal": {
		en: "%s: sealed by certificate %s, not by the platform seal %s",
		fr: "%s : scellé par le certificat %s, pas par le sceau de la plateforme %s",
	},
	"report.seal_level": {
		en: "%s: the platform seal reaches PAdES %s, not B-LTA (no document timestamp over its validation data)",
		fr: "%s : le sceau de la plateforme atteint le niveau PAdES %s, pas B-LTA (aucun horodatage de document sur ses données de validation)",
	},
	"report.unknown_format": {
		en: "%s: report format %d is unknown to this verifier; its content was not compared with the bundle",
		fr: "%s : le format de rapport %d est inconnu de ce vérificateur ; son contenu n'a pas été comparé au dossier",
	},
	"report.render": {
		en: "%s: %v",
		fr: "%s : %v",
	},
	"report.content_mismatch": {
		en: "%s: its content is not the rendering of this bundle (the report says something the bundle does not back)",
		fr: "%s : son contenu n'est pas le rendu de ce dossier (le rapport affirme ce que le dossier n'étaye pas)",
	},
	"live.no_checkpoint": {
		en: "live ledger %s: the bundle's checkpoint did not verify; nothing to compare",
		fr: "registre en ligne %s : le point de contrôle du dossier n'est pas valide ; rien à comparer",
	},
	"live.unreachable": {
		en: "live ledger %s: %v",
		fr: "registre en ligne %s : %v",
	},
	"live.key_mismatch": {
		en: "live ledger %s: its key %q is not the key the bundle's checkpoint was checked with (%q)",
		fr: "registre en ligne %s : sa clé %q n'est pas celle avec laquelle le point de contrôle du dossier a été vérifié (%q)",
	},
	"live.checkpoint_invalid": {
		en: "live ledger %s: its checkpoint: %v",
		fr: "registre en ligne %s : son point de contrôle : %v",
	},
	"live.truncated": {
		en: "live ledger %s: its checkpoint (size %d) is smaller than the bundle's (size %d): the ledger was truncated or forked",
		fr: "registre en ligne %s : son point de contrôle (taille %d) est plus petit que celui du dossier (taille %d) : le registre a été tronqué ou a bifurqué",
	},
	"live.consistency_proof": {
		en: "live ledger %s: consistency proof: %v",
		fr: "registre en ligne %s : preuve de cohérence : %v",
	},
	"live.inconsistent": {
		en: "live ledger %s: the bundle's checkpoint (size %d) is not consistent with the live one (size %d): %v",
		fr: "registre en ligne %s : le point de contrôle du dossier (taille %d) n'est pas cohérent avec celui en ligne (taille %d) : %v",
	},
	"signer": {
		en: "signer %s: ",
		fr: "signataire %s : ",
	},
	"ceremony.signed_unrecorded": {
		en: "the manifest says signed, but no signer.completed leaf records it",
		fr: "le manifeste indique « signé », mais aucun événement signer.completed ne l'enregistre",
	},
	"ceremony.refused_unrecorded": {
		en: "the manifest says refused, but no signer.refused leaf records it",
		fr: "le manifeste indique « refusé », mais aucun événement signer.refused ne l'enregistre",
	},
	"ceremony.completed_missing": {
		en: "the envelope is completed but this signer's signer.completed leaf is missing",
		fr: "l'enveloppe est terminée mais l'événement signer.completed de ce signataire manque",
	},
	"ceremony.not_invited": {
		en: "no invitation.sent leaf before the ceremony's steps",
		fr: "aucun événement invitation.sent avant les étapes de la cérémonie",
	},
	"ceremony.page_unread": {
		en: "page %d of document %s (%s) was never reported read (no page.read leaf)",
		fr: "la page %d du document %s (%s) n'a jamais été signalée comme lue (aucun événement page.read)",
	},
	"ceremony.page_before_invitation": {
		en: "page %d of document %s was read (leaf #%d) before the invitation (leaf #%d)",
		fr: "la page %d du document %s a été lue (événement n° %d) avant l'invitation (événement n° %d)",
	},
	"ceremony.page_after_decision": {
		en: "page %d of document %s was read (leaf #%d) after the decision (leaf #%d)",
		fr: "la page %d du document %s a été lue (événement n° %d) après la décision (événement n° %d)",
	},
	"ceremony.document_order": {
		en: "document %s was opened (leaf #%d) before document %s was read to its end (leaf #%d)",
		fr: "le document %s a été ouvert (événement n° %d) avant que le document %s soit lu jusqu'au bout (événement n° %d)",
	},
	"ceremony.document_unread": {
		en: "document %s (%s) has no document.read leaf",
		fr: "le document %s (%s) n'a pas d'événement document.read",
	},
	"ceremony.document_read_early": {
		en: "document.read of %s (leaf #%d) comes before its last page.read (leaf #%d)",
		fr: "document.read de %s (événement n° %d) précède son dernier page.read (événement n° %d)",
	},
	"ceremony.field_missing": {
		en: "required field %s of document %s was never completed (no field.completed leaf)",
		fr: "le champ obligatoire %s du document %s n'a jamais été rempli (aucun événement field.completed)",
	},
	"ceremony.field_after_decision": {
		en: "field %s was completed (leaf #%d) after the decision (leaf #%d)",
		fr: "le champ %s a été rempli (événement n° %d) après la décision (événement n° %d)",
	},
	"ceremony.no_consent": {
		en: "a code was verified or documents signed without a consent.given leaf",
		fr: "un code a été vérifié ou des documents signés sans événement consent.given",
	},
	"ceremony.no_otp_sent": {
		en: "no otp.sent leaf after the consent (leaf #%d)",
		fr: "aucun événement otp.sent après le consentement (événement n° %d)",
	},
	"ceremony.no_otp_verified": {
		en: "no otp.verified leaf: the signature was not authorised by a code",
		fr: "aucun événement otp.verified : la signature n'a pas été autorisée par un code",
	},
	"ceremony.otp_order": {
		en: "otp.verified (leaf #%d) comes before otp.sent (leaf #%d)",
		fr: "otp.verified (événement n° %d) précède otp.sent (événement n° %d)",
	},
	"ceremony.refused_and_signed": {
		en: "both a refusal (leaf #%d) and a signature",
		fr: "à la fois un refus (événement n° %d) et une signature",
	},
	"ceremony.no_certificate": {
		en: "documents signed without a certificate.issued leaf",
		fr: "documents signés sans événement certificate.issued",
	},
	"ceremony.certificate_order": {
		en: "certificate.issued (leaf #%d) comes before otp.verified (leaf #%d)",
		fr: "certificate.issued (événement n° %d) précède otp.verified (événement n° %d)",
	},
	"ceremony.certificate_otp_leaf": {
		en: "certificate.issued (leaf #%d) names otp_leaf %v, the otp.verified leaf is #%d",
		fr: "certificate.issued (événement n° %d) indique otp_leaf %v, l'événement otp.verified est le n° %d",
	},
	"ceremony.document_unsigned": {
		en: "document %s (%s) was never signed (no document.signed leaf)",
		fr: "le document %s (%s) n'a jamais été signé (aucun événement document.signed)",
	},
	"ceremony.signed_before_certificate": {
		en: "document %s was signed (leaf #%d) before the certificate was issued (leaf #%d)",
		fr: "le document %s a été signé (événement n° %d) avant la délivrance du certificat (événement n° %d)",
	},
	"ceremony.signed_after_completion": {
		en: "document %s was signed (leaf #%d) after signer.completed (leaf #%d)",
		fr: "le document %s a été signé (événement n° %d) après signer.completed (événement n° %d)",
	},
	"envelope.not_created": {
		en: "envelope %s: no envelope.created leaf",
		fr: "enveloppe %s : aucun événement envelope.created",
	},
	"envelope.status_unrecorded": {
		en: "envelope %s: the manifest says %s, but no %s leaf records it",
		fr: "enveloppe %s : le manifeste indique %s, mais aucun événement %s ne l'enregistre",
	},
	"envelope.declined_unrecorded": {
		en: "envelope %s: declined without a signer.refused leaf",
		fr: "enveloppe %s : refusée sans événement signer.refused",
	},
	"envelope.completed_early": {
		en: "envelope %s: envelope.completed (leaf #%d) comes before %s",
		fr: "enveloppe %s : envelope.completed (événement n° %d) précède %s",
	},
}
