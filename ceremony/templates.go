package ceremony

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
)

// mailData is what the email and SMS templates see.
type mailData struct {
	// Organization is the name of the organisation the envelope is sent for (its brand).
	Organization string
	// Logo says that the HTML email embeds the organisation's logo (Content-ID logoCID).
	Logo       bool
	SignerName string
	Title      string
	Message    string
	Link       string
	Expires    string
	Code       string
	Minutes    int
	Documents  []string
}

type mailTexts struct {
	Subject, Intro, Button, Outro string
}

// catalog holds the texts of each message kind in each locale.
var catalog = map[string]map[string]mailTexts{
	"fr": {
		"invitation": {"{{.Organization}} vous invite à signer « {{.Title}} »",
			"Bonjour {{.SignerName}},\n\n{{.Organization}} vous invite à lire et signer « {{.Title}} ».",
			"Accéder aux documents",
			"Ce lien est personnel : ne le transférez pas. Il expire le {{.Expires}}."},
		"reminder": {"Rappel : « {{.Title}} » attend votre signature",
			"Bonjour {{.SignerName}},\n\n« {{.Title}} » attend toujours votre lecture et votre signature.",
			"Accéder aux documents",
			"Ce lien est personnel : ne le transférez pas. Il expire le {{.Expires}}."},
		"completed": {"« {{.Title}} » est signé par toutes les parties",
			"Bonjour {{.SignerName}},\n\nToutes les parties ont signé « {{.Title}} ». Vous trouverez les documents signés en pièces jointes.",
			"", "Conservez ces documents : leurs signatures sont vérifiables."},
		"code": {"", "Paraphe : votre code de signature est {{.Code}}. Il est valable {{.Minutes}} minutes. Ne le communiquez à personne.", "", ""},
	},
	"en": {
		"invitation": {"{{.Organization}} invites you to sign “{{.Title}}”",
			"Hello {{.SignerName}},\n\n{{.Organization}} invites you to read and sign “{{.Title}}”.",
			"Access the documents",
			"This link is personal: do not forward it. It expires on {{.Expires}}."},
		"reminder": {"Reminder: “{{.Title}}” awaits your signature",
			"Hello {{.SignerName}},\n\n“{{.Title}}” is still waiting for you to read and sign it.",
			"Access the documents",
			"This link is personal: do not forward it. It expires on {{.Expires}}."},
		"completed": {"“{{.Title}}” is signed by every party",
			"Hello {{.SignerName}},\n\nEvery party has signed “{{.Title}}”. The signed documents are attached.",
			"", "Keep these documents: their signatures can be verified."},
		"code": {"", "Paraphe: your signing code is {{.Code}}. It is valid for {{.Minutes}} minutes. Never share it.", "", ""},
	},
}

const textLayout = `{{.Intro}}
{{if .Data.Message}}
« {{.Data.Message}} »
{{end}}{{if .Data.Link}}
{{.Button}} : {{.Data.Link}}
{{end}}
{{.Outro}}

— {{.Data.Organization}}
`

var htmlLayout = htmltemplate.Must(htmltemplate.New("mail").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:sans-serif;color:#1a1a1a;max-width:36em;margin:auto">
<p style="margin:1em 0 1.5em;font-size:1.1em">{{if .Data.Logo}}<img src="cid:` + logoCID + `" alt="" style="max-height:48px;max-width:200px;vertical-align:middle;margin-right:.5em">{{end}}<strong>{{.Data.Organization}}</strong></p>
{{range .IntroLines}}<p>{{.}}</p>{{end}}
{{if .Data.Message}}<blockquote style="border-left:3px solid #888;padding-left:1em">{{.Data.Message}}</blockquote>{{end}}
{{if .Data.Link}}<p><a href="{{.Data.Link}}" style="display:inline-block;background:#1d4ed8;color:#fff;padding:.75em 1.5em;border-radius:4px;text-decoration:none">{{.Button}}</a></p>{{end}}
<p style="color:#555">{{.Outro}}</p>
</body></html>`))

func expand(tmpl string, d mailData) (string, error) {
	t, err := texttemplate.New("t").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

func localeOf(l string) string {
	if l == "en" {
		return "en"
	}
	return "fr"
}

// formatDate renders t for humans in the locale.
func formatDate(t time.Time, locale string) string {
	if locale == "en" {
		return t.UTC().Format("2 January 2006 at 15:04 UTC")
	}
	months := []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
	t = t.UTC()
	return fmt.Sprintf("%d %s %d à %s UTC", t.Day(), months[t.Month()-1], t.Year(), t.Format("15:04"))
}

// renderEmail builds the email of a kind (invitation, reminder, completed) in a locale.
func renderEmail(kind, locale string, d mailData) (subject, text, html string, err error) {
	lang := localeOf(locale)
	tx, ok := catalog[lang][kind]
	if !ok {
		return "", "", "", fmt.Errorf("no %s email in %s", kind, lang)
	}
	var parts [4]string
	for i, s := range []string{tx.Subject, tx.Intro, tx.Button, tx.Outro} {
		if parts[i], err = expand(s, d); err != nil {
			return "", "", "", fmt.Errorf("%s email: %w", kind, err)
		}
	}
	subject = strings.ReplaceAll(parts[0], "\n", " ")
	view := struct {
		Lang, Subject, Intro, Button, Outro string
		IntroLines                          []string
		Data                                mailData
	}{lang, subject, parts[1], parts[2], parts[3], strings.Split(parts[1], "\n\n"), d}
	var tb, hb bytes.Buffer
	if err := texttemplate.Must(texttemplate.New("text").Parse(textLayout)).Execute(&tb, view); err != nil {
		return "", "", "", err
	}
	if err := htmlLayout.Execute(&hb, view); err != nil {
		return "", "", "", err
	}
	return subject, tb.String(), hb.String(), nil
}

// renderSMS builds the code SMS in a locale.
func renderSMS(locale string, d mailData) (string, error) {
	return expand(catalog[localeOf(locale)]["code"].Intro, d)
}

// consentText is the text a signer agrees to by choosing to sign. Its SHA-256 goes into
// consent.given.
func consentText(e *Envelope, locale string) string {
	var b strings.Builder
	if localeOf(locale) == "en" {
		fmt.Fprintf(&b, "I have read every page of the following documents of “%s”, I have completed them, and I sign them electronically with a one-time code sent to my phone:\n", e.Title)
		for i, d := range e.Documents {
			fmt.Fprintf(&b, "%d. %s (%d pages, SHA-256 %s)\n", i+1, d.Name, len(d.Pages), d.Prepared)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "J’ai lu chaque page des documents suivants de « %s », je les ai complétés, et je les signe électroniquement au moyen d’un code à usage unique envoyé sur mon téléphone :\n", e.Title)
	for i, d := range e.Documents {
		fmt.Fprintf(&b, "%d. %s (%d pages, SHA-256 %s)\n", i+1, d.Name, len(d.Pages), d.Prepared)
	}
	return b.String()
}
