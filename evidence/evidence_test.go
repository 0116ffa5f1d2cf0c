package evidence

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// smallBundle is a bundle with a manifest and two files, no PKI: enough for the parser.
func smallBundle(t testing.TB) []byte {
	t.Helper()
	b := &Bundle{Manifest: Manifest{Format: Format, ReportFormat: ReportFormat, GeneratedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Scope: ScopeEnvelope, Envelope: EnvelopeInfo{ID: "e1", Title: "Bail (M. Dupont) \\ été"}, Salt: "00"},
		Files: map[string][]byte{"ledger/key": []byte("k\n"), "documents/1.pdf": []byte("%PDF-1.7\n")}}
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseRoundTrip(t *testing.T) {
	data := smallBundle(t)
	b, err := Parse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.Envelope.Title != "Bail (M. Dupont) \\ été" || len(b.Files) != 2 {
		t.Fatalf("parsed: %+v", b.Manifest)
	}
	again, err := b.Marshal()
	if err != nil || !bytes.Equal(again, data) {
		t.Fatal("Marshal is not deterministic")
	}
}

func TestParseRefuses(t *testing.T) {
	good, _ := Parse(smallBundle(t), Limits{})
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"not a zip":    {[]byte("hello"), "not a ZIP archive"},
		"too large":    {smallBundle(t), "more than the limit"},
		"wrong format": {func() []byte { c := *good; c.Manifest.Format = "other/1"; b, _ := c.Marshal(); return b }(), "format"},
	} {
		lim := Limits{}
		if name == "too large" {
			lim = DefaultLimits()
			lim.MaxSize = 10
		}
		_, err := Parse(tc.data, lim)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	bad := *good
	bad.Files = map[string][]byte{"../x": nil}
	if _, err := bad.Marshal(); err == nil {
		t.Error("Marshal stores ../x")
	}
	if err := checkPath("a/../b"); err == nil {
		t.Error("checkPath accepts a/../b")
	}
	if err := checkPath("/etc/passwd"); err == nil {
		t.Error("checkPath accepts an absolute path")
	}
}

func TestPDFStringsAreText(t *testing.T) {
	got := pdfString(winAnsi(`a (b) \ c ) Tj /F1 12 Tf é € 中`))
	want := `(a \(b\) \\ c \) Tj /F1 12 Tf \351 \200 ?)`
	if got != want {
		t.Fatalf("pdfString = %s, want %s", got, want)
	}
}

func TestRenderIsDeterministicAndEscaped(t *testing.T) {
	b, err := Parse(smallBundle(t), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b.Manifest.Signers = []SignerInfo{{ID: "s1", Name: "Zoé (la) \\ Ω", Email: "z@example.org", Values: map[string]string{"f": ") Tj ET"}}}
	a, err := RenderReport(b)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := RenderReport(b)
	if !bytes.Equal(a, c) {
		t.Fatal("RenderReport is not deterministic")
	}
	if !bytes.Contains(a, []byte(`Zo\351 \(la\) \\ ?`)) || !bytes.Contains(a, []byte(`\) Tj ET`)) {
		t.Fatal("values are not drawn as escaped WinAnsi text")
	}
	if !bytes.HasPrefix(a, []byte("%PDF-1.7")) || !bytes.Contains(a, []byte("/T (ParapheSeal)")) || !bytes.HasSuffix(a, []byte("%%EOF\n")) {
		t.Fatal("report lacks its header, seal field or trailer")
	}
}

func TestRevisionDigests(t *testing.T) {
	pdf := []byte("A%%EOF\nB%%EOF\r\nC")
	revs := revisionDigests(pdf)
	for _, n := range []int{6, 7, 13, 14, 15} {
		if revs[digest(pdf[:n])] != int64(n) {
			t.Errorf("no revision ending at %d", n)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(smallBundle(f))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxSize: 1 << 20, MaxFiles: 16, MaxFile: 1 << 20, MaxTotal: 2 << 20, MaxLeaves: 100, MaxSigners: 10}
		b, err := Parse(data, lim)
		if err != nil {
			return
		}
		// A parsed bundle re-encodes and parses to the same manifest and files.
		out, err := b.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed bundle: %v", err)
		}
		c, err := Parse(out, lim)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(c.Files) != len(b.Files) {
			t.Fatalf("files %d then %d", len(b.Files), len(c.Files))
		}
		_, _ = RenderReport(b)
	})
}
