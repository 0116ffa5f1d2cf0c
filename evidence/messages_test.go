package evidence

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// probe prints as ⟨i⟩ whatever the verb, so that a format's use of its arguments can be read.
type probe int

func (p probe) Format(f fmt.State, verb rune) { fmt.Fprintf(f, "⟨%d⟩", int(p)) }

// verbs counts the arguments a catalog format takes.
var verbRE = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z]`)

// TestCatalog checks that every code has an English and a French text that use each argument
// exactly once (so no argument is lost in translation and none is missing), that every code the
// verifier uses is in the catalog, and that every catalog code is used.
func TestCatalog(t *testing.T) {
	for code, m := range catalog {
		if m.en == "" || m.fr == "" {
			t.Errorf("%s: en %q, fr %q", code, m.en, m.fr)
			continue
		}
		n := len(verbRE.FindAllString(strings.ReplaceAll(m.en, "%%", ""), -1))
		args := make([]any, n)
		for i := range args {
			args[i] = probe(i)
		}
		for lang, format := range map[string]string{"en": m.en, "fr": m.fr} {
			s := fmt.Sprintf(format, args...)
			if strings.Contains(s, "%!") {
				t.Errorf("%s (%s): %q with %d arguments gives %q", code, lang, format, n, s)
			}
			for i := range n {
				if c := strings.Count(s, fmt.Sprintf("⟨%d⟩", i)); c != 1 {
					t.Errorf("%s (%s): argument %d is shown %d times in %q", code, lang, i+1, c, s)
				}
			}
		}
		if m.en == m.fr && strings.Trim(m.en, "%sv: ") != "" {
			t.Errorf("%s: the French text is the English one: %q", code, m.fr)
		}
	}
	files, _ := filepath.Glob("*.go")
	used := map[string]bool{}
	call := regexp.MustCompile(`(?:v\.fail|v\.warn|issue)\("([^"]+)"|code: "([^"]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "messages.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			code := m[1] + m[2]
			used[code] = true
			if _, ok := catalog[code]; !ok {
				t.Errorf("%s: code %q is not in the catalog", f, code)
			}
		}
	}
	if len(used) < 50 {
		t.Fatalf("found only %d codes in the sources: the scan is broken", len(used))
	}
	for code := range catalog {
		if !used[code] {
			t.Errorf("catalog code %q is used nowhere", code)
		}
	}
}

// TestFindingLanguages renders a failure within a document in both languages.
func TestFindingLanguages(t *testing.T) {
	r := &Report{}
	v := &verifier{r: r}
	v.failIn(&finding{code: "document", args: []any{"bail", "Bail"}}, finding{code: "document.signed_not_revision", args: []any{leafRef{7, "document.signed", "alice"}, "ab12", "documents/1.pdf"}})
	v.fail("report.seal_level", ReportPath, level(""))
	v.warn("revocation.ocsp_status_unknown", "revocation/1.ocsp", "bob")
	want := []string{
		"document bail (Bail): leaf #7 (document.signed, signer alice): the signed version ab12 is not a revision of documents/1.pdf",
		"report.pdf: the platform seal reaches PAdES no level, not B-LTA (no document timestamp over its validation data)",
	}
	if strings.Join(r.Failures, "\n") != strings.Join(want, "\n") || strings.Join(r.FailureCodes, ",") != "document.signed_not_revision,report.seal_level" {
		t.Fatalf("English: %q %q", r.Failures, r.FailureCodes)
	}
	if strings.Join(r.FailuresIn("en"), "\n") != strings.Join(want, "\n") {
		t.Fatalf("FailuresIn(en) = %q", r.FailuresIn("en"))
	}
	fr := r.FailuresIn("fr")
	wantFR := []string{
		"document bail (Bail) : événement n° 7 (document.signed, signataire alice) : la version signée ab12 n'est pas une révision de documents/1.pdf",
		"report.pdf : le sceau de la plateforme atteint le niveau PAdES aucun niveau, pas B-LTA (aucun horodatage de document sur ses données de validation)",
	}
	if strings.Join(fr, "\n") != strings.Join(wantFR, "\n") {
		t.Fatalf("French:\n%s", strings.Join(fr, "\n"))
	}
	if w := r.WarningsIn("fr"); len(w) != 1 || w[0] != "revocation/1.ocsp : le statut OCSP du certificat du signataire bob est inconnu" || r.WarningCodes[0] != "revocation.ocsp_status_unknown" {
		t.Fatalf("warnings: %q %q", w, r.WarningCodes)
	}
	// A report decoded from JSON has no arguments left: its English text is kept.
	decoded := &Report{Failures: r.Failures, FailureCodes: r.FailureCodes}
	if got := decoded.FailuresIn("fr"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("decoded report in French: %q", got)
	}
}
