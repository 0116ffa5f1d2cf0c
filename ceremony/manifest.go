package ceremony

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Manifest is the sender's description of a new envelope. Documents refer to uploaded PDFs by
// File (the multipart part's file name).
type Manifest struct {
	Title     string             `json:"title"`
	Message   string             `json:"message,omitempty"`
	Order     Order              `json:"order"`
	ExpiresAt *time.Time         `json:"expires_at,omitempty"`
	ExpiresIn *Duration          `json:"expires_in,omitempty"`
	Reminders []Duration         `json:"reminders,omitempty"`
	Webhook   *Webhook           `json:"webhook,omitempty"`
	Signers   []ManifestSigner   `json:"signers"`
	Documents []ManifestDocument `json:"documents"`
	Meta      map[string]string  `json:"meta,omitempty"`
}

// ManifestSigner is a signer as the sender describes it.
type ManifestSigner struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Phone  string `json:"phone"`
	Locale string `json:"locale"`
	Order  int    `json:"order"`
}

// ManifestDocument is a document as the sender describes it.
type ManifestDocument struct {
	ID     string  `json:"id"`
	File   string  `json:"file"`
	Name   string  `json:"name,omitempty"`
	Fields []Field `json:"fields,omitempty"`
	// Signatures places signers' signature boxes; at most one per signer. Signers without one
	// get the automatic row at the bottom of the last page.
	Signatures []SignatureBox `json:"signatures,omitempty"`
}

// Problem is one thing wrong with a manifest or its files; Path locates it (JSON-pointer-like,
// "signers/1/phone", "documents/0/fields/2/rect").
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Limits bound what one envelope may hold.
type Limits struct {
	MaxDocuments  int
	MaxSigners    int
	MaxFields     int // per document
	MaxPages      int // per document
	MaxDocBytes   int64
	MinExpiry     time.Duration
	MaxExpiry     time.Duration
	DefaultExpiry time.Duration
}

// DefaultLimits are generous but bounded.
func DefaultLimits() Limits {
	return Limits{MaxDocuments: 20, MaxSigners: 20, MaxFields: 200, MaxPages: 1000, MaxDocBytes: 50 << 20,
		MinExpiry: time.Hour, MaxExpiry: 366 * 24 * time.Hour, DefaultExpiry: 30 * 24 * time.Hour}
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	e164         = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	maxManifest  = 1 << 20
	defaultMaxLn = 500
)

// ParseManifest decodes a manifest strictly: unknown fields, trailing data and wrong types are
// problems. It does not validate the content (see Manifest.Validate).
func ParseManifest(b []byte) (*Manifest, []Problem) {
	if len(b) > maxManifest {
		return nil, []Problem{{"", fmt.Sprintf("the manifest is larger than %d bytes", maxManifest)}}
	}
	if !utf8.Valid(b) {
		return nil, []Problem{{"", "the manifest is not valid UTF-8"}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asType(err, &te); ok {
			return nil, []Problem{{strings.ReplaceAll(te.Field, ".", "/"), fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)}}
		}
		return nil, []Problem{{"", "the manifest is not valid JSON: " + err.Error()}}
	}
	if dec.More() {
		return nil, []Problem{{"", "unexpected data after the manifest's JSON object"}}
	}
	return &m, nil
}

func asType(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}

type problems []Problem

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func checkText(p *problems, path, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		p.add(path, "required")
	case utf8.RuneCountInString(v) > max:
		p.add(path, "longer than %d characters", max)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f }):
		p.add(path, "contains control characters")
	}
}

// Validate checks the manifest against the uploaded files (name → bytes) and returns every
// problem found, together with the inspected PDFs (by file name) when there are none. inspect
// validates a PDF and describes its pages.
func (m *Manifest) Validate(files map[string][]byte, now time.Time, lim Limits, inspect func([]byte) (PDFInfo, error)) (map[string]PDFInfo, []Problem) {
	var p problems
	checkText(&p, "title", m.Title, true, 200)
	checkText(&p, "message", m.Message, false, 2000)
	switch m.Order {
	case Sequential, Parallel:
	case "":
		m.Order = Sequential
	default:
		p.add("order", "must be sequential or parallel, not %q", m.Order)
	}
	expiry := lim.DefaultExpiry
	switch {
	case m.ExpiresAt != nil && m.ExpiresIn != nil:
		p.add("expires_at", "give expires_at or expires_in, not both")
	case m.ExpiresAt != nil:
		expiry = m.ExpiresAt.Sub(now)
	case m.ExpiresIn != nil:
		expiry = time.Duration(*m.ExpiresIn)
	}
	if expiry < lim.MinExpiry || expiry > lim.MaxExpiry {
		p.add("expires_in", "the envelope must expire between %s and %s from now", lim.MinExpiry, lim.MaxExpiry)
	}
	if len(m.Reminders) > 10 {
		p.add("reminders", "at most 10 reminders")
	}
	for i, r := range m.Reminders {
		if r <= 0 || time.Duration(r) >= expiry {
			p.add(fmt.Sprintf("reminders/%d", i), "a reminder must come after sending and before expiry")
		}
	}
	if m.Webhook != nil {
		u, err := url.Parse(m.Webhook.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.add("webhook/url", "must be an http or https URL")
		}
		if len(m.Webhook.Secret) < 16 || len(m.Webhook.Secret) > 256 {
			p.add("webhook/secret", "must be 16 to 256 characters")
		}
	}
	for k, v := range m.Meta {
		if len(m.Meta) > 20 || len(k) > 64 || len(v) > 512 {
			p.add("meta", "at most 20 entries, keys up to 64 and values up to 512 bytes")
			break
		}
	}

	signers := map[string]bool{}
	switch {
	case len(m.Signers) == 0:
		p.add("signers", "at least one signer is required")
	case len(m.Signers) > lim.MaxSigners:
		p.add("signers", "at most %d signers", lim.MaxSigners)
	}
	emails := map[string]bool{}
	for i, s := range m.Signers {
		base := fmt.Sprintf("signers/%d/", i)
		if !idPattern.MatchString(s.ID) {
			p.add(base+"id", "must be 1 to 64 letters, digits, _ or -")
		} else if signers[s.ID] {
			p.add(base+"id", "duplicate signer id %q", s.ID)
		}
		signers[s.ID] = true
		checkText(&p, base+"name", s.Name, true, 200)
		if a, err := mail.ParseAddress(s.Email); err != nil || a.Address != s.Email || a.Name != "" || len(s.Email) > 254 {
			p.add(base+"email", "not a plain email address")
		} else if emails[strings.ToLower(s.Email)] {
			p.add(base+"email", "two signers share this email address")
		}
		emails[strings.ToLower(s.Email)] = true
		if !e164.MatchString(s.Phone) {
			p.add(base+"phone", "must be in E.164 form, such as +33612345678")
		}
		switch s.Locale {
		case "fr", "en":
		case "":
			m.Signers[i].Locale = "fr"
		default:
			p.add(base+"locale", "must be fr or en")
		}
		if s.Order < 0 || s.Order > 1000 {
			p.add(base+"order", "must be between 0 and 1000")
		}
	}

	infos := map[string]PDFInfo{}
	switch {
	case len(m.Documents) == 0:
		p.add("documents", "at least one document is required")
	case len(m.Documents) > lim.MaxDocuments:
		p.add("documents", "at most %d documents", lim.MaxDocuments)
	}
	docIDs := map[string]bool{}
	fieldIDs := map[string]bool{}
	usedFiles := map[string]bool{}
	for i, d := range m.Documents {
		base := fmt.Sprintf("documents/%d/", i)
		if !idPattern.MatchString(d.ID) {
			p.add(base+"id", "must be 1 to 64 letters, digits, _ or -")
		} else if docIDs[d.ID] {
			p.add(base+"id", "duplicate document id %q", d.ID)
		}
		docIDs[d.ID] = true
		if m.Documents[i].Name == "" {
			m.Documents[i].Name = d.File
		}
		checkText(&p, base+"name", m.Documents[i].Name, true, 200)
		var info PDFInfo
		var haveInfo bool
		data, ok := files[d.File]
		switch {
		case d.File == "":
			p.add(base+"file", "required: the name of an uploaded PDF")
		case !ok:
			p.add(base+"file", "no uploaded file named %q", d.File)
		case usedFiles[d.File]:
			p.add(base+"file", "file %q is used by two documents", d.File)
		case int64(len(data)) > lim.MaxDocBytes:
			p.add(base+"file", "larger than %d bytes", lim.MaxDocBytes)
		default:
			var err error
			if info, err = inspect(data); err != nil {
				p.add(base+"file", "%s: %v", d.File, err)
			} else {
				haveInfo = true
				infos[d.File] = info
			}
		}
		usedFiles[d.File] = true
		if len(d.Fields) > lim.MaxFields {
			p.add(base+"fields", "at most %d fields", lim.MaxFields)
			continue
		}
		for j, f := range d.Fields {
			fb := fmt.Sprintf("%sfields/%d/", base, j)
			if !idPattern.MatchString(f.ID) {
				p.add(fb+"id", "must be 1 to 64 letters, digits, _ or -")
			} else if fieldIDs[f.ID] {
				p.add(fb+"id", "duplicate field id %q (field ids are unique in the envelope)", f.ID)
			}
			fieldIDs[f.ID] = true
			checkText(&p, fb+"label", f.Label, true, 200)
			if !signers[f.Signer] {
				p.add(fb+"signer", "no signer with id %q", f.Signer)
			}
			if f.MaxLength < 0 || f.MaxLength > 10000 {
				p.add(fb+"max_length", "must be between 1 and 10000")
			} else if f.MaxLength == 0 {
				d.Fields[j].MaxLength = defaultMaxLn
			}
			if f.Pattern != "" {
				if len(f.Pattern) > 500 {
					p.add(fb+"pattern", "longer than 500 bytes")
				} else if _, err := regexp.Compile(`^(?:` + f.Pattern + `)$`); err != nil {
					p.add(fb+"pattern", "not a valid RE2 regular expression: %v", err)
				}
			}
			finite, _ := checkRect(&p, fb, f.Rect)
			if haveInfo {
				checkOnPage(&p, fb, f.Page, f.Rect, finite, info)
			}
		}
	}
	for i, d := range m.Documents {
		checkSignatureBoxes(&p, fmt.Sprintf("documents/%d/signatures", i), d, signers, infos, lim.MaxSigners)
	}
	for name := range files {
		if !usedFiles[name] {
			p.add("files/"+name, "uploaded but not used by any document")
		}
	}
	if len(p) > 0 {
		return nil, p
	}
	if m.ExpiresAt == nil {
		t := now.Add(expiry)
		m.ExpiresAt = &t
	}
	return infos, nil
}

// checkSignatureBoxes checks a document's signature boxes: a known signer, once, on an
// existing page, with a rectangle inside it. Boxes may overlap text fields: the sender decides
// the layout. Pages are checked only when the document's PDF could be read.
func checkSignatureBoxes(p *problems, base string, d ManifestDocument, signers map[string]bool, infos map[string]PDFInfo, maxSigners int) {
	if len(d.Signatures) > maxSigners {
		p.add(base, "at most %d signature boxes (one per signer)", maxSigners)
		return
	}
	info, haveInfo := infos[d.File]
	seen := map[string]bool{}
	for j, b := range d.Signatures {
		sb := fmt.Sprintf("%s/%d/", base, j)
		switch {
		case !signers[b.Signer]:
			p.add(sb+"signer", "no signer with id %q", b.Signer)
		case seen[b.Signer]:
			p.add(sb+"signer", "signer %q already has a signature box in this document", b.Signer)
		}
		seen[b.Signer] = true
		finite, ok := checkRect(p, sb, b.Rect)
		if ok && (b.Rect.W < 60 || b.Rect.H < 20) {
			p.add(sb+"rect", "a signature box is at least 60 × 20 points, so that its text stays legible")
		}
		if haveInfo {
			checkOnPage(p, sb, b.Page, b.Rect, finite, info)
		}
	}
}

// checkRect checks the rect of a field or box under base: finite, x and y ≥ 0, w and h > 0.
// finite reports whether its numbers can be compared; ok whether it passed.
func checkRect(p *problems, base string, r Rect) (finite, ok bool) {
	finite = !anyBad(r.X, r.Y, r.W, r.H)
	if !finite || r.W <= 0 || r.H <= 0 || r.X < 0 || r.Y < 0 {
		p.add(base+"rect", "x and y must be ≥ 0, w and h > 0")
		return finite, false
	}
	return true, true
}

// checkOnPage checks that a field or box under base stands on an existing page of the
// document and, when its rect is finite, inside that page.
func checkOnPage(p *problems, base string, page int, r Rect, finite bool, info PDFInfo) {
	if page < 1 || page > len(info.Pages) {
		p.add(base+"page", "the document has %d pages, not page %d", len(info.Pages), page)
		return
	}
	pg := info.Pages[page-1]
	if finite && (r.X+r.W > pg.Width+1e-9 || r.Y+r.H > pg.Height+1e-9) {
		p.add(base+"rect", "outside page %d (%.0f × %.0f points)", page, pg.Width, pg.Height)
	}
}

func anyBad(v ...float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) || x > 1e6 {
			return true
		}
	}
	return false
}
