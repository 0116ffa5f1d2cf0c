package signerui

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// rgba is a colour with its opacity.
type rgba struct{ r, g, b, a float64 }

// over composes c over an opaque background.
func (c rgba) over(bg rgba) rgba {
	return rgba{c.r*c.a + bg.r*(1-c.a), c.g*c.a + bg.g*(1-c.a), c.b*c.a + bg.b*(1-c.a), 1}
}

// luminance is the WCAG 2 relative luminance.
func (c rgba) luminance() float64 {
	lin := func(v float64) float64 {
		v /= 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

// contrast is the WCAG 2 contrast ratio of two opaque colours.
func contrast(a, b rgba) float64 {
	la, lb := a.luminance(), b.luminance()
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// sheet is app.css: its custom properties and its rules' declarations.
type sheet struct {
	vars  map[string]string
	rules []cssRule
}

type cssRule struct {
	selector string
	decls    map[string]string
}

func parseCSS(t *testing.T, css string) sheet {
	t.Helper()
	css = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(css, "")
	// Flatten @media blocks: their rules are rules like the others.
	css = regexp.MustCompile(`@media[^{]*\{`).ReplaceAllString(css, "")
	s := sheet{vars: map[string]string{}}
	for _, block := range strings.Split(css, "}") {
		sel, body, ok := strings.Cut(block, "{")
		if !ok {
			continue
		}
		r := cssRule{selector: strings.Join(strings.Fields(sel), " "), decls: map[string]string{}}
		for _, d := range strings.Split(body, ";") {
			k, v, ok := strings.Cut(d, ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "!important"))
			if strings.HasPrefix(k, "--") && r.selector == ":root" {
				s.vars[k] = v
			}
			r.decls[k] = v
		}
		s.rules = append(s.rules, r)
	}
	return s
}

// color resolves a colour value (var(), #rgb, #rrggbb, rgb(), rgba(), white); ok is false for
// anything else (inherit, currentColor, transparent, none, gradients).
func (s sheet) color(v string) (rgba, bool) {
	v = strings.TrimSpace(v)
	for i := 0; i < 5 && strings.HasPrefix(v, "var("); i++ {
		v = strings.TrimSpace(s.vars[strings.TrimSuffix(strings.TrimPrefix(v, "var("), ")")])
	}
	switch {
	case v == "white":
		return rgba{255, 255, 255, 1}, true
	case regexp.MustCompile(`^#[0-9a-fA-F]{3}$`).MatchString(v):
		v = "#" + string([]byte{v[1], v[1], v[2], v[2], v[3], v[3]})
		fallthrough
	case regexp.MustCompile(`^#[0-9a-fA-F]{6}$`).MatchString(v):
		n, _ := strconv.ParseUint(v[1:], 16, 32)
		return rgba{float64(n >> 16), float64(n >> 8 & 0xff), float64(n & 0xff), 1}, true
	}
	if m := regexp.MustCompile(`^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$`).FindStringSubmatch(v); m != nil {
		f := func(x string) float64 { n, _ := strconv.ParseFloat(x, 64); return n }
		c := rgba{f(m[1]), f(m[2]), f(m[3]), 1}
		if m[4] != "" {
			c.a = f(m[4])
		}
		return c, true
	}
	return rgba{}, false
}

// background is a rule's background colour, if it sets one.
func (s sheet) background(r cssRule) (rgba, bool) {
	for _, k := range []string{"background-color", "background"} {
		if v, ok := r.decls[k]; ok {
			return s.color(strings.Fields(v + " x")[0])
		}
	}
	return rgba{}, false
}

// inherited is the text colour of an element a rule gives only a background: the colour of the
// rule for its last compound selector without pseudo-classes (".field.is-valid .field-label"
// takes ".field-label"'s), otherwise the page's text colour.
func (s sheet) inherited(selector string, text rgba) (rgba, string) {
	f := strings.Fields(selector)
	base := regexp.MustCompile(`:[a-z-]+(\([^)]*\))?`).ReplaceAllString(f[len(f)-1], "")
	for _, r := range s.rules {
		for _, one := range strings.Split(r.selector, ",") {
			if strings.TrimSpace(one) == base {
				if c, ok := s.color(r.decls["color"]); ok {
					return c, "color " + r.decls["color"] + " of " + base
				}
			}
		}
	}
	return text, "text"
}

// TestContrast computes, from app.css, the contrast of every text colour against the background
// it is drawn on, to WCAG 2.1 AA: 4.5:1 for text (all the pages' text is normal size), 3:1 for
// the focus ring and the input borders. A rule that sets both a colour and a background is
// checked against it (a translucent background composed over the white of the card or the
// page); a colour without a background of its own against both page backgrounds, the card's
// surface and the grey of the page; a background without a colour against the text colour.
func TestContrast(t *testing.T) {
	b, err := fs.ReadFile(embedded, "static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	s := parseCSS(t, string(b))
	must := func(name string) rgba {
		c, ok := s.color("var(" + name + ")")
		if !ok {
			t.Fatalf("app.css: %s is not a colour", name)
		}
		return c
	}
	surface, bg, text := must("--surface"), must("--bg"), must("--text")
	grounds := map[string]rgba{"--surface": surface, "--bg": bg}

	checked := 0
	check := func(what string, fg, back rgba, min float64) {
		t.Helper()
		checked++
		fg = fg.over(back)
		if c := contrast(fg, back); c < min {
			t.Errorf("%s: contrast %.2f:1, below %.1f:1", what, c, min)
		}
	}
	for _, r := range s.rules {
		if r.selector == ":root" || strings.Contains(r.selector, "::") { // ::backdrop, ::-webkit-progress-*: no text
			continue
		}
		fgv, hasFg := r.decls["color"]
		fg, fgOK := s.color(fgv)
		back, backOK := s.background(r)
		switch {
		case hasFg && fgOK && backOK:
			for name, g := range grounds {
				if back.a < 1 {
					check(fmt.Sprintf("%s (color %s on %s over %s)", r.selector, fgv, r.decls["background"], name), fg, back.over(g), 4.5)
				}
			}
			if back.a == 1 {
				check(fmt.Sprintf("%s (color %s on %s)", r.selector, fgv, r.decls["background"]), fg, back, 4.5)
			}
		case hasFg && fgOK:
			for name, g := range grounds {
				check(fmt.Sprintf("%s (color %s on %s)", r.selector, fgv, name), fg, g, 4.5)
			}
		case !hasFg && backOK:
			fg, fgv := s.inherited(r.selector, text)
			for name, g := range grounds {
				check(fmt.Sprintf("%s (%s on %s over %s)", r.selector, fgv, r.decls["background"], name), fg, back.over(g), 4.5)
			}
		}
	}
	// The main pairs by name, so that a parse that finds nothing cannot pass.
	named := []struct {
		what   string
		fg, bg string
		min    float64
	}{
		{"text on the card", "--text", "--surface", 4.5},
		{"text on the page", "--text", "--bg", 4.5},
		{"muted text on the card", "--muted", "--surface", 4.5},
		{"muted text on the page", "--muted", "--bg", 4.5},
		{"« Signer » (white on primary)", "#fff", "--primary", 4.5},
		{"primary button hovered", "#fff", "--primary-dark", 4.5},
		{"danger button (white on danger)", "#fff", "--danger", 4.5},
		{"« Refuser » (danger on the card)", "--danger", "--surface", 4.5},
		{"links on the card", "--primary", "--surface", 4.5},
		{"field labels (white on primary)", "#fff", "--primary", 4.5},
		{"valid field labels (white on ok)", "#fff", "--ok", 4.5},
		{"badges « Lu »", "--ok", "--ok-soft", 4.5},
		{"badges « À lire »", "--primary-dark", "--primary-soft", 4.5},
		{"warnings", "--warn", "--warn-soft", 4.5},
		{"focus ring on the card", "--focus", "--surface", 3},
		{"focus ring on the page", "--focus", "--bg", 3},
		{"input borders", "--line-strong", "--surface", 3},
	}
	for _, n := range named {
		fg, ok1 := s.color(strings.NewReplacer("--", "var(--").Replace(n.fg) + map[bool]string{true: ")", false: ""}[strings.HasPrefix(n.fg, "--")])
		bgc, ok2 := s.color("var(" + n.bg + ")")
		if !ok1 || !ok2 {
			t.Fatalf("%s: %s on %s is not resolvable", n.what, n.fg, n.bg)
		}
		check(n.what, fg, bgc, n.min)
	}
	if checked < 40 {
		t.Fatalf("only %d colour pairs checked: app.css was not read", checked)
	}
	t.Logf("%d colour pairs checked", checked)
}

func TestContrastRatio(t *testing.T) {
	black, white := rgba{0, 0, 0, 1}, rgba{255, 255, 255, 1}
	for _, c := range []struct {
		a, b rgba
		want float64
	}{{black, white, 21}, {white, white, 1}, {rgba{0x76, 0x76, 0x76, 1}, white, 4.54}, {rgba{0x1d, 0x4e, 0xd8, 1}, white, 6.70}} {
		if got := contrast(c.a, c.b); math.Abs(got-c.want) > 0.01 {
			t.Errorf("contrast(%v, %v) = %.3f, want %.2f", c.a, c.b, got, c.want)
		}
	}
	if got := (rgba{0, 0, 0, 0.5}).over(white); math.Round(got.r) != 128 {
		t.Errorf("50%% black over white = %v", got)
	}
}
