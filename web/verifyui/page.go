package verifyui

// messages are the page's texts in French and English.
var messages = map[string]map[string]string{
	"fr": {
		"title":        "Vérifier un document signé ou un dossier de preuve",
		"intro":        "Déposez un PDF signé ou un dossier de preuve (.zip). Il est vérifié en mémoire puis oublié : rien n'est conservé.",
		"file":         "Fichier",
		"submit":       "Vérifier",
		"switch":       "English",
		"valid":        "VALIDE",
		"invalid":      "NON VALIDE",
		"level":        "Niveau PAdES",
		"pages":        "Pages",
		"signatures":   "Signatures",
		"signer":       "Signataire",
		"timestamp":    "Horodatage",
		"kind":         "Nature",
		"problems":     "Problèmes",
		"envelope":     "Enveloppe",
		"status":       "Statut",
		"checkpoint":   "Point de contrôle du registre",
		"leaves":       "Événements du registre",
		"documents":    "Documents",
		"signers":      "Signataires",
		"outcome":      "Issue",
		"failures":     "Échecs",
		"warnings":     "Avertissements",
		"commitments":  "Engagements ouverts",
		"report_seal":  "Sceau du rapport de preuve",
		"offline":      "La même vérification hors ligne : paraphe verify FICHIER --root racine.pem",
		"cross_site":   "Les envois depuis un autre site sont refusés.",
		"busy":         "Trop de vérifications en cours ; réessayez dans un instant.",
		"bad_upload":   "Choisissez un fichier à vérifier.",
		"too_large":    "Le fichier est trop volumineux.",
		"unreadable":   "Le fichier ne peut pas être lu :",
		"unknown_kind": "Ce fichier n'est ni un PDF ni un dossier de preuve.",

		"status.draft":        "brouillon",
		"status.sent":         "envoyée",
		"status.completed":    "terminée",
		"status.declined":     "refusée",
		"status.expired":      "expirée",
		"status.voided":       "annulée",
		"status.erased":       "effacée",
		"outcome.signed":      "a signé",
		"outcome.refused":     "a refusé",
		"outcome.incomplete":  "n'a pas terminé",
		"outcome.not invited": "non invité",
	},
	"en": {
		"title":        "Verify a signed document or an evidence bundle",
		"intro":        "Upload a signed PDF or an evidence bundle (.zip). It is verified in memory and then forgotten: nothing is kept.",
		"file":         "File",
		"submit":       "Verify",
		"switch":       "Français",
		"valid":        "VALID",
		"invalid":      "NOT VALID",
		"level":        "PAdES level",
		"pages":        "Pages",
		"signatures":   "Signatures",
		"signer":       "Signer",
		"timestamp":    "Timestamp",
		"kind":         "Kind",
		"problems":     "Problems",
		"envelope":     "Envelope",
		"status":       "Status",
		"checkpoint":   "Ledger checkpoint",
		"leaves":       "Ledger events",
		"documents":    "Documents",
		"signers":      "Signers",
		"outcome":      "Outcome",
		"failures":     "Failures",
		"warnings":     "Warnings",
		"commitments":  "Commitments opened",
		"report_seal":  "Seal of the evidence report",
		"offline":      "The same check offline: paraphe verify FILE --root root.pem",
		"cross_site":   "Uploads from another site are refused.",
		"busy":         "Too many verifications at once; try again in a moment.",
		"bad_upload":   "Choose a file to verify.",
		"too_large":    "The file is too large.",
		"unreadable":   "The file cannot be read:",
		"unknown_kind": "This file is neither a PDF nor an evidence bundle.",
	},
}

const pageTemplate = `<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.L.title}}</title>
<link rel="stylesheet" href="/verify/assets/verify.css">
</head>
<body>
<header><h1>{{.L.title}}</h1><a href="/verify?lang={{.Other}}" lang="{{.Other}}">{{.L.switch}}</a></header>
<p>{{.L.intro}}</p>
<form method="post" action="/verify?lang={{.Lang}}" enctype="multipart/form-data">
<label>{{.L.file}} <input type="file" name="file" accept=".pdf,.zip,application/pdf,application/zip" required></label>
<button type="submit">{{.L.submit}}</button>
</form>
{{if .Error}}<p class="invalid" role="alert">{{.Error}}</p>{{end}}
{{with .PDF}}
<section>
<h2>{{$.File}} : {{if .Valid}}<span class="valid">{{$.L.valid}}</span>{{else}}<span class="invalid">{{$.L.invalid}}</span>{{end}}</h2>
<p>{{$.L.level}} : {{.Level}} — {{$.L.pages}} : {{.Pages}}</p>
<table><tr><th>{{$.L.kind}}</th><th>{{$.L.signer}}</th><th>{{$.L.timestamp}}</th><th>{{$.L.problems}}</th></tr>
{{range .Signatures}}<tr><td>{{.Kind}}{{if .Valid}} ✓{{else}} ✗{{end}}</td><td>{{with .Signer}}{{.Subject}}{{end}}</td><td>{{with .Timestamp}}{{.Time.UTC.Format "2006-01-02 15:04:05 UTC"}}{{end}}</td><td>{{range .Problems}}{{.}}<br>{{end}}</td></tr>
{{end}}</table>
{{if .Problems}}<ul>{{range .Problems}}<li class="fail">{{.}}</li>{{end}}</ul>{{end}}
</section>
{{end}}
{{with .Bundle}}
<section>
<h2>{{$.File}} : {{if .Valid}}<span class="valid">{{$.L.valid}}</span>{{else}}<span class="invalid">{{$.L.invalid}}</span>{{end}}</h2>
<p>{{$.L.envelope}} : {{.Title}} (<code>{{.Envelope}}</code>) — {{$.L.status}} : {{or (index $.L (print "status." .Status)) .Status}}</p>
<p>{{$.L.checkpoint}} : {{.Checkpoint.Origin}} #{{.Checkpoint.Size}} — {{.Checkpoint.Time.UTC.Format "2006-01-02 15:04:05 UTC"}} — {{$.L.leaves}} : {{.Leaves}} — {{$.L.commitments}} : {{.Commitment.Opened}}</p>
<h3>{{$.L.documents}}</h3>
<table>{{range .Documents}}<tr><td>{{.Name}}</td><td>{{if .Valid}}<span class="valid">✓</span>{{else}}<span class="invalid">✗</span>{{end}} {{.Level}}</td><td><code>{{.Final}}</code></td></tr>{{end}}</table>
<h3>{{$.L.signers}}</h3>
<table>{{range .Signers}}<tr><td>{{.Name}} (<code>{{.ID}}</code>)</td><td>{{or (index $.L (print "outcome." .Outcome)) .Outcome}}</td><td>{{if .Valid}}<span class="valid">✓</span>{{else}}<span class="invalid">✗</span>{{end}}</td></tr>{{end}}</table>
{{with .Report}}<p>{{$.L.report_seal}} : {{if .Valid}}<span class="valid">✓</span>{{else}}<span class="invalid">✗</span>{{end}} {{.Level}}</p>{{end}}
{{if $.Failures}}<h3>{{$.L.failures}}</h3><ul>{{range $i, $f := $.Failures}}<li class="fail" data-code="{{index $.Bundle.FailureCodes $i}}">{{$f}}</li>{{end}}</ul>{{end}}
{{if $.Warnings}}<h3>{{$.L.warnings}}</h3><ul>{{range $i, $w := $.Warnings}}<li data-code="{{index $.Bundle.WarningCodes $i}}">{{$w}}</li>{{end}}</ul>{{end}}
</section>
{{end}}
<p class="note">{{.L.offline}}</p>
</body>
</html>
`
