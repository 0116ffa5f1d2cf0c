// Package pages holds what the server-rendered pages of the admin web app (package web/admin)
// and of the signer (package web/signerui) share: their message catalogs' loading and
// formatting, the choice of language (?lang=, a cookie, Accept-Language), the language
// switcher's links and the version of their static files. Each package keeps its own catalogs,
// templates and static files.
package pages

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Langs are the languages of the pages, in the switcher's order.
var Langs = []string{"fr", "en"}

// Catalog is one language's messages. A message may hold named arguments: "Page {page} / {total}".
type Catalog map[string]string

// Format returns the message for key with its {name} arguments replaced; a missing key shows
// as the key itself (the catalog tests make sure none is missing).
func (c Catalog) Format(key string, args ...any) string {
	m, ok := c[key]
	if !ok {
		return key
	}
	for i := 0; i+1 < len(args); i += 2 {
		m = strings.ReplaceAll(m, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return m
}

// LoadCatalogs reads messages/fr.json and messages/en.json from fsys and checks that they have
// the same keys; pkg prefixes the errors.
func LoadCatalogs(fsys fs.FS, pkg string) (map[string]Catalog, error) {
	cats := map[string]Catalog{}
	for _, l := range Langs {
		b, err := fs.ReadFile(fsys, "messages/"+l+".json")
		if err != nil {
			return nil, fmt.Errorf("%s: catalog %s: %w", pkg, l, err)
		}
		var c Catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("%s: catalog %s: %w", pkg, l, err)
		}
		cats[l] = c
	}
	if missing := diffKeys(cats["fr"], cats["en"]); len(missing) > 0 {
		return nil, fmt.Errorf("%s: the fr and en catalogs differ on %s", pkg, strings.Join(missing, ", "))
	}
	return cats, nil
}

func diffKeys(a, b Catalog) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Supported reduces a language tag to "fr" or "en"; "" for any other.
func Supported(l string) string {
	l = strings.ToLower(strings.TrimSpace(l))
	if i := strings.IndexAny(l, "-_"); i > 0 {
		l = l[:i]
	}
	if l == "fr" || l == "en" {
		return l
	}
	return ""
}

// FromAcceptLanguage picks fr or en from an Accept-Language header by quality; fr by default.
func FromAcceptLanguage(h string) string {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if l := Supported(tag); l != "" && q > bestQ {
			best, bestQ = l, q
		}
	}
	if best == "" {
		return "fr"
	}
	return best
}

// LangCookie is where a page remembers the language chosen with the switcher.
type LangCookie struct {
	Name, Path string
	Secure     bool
}

// Chosen applies ?lang= (remembered in the cookie) or the remembered choice; "" when neither.
func (c LangCookie) Chosen(w http.ResponseWriter, r *http.Request) string {
	if l := Supported(r.URL.Query().Get("lang")); l != "" {
		http.SetCookie(w, &http.Cookie{Name: c.Name, Value: l, Path: c.Path, MaxAge: 366 * 24 * 3600,
			HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteStrictMode})
		return l
	}
	if ck, err := r.Cookie(c.Name); err == nil {
		return Supported(ck.Value)
	}
	return ""
}

// LangLink is one entry of the language switcher.
type LangLink struct {
	Code, Name, Href string
	Current          bool
}

// LangLinks are the switcher's links: base followed by the request's parameters named in keys
// (in that order), lang set to each language.
func LangLinks(cats map[string]Catalog, r *http.Request, lang, base string, keys ...string) []LangLink {
	var out []LangLink
	q := r.URL.Query()
	for _, l := range Langs {
		lq := make(map[string][]string, len(q))
		for k, v := range q {
			lq[k] = v
		}
		lq["lang"] = []string{l}
		out = append(out, LangLink{Code: l, Name: cats[l].Format("lang.name"), Href: base + EncodeQuery(lq, keys...), Current: l == lang})
	}
	return out
}

// EncodeQuery keeps only the parameters named in keys, in that order.
func EncodeQuery(q map[string][]string, keys ...string) string {
	var parts []string
	for _, k := range keys {
		if v, ok := q[k]; ok && len(v) > 0 {
			parts = append(parts, k+"="+template.URLQueryEscaper(v[0]))
		}
	}
	return strings.Join(parts, "&")
}
