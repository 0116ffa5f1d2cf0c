package evidence

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ledger/event"
)

// SealField is the signature field of the report that the platform seal fills
// (pades.SealFieldName: pades.Seal signs it without rewriting the report).
const SealField = "ParapheSeal"

// eventLabels are the French and English names of the events in the timeline.
var eventLabels = map[event.Type][2]string{
	event.EnvelopeCreated:   {"Enveloppe créée", "Envelope created"},
	event.EnvelopeSent:      {"Enveloppe envoyée", "Envelope sent"},
	event.InvitationSent:    {"Invitation envoyée", "Invitation sent"},
	event.ReminderSent:      {"Relance envoyée", "Reminder sent"},
	event.LinkOpened:        {"Lien ouvert", "Link opened"},
	event.PageRead:          {"Page lue", "Page read"},
	event.DocumentRead:      {"Document lu", "Document read"},
	event.FieldCompleted:    {"Champ rempli", "Field completed"},
	event.ConsentGiven:      {"Consentement donné", "Consent given"},
	event.SignerRefused:     {"Refus motivé", "Refused with a reason"},
	event.OTPSent:           {"Code envoyé par SMS", "Code sent by SMS"},
	event.OTPFailed:         {"Code erroné", "Wrong code"},
	event.OTPLocked:         {"Code bloqué", "Code locked"},
	event.OTPVerified:       {"Code vérifié", "Code verified"},
	event.CertificateIssued: {"Certificat délivré", "Certificate issued"},
	event.DocumentSigned:    {"Document signé", "Document signed"},
	event.SignerCompleted:   {"Signataire terminé", "Signer completed"},
	event.EnvelopeCompleted: {"Enveloppe complète", "Envelope completed"},
	event.EnvelopeDeclined:  {"Enveloppe refusée", "Envelope declined"},
	event.EnvelopeExpired:   {"Enveloppe expirée", "Envelope expired"},
	event.EnvelopeVoided:    {"Enveloppe annulée", "Envelope voided"},
	event.EnvelopeErased:    {"Données effacées", "Data erased"},
}

const timeLayout = "2006-01-02 15:04:05 UTC"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(timeLayout)
}

// RenderReport renders the evidence report of a bundle: a PDF in French and English with an
// empty signature field for the platform seal. It reads only the manifest (never its file list
// nor the report itself), the leaves and the signer certificates, and it is deterministic: the
// same bundle always gives the same bytes, which lets Verify check the sealed report.
func RenderReport(b *Bundle) ([]byte, error) {
	m := &b.Manifest
	p := &textPDF{}
	h1 := func(s string) { p.space(6); p.text(fontBold, 15, 0, s) }
	h2 := func(s string) { p.space(10); p.text(fontBold, 11.5, 0, s); p.space(2) }
	kv := func(indent float64, k, v string) { p.text(fontRegular, 9, indent, k+" : "+v) }
	mono := func(indent float64, k, v string) {
		p.text(fontRegular, 9, indent, k)
		p.text(fontMono, 8, indent+12, v)
	}

	h1("Rapport de preuve — Evidence report")
	p.text(fontRegular, 9, 0, "Chaque ligne de ce rapport est vérifiable avec le dossier de preuve (paraphe verify). "+
		"Every line of this report can be checked against the evidence bundle (paraphe verify).")
	p.space(4)
	kv(0, "Enveloppe / Envelope", m.Envelope.Title)
	kv(0, "Identifiant / Identifier", m.Envelope.ID)
	kv(0, "Statut / Status", m.Envelope.Status)
	kv(0, "Ordre / Order", m.Envelope.Order)
	kv(0, "Créée / Created", fmtTime(m.Envelope.CreatedAt))
	kv(0, "Close / Closed", fmtTime(m.Envelope.ClosedAt))
	if m.Envelope.Sender != "" {
		kv(0, "Expéditeur / Sender", m.Envelope.Sender)
	}
	kv(0, "Rapport établi / Report generated", fmtTime(m.GeneratedAt))
	scope := "toutes les parties / every party"
	if m.Scope == ScopeSigner {
		scope = "signataire / signer " + m.ScopeSigner
	}
	kv(0, "Portée / Scope", scope)

	events, err := parseLeaves(m.Leaves)
	if err != nil {
		return nil, err
	}

	h2("1. Parties")
	for _, s := range m.Signers {
		who := s.Name
		if s.Email != "" {
			who += " <" + s.Email + ">"
		}
		if who == "" {
			who = "(non divulgué / not disclosed)"
		}
		p.text(fontBold, 9.5, 0, fmt.Sprintf("Signataire / Signer %d : %s", s.Order, who))
		kv(12, "Identifiant / Identifier", s.ID)
		kv(12, "Statut / Status", s.Status)
		if s.Phone != "" {
			kv(12, "Téléphone / Phone", s.Phone)
		}
		if s.Locale != "" {
			kv(12, "Langue / Language", s.Locale)
		}
		for _, id := range sortedKeys(s.Values) {
			kv(12, "Champ / Field "+id, s.Values[id])
		}
		if s.Refusal != "" {
			kv(12, "Motif du refus / Reason for refusing", s.Refusal)
		}
	}

	h2("2. Documents")
	for _, d := range m.Documents {
		p.text(fontBold, 9.5, 0, fmt.Sprintf("%s (%s), %d page(s)", d.Name, d.ID, d.Pages))
		mono(12, "Original téléversé / Original as uploaded (SHA-256)", d.Original)
		mono(12, "Préparé, lu par les signataires / Prepared, read by the signers (SHA-256)", d.Prepared)
		for _, ev := range events {
			if ev.Type == event.DocumentSigned && ev.Data["document"] == d.ID {
				mono(12, fmt.Sprintf("Après la signature de / After the signature of %s (registre / ledger #%d)", ev.Signer, ev.index), fmt.Sprint(ev.Data["digest"]))
			}
		}
		if d.Final != "" {
			mono(12, "Final, archivé (PAdES B-LTA) / Final, archived (PAdES B-LTA) (SHA-256)", d.Final)
		}
		for _, f := range d.Fields {
			req := "facultatif / optional"
			if f.Required {
				req = "obligatoire / required"
			}
			kv(12, "Champ / Field "+f.ID, fmt.Sprintf("« %s », page %d, %s, %s", f.Label, f.Page, f.Signer, req))
		}
	}

	h2("3. Certificats délivrés / Certificates issued")
	issued := false
	for _, s := range m.Signers {
		if s.Certificate == "" {
			continue
		}
		cert, err := bundleCertificate(b, s.Certificate)
		if err != nil {
			return nil, fmt.Errorf("evidence: certificate of signer %s: %w", s.ID, err)
		}
		issued = true
		d := sha256.Sum256(cert.Raw)
		p.text(fontBold, 9.5, 0, fmt.Sprintf("%s : %s", s.ID, cert.Subject.CommonName))
		kv(12, "Sujet / Subject", cert.Subject.String())
		if len(cert.EmailAddresses) > 0 {
			kv(12, "Courriel / Email", strings.Join(cert.EmailAddresses, ", "))
		}
		kv(12, "Émetteur / Issuer", cert.Issuer.String())
		kv(12, "Numéro de série / Serial number", cert.SerialNumber.Text(16))
		kv(12, "Validité / Validity", fmtTime(cert.NotBefore)+" → "+fmtTime(cert.NotAfter))
		mono(12, "Empreinte / Fingerprint (SHA-256)", hex.EncodeToString(d[:]))
		if bd, ok, err := ca.ParseBinding(cert); err == nil && ok {
			mono(12, fmt.Sprintf("Lié à la vérification du code, feuille / Bound to the code verification, leaf #%d", bd.LeafIndex), hex.EncodeToString(bd.LeafHash))
		}
	}
	if !issued {
		p.text(fontRegular, 9, 0, "Aucun / None")
	}

	h2("4. Horodatages / Timestamps")
	for _, t := range m.Timestamps {
		what := "Point de contrôle du registre / Ledger checkpoint"
		if t.Kind == "signature" {
			what = fmt.Sprintf("Signature de / Signature of %s, document %s", t.Signer, t.Document)
		}
		line := what + " : " + fmtTime(t.Time)
		if t.TSA != "" {
			line += " (" + t.TSA + ")"
		}
		p.text(fontRegular, 9, 0, line)
	}

	h2("5. Registre / Ledger")
	kv(0, "Origine / Origin", m.Ledger.Origin)
	mono(0, "Clé de vérification / Verifier key", m.Ledger.Key)
	kv(0, "Taille du point de contrôle / Checkpoint size", fmt.Sprint(m.Ledger.Size))
	mono(0, "Racine / Root hash", m.Ledger.Root)
	kv(0, "Événements de l'enveloppe / Events of the envelope", fmt.Sprint(len(m.Leaves)))

	h2("6. Chronologie / Timeline")
	p.text(fontRegular, 8.5, 0, "# registre / ledger index — date (UTC) — événement / event — signataire / signer — détails / details")
	for _, ev := range events {
		label, ok := eventLabels[ev.Type]
		name := string(ev.Type)
		if ok {
			name = label[0] + " / " + label[1]
		}
		line := fmt.Sprintf("#%d  %s  %s", ev.index, fmtTime(ev.At), name)
		if ev.Signer != "" {
			line += "  [" + ev.Signer + "]"
		}
		if d := details(ev.Event); d != "" {
			line += "  " + d
		}
		p.text(fontRegular, 8.5, 0, line)
	}
	return p.bytes(SealField, "Rapport de preuve / Evidence report "+m.Envelope.ID), nil
}

// details is the public part of an event's data for the timeline; commitments are shown as
// such (their clear values are in the parties section).
func details(ev event.Event) string {
	var parts []string
	for _, k := range sortedKeys(ev.Data) {
		v := ev.Data[k]
		switch x := v.(type) {
		case map[string]string:
			for _, dk := range sortedKeys(x) {
				parts = append(parts, fmt.Sprintf("%s.%s=%s", k, dk, short(x[dk])))
			}
		case string:
			parts = append(parts, k+"="+short(x))
		default:
			parts = append(parts, fmt.Sprintf("%s=%v", k, x))
		}
	}
	return strings.Join(parts, " ")
}

func short(s string) string {
	if len(s) == 64 {
		return s[:16] + "…"
	}
	return s
}

// indexedEvent is a parsed leaf and its index.
type indexedEvent struct {
	event.Event
	index uint64
	leaf  []byte
}

func parseLeaves(ls []Leaf) ([]indexedEvent, error) {
	out := make([]indexedEvent, 0, len(ls))
	for _, l := range ls {
		ev, err := event.Parse([]byte(l.Leaf))
		if err != nil {
			return nil, fmt.Errorf("evidence: leaf %d: %w", l.Index, err)
		}
		out = append(out, indexedEvent{Event: ev, index: l.Index, leaf: []byte(l.Leaf)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out, nil
}

func bundleCertificate(b *Bundle, name string) (*x509.Certificate, error) {
	content, ok := b.Files[name]
	if !ok {
		return nil, fmt.Errorf("file %q is not in the bundle", name)
	}
	cs, err := parsePEM(content)
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", name, err)
	}
	return cs[0], nil
}

func parsePEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
