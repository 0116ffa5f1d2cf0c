package api

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ceremony"
)

// OutboxPagePath is where the development outbox page is served.
const OutboxPagePath = "/dev/outbox"

// OutboxPageCSP is the page's Content-Security-Policy: no script, no style, no form, no frame.
const OutboxPageCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// OutboxPageOptions configure the outbox page.
type OutboxPageOptions struct {
	Outbox *ceremony.Outbox // required
	DB     *badger.DB       // the API keys (required)
	Logger *slog.Logger
}

// OutboxPage serves the development outbox as an HTML page at GET /dev/outbox: every captured
// email (recipient, subject, text body with its links clickable) and SMS (recipient, text),
// newest first. The appliance mounts it in development only; it does not exist in production.
//
// The page shows invitation links and codes in clear, so it asks for an API key like
// GET /api/v1/outbox: as a bearer token, or as the password of HTTP Basic authentication (any
// user name), which a browser asks for by itself.
func OutboxPage(o OutboxPageOptions) (http.Handler, error) {
	if o.Outbox == nil || o.DB == nil {
		return nil, errors.New("api: the outbox page needs an outbox and a database")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+OutboxPagePath, func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Security-Policy", OutboxPageCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		key := ""
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key = strings.TrimSpace(tok)
		} else if _, pass, ok := r.BasicAuth(); ok {
			key = pass
		}
		owner := ""
		if key != "" {
			var err error
			if owner, err = lookupKey(o.DB, key); err != nil {
				o.Logger.Error("api: outbox page: API key lookup", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
		}
		if owner == "" {
			hd.Set("WWW-Authenticate", `Basic realm="Paraphe development outbox (password: an API key)", charset="UTF-8"`)
			http.Error(w, "an API key is required (HTTP Basic password, or Authorization: Bearer <key>)", http.StatusUnauthorized)
			return
		}
		msgs, err := o.Outbox.Messages(500)
		if err != nil {
			o.Logger.Error("api: outbox page", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		slices.Reverse(msgs) // newest first
		views := make([]outboxItem, 0, len(msgs))
		for _, m := range msgs {
			v := outboxItem{ID: m.ID, At: m.At.UTC().Format("2006-01-02 15:04:05 MST"), Kind: m.Kind}
			switch {
			case m.Email != nil:
				v.To, v.Subject, v.Body = m.Email.To, m.Email.Subject, linkify(m.Email.Text)
				if m.Email.ToName != "" {
					v.To = m.Email.ToName + " <" + m.Email.To + ">"
				}
			case m.SMS != nil:
				v.To, v.Body = m.SMS.To, linkify(m.SMS.Text)
			}
			views = append(views, v)
		}
		hd.Set("Content-Type", "text/html; charset=utf-8")
		if err := outboxTmpl.Execute(w, views); err != nil {
			o.Logger.Warn("api: outbox page: write", "err", err)
		}
	})
	return mux, nil
}

// outboxItem is one message as the page shows it.
type outboxItem struct {
	ID, At, Kind, To, Subject string
	Body                      []segment
}

// segment is a piece of a message's text: plain text, or a link.
type segment struct {
	Text string
	Link bool
}

var urlRE = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify splits text into plain pieces and http(s) links. html/template escapes both and
// checks the links' scheme.
func linkify(text string) []segment {
	var out []segment
	last := 0
	for _, loc := range urlRE.FindAllStringIndex(text, -1) {
		end := loc[1]
		for end > loc[0] && strings.ContainsRune(".,;:!?)]", rune(text[end-1])) {
			end-- // trailing punctuation is the sentence's, not the link's
		}
		if loc[0] > last {
			out = append(out, segment{Text: text[last:loc[0]]})
		}
		out = append(out, segment{Text: text[loc[0]:end], Link: true})
		last = end
	}
	if last < len(text) {
		out = append(out, segment{Text: text[last:]})
	}
	return out
}

var outboxTmpl = template.Must(template.New("outbox").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>Outbox (development) — Paraphe</title>
</head>
<body>
<h1>Outbox (development)</h1>
<p>Emails and SMS captured instead of being sent, newest first. They hold personal links and codes: this page exists only in development.</p>
{{if not .}}<p id="empty">No message yet.</p>{{end}}
{{range .}}<article id="m-{{.ID}}" class="{{.Kind}}">
<h2>{{if eq .Kind "sms"}}SMS{{else}}Email{{end}} to {{.To}}</h2>
<p><time>{{.At}}</time></p>
{{if .Subject}}<p><strong>Subject:</strong> {{.Subject}}</p>{{end}}
<pre>{{range .Body}}{{if .Link}}<a href="{{.Text}}" rel="noreferrer noopener">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>
</article>
<hr>
{{end}}</body>
</html>
`))
