package signerui

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/web/pages"
)

// TestCatalogs: every message the templates and the script use exists in both languages, and
// the two catalogs have the same keys and the same {arguments}.
func TestCatalogs(t *testing.T) {
	cats, err := pages.LoadCatalogs(embedded, "signerui")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, v := range []string{viewHome, viewRead, viewDecide, viewCode, viewDone, viewError} {
		used["app.title."+v] = true
	}
	for _, k := range []string{"err.no_session", "err.link_invalid", "err.generic"} {
		used[k], used[k+".title"] = true, true
	}
	for _, k := range []string{"doc.signed", "doc.locked", "doc.read", "doc.reading", "doc.toread"} {
		used[k] = true
	}
	scan := func(name string, re *regexp.Regexp, suffixes ...string) {
		b, err := fs.ReadFile(embedded, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if len(suffixes) == 0 {
				used[m[1]] = true
			}
			for _, s := range suffixes {
				used[m[1]+s] = true
			}
		}
	}
	for _, tpl := range []string{"templates/layout.html", "templates/views.html"} {
		scan(tpl, regexp.MustCompile(`\.T "([a-z_.]+)"`))
	}
	scan("static/app.js", regexp.MustCompile(`\bt\("([a-z_.]+)"`))
	scan("static/app.js", regexp.MustCompile(`"((?:[a-z_]+)\.[a-z_.]+)"(?:,|\s*:\s*"|\s*\})`))
	scan("static/app.js", regexp.MustCompile(`plural\("([a-z_.]+)"`), "_one", "_other")
	for k := range used {
		if used[k+"_one"] && used[k+"_other"] {
			continue // the base of a plural
		}
		if !strings.Contains(k, ".") {
			continue
		}
		for _, l := range []string{"fr", "en"} {
			if _, ok := cats[l][k]; !ok && looksLikeKey(k) {
				t.Errorf("%s: no message %q", l, k)
			}
		}
	}
	args := regexp.MustCompile(`\{[a-z]+\}`)
	for k, fr := range cats["fr"] {
		if a, b := strings.Join(args.FindAllString(fr, -1), ","), strings.Join(args.FindAllString(cats["en"][k], -1), ","); a != b {
			t.Errorf("%s: arguments %s in fr, %s in en", k, a, b)
		}
	}
	if got := cats["fr"].Format("read.progress", "page", 3, "total", 12); got != "Page 3 / 12" {
		t.Errorf("format: %q", got)
	}
	if got := cats["fr"].Format("home.access"); got != "Accéder aux documents" {
		t.Errorf("fr home.access: %q", got)
	}
	if got := cats["fr"].Format("decide.sign") + "/" + cats["fr"].Format("decide.refuse"); got != "Signer/Refuser" {
		t.Errorf("fr decision: %q", got)
	}
}

// looksLikeKey tells catalog keys from other dotted strings found in the script (file names).
func looksLikeKey(k string) bool {
	for _, p := range []string{"app.", "home.", "doc.", "read.", "field.", "decide.", "refuse.", "code.", "done.", "err.", "lang."} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func TestAcceptLanguage(t *testing.T) {
	for h, want := range map[string]string{
		"": "fr", "en": "en", "en-GB,en;q=0.9": "en", "de-DE,de;q=0.9": "fr", "de,en;q=0.5,fr;q=0.8": "fr",
		"fr-CA;q=0.4, en-US;q=0.6": "en", "EN_us": "en", "*": "fr",
	} {
		if got := pages.FromAcceptLanguage(h); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", h, got, want)
		}
	}
}
