package ceremony

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// Brand is the organisation on whose behalf an envelope is sent, as its signers see it: in the
// invitation, reminder and completion emails and in the header of the signing pages. An
// envelope keeps the brand it was created with.
type Brand struct {
	// Name is the organisation's display name.
	Name string `json:"name"`
	// Logo references the organisation's logo for the BrandSource; empty when it has none.
	Logo string `json:"logo,omitempty"`
}

// BrandSource says which organisation an envelope owner belongs to and holds its logo. The web
// app's accounts implement it (an owner "org:ID" is the organisation ID).
type BrandSource interface {
	// Brand returns the brand of an envelope owner; ok is false when the owner belongs to no
	// organisation (an appliance-wide API key), whose envelopes show Options.Organization.
	Brand(ctx context.Context, owner string) (b Brand, ok bool, err error)
	// Logo returns the image a Brand's Logo references and its content type.
	Logo(ctx context.Context, ref string) (data []byte, contentType string, err error)
}

// MaxLogoBytes bounds the logo shown to signers and embedded in emails.
const MaxLogoBytes = 256 << 10

// brandOf resolves an owner's brand at creation. The name loses control characters and is
// bounded, since it goes into email subjects.
func (s *Service) brandOf(ctx context.Context, owner string) (*Brand, error) {
	if s.opt.Brands == nil {
		return nil, nil
	}
	b, ok, err := s.opt.Brands.Brand(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("ceremony: the brand of the envelope's owner: %w", err)
	}
	if !ok {
		return nil, nil
	}
	b.Name = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, b.Name))
	if r := []rune(b.Name); len(r) > 200 {
		b.Name = string(r[:200])
	}
	if b.Name == "" {
		b.Name = s.opt.Organization
	}
	return &b, nil
}

// organization is the name signers see for an envelope: its brand's, or the appliance's.
func (s *Service) organization(e *Envelope) string {
	if e.Brand != nil && e.Brand.Name != "" {
		return e.Brand.Name
	}
	return s.opt.Organization
}

// logoTypes are the logo formats shown to signers, by content type, with their magic numbers.
var logoTypes = map[string][]byte{"image/png": []byte("\x89PNG\r\n\x1a\n"), "image/jpeg": {0xff, 0xd8, 0xff}}

// logo returns an envelope's logo when it has one that is a PNG or JPEG image whose bytes match
// its content type and within MaxLogoBytes; anything else is no logo.
func (s *Service) logo(ctx context.Context, e *Envelope) (data []byte, contentType string, ok bool, err error) {
	if e.Brand == nil || e.Brand.Logo == "" || s.opt.Brands == nil {
		return nil, "", false, nil
	}
	data, contentType, err = s.opt.Brands.Logo(ctx, e.Brand.Logo)
	if err != nil {
		return nil, "", false, fmt.Errorf("ceremony: logo: %w", err)
	}
	magic, known := logoTypes[contentType]
	if !known || len(data) == 0 || len(data) > MaxLogoBytes || !bytes.HasPrefix(data, magic) {
		return nil, "", false, nil
	}
	return data, contentType, true, nil
}

// Logo returns the logo of the organisation that sent a signer's envelope, and its content type
// (image/png or image/jpeg). An envelope without a logo is a 404 rule error.
func (s *Service) Logo(ctx context.Context, ref *SignerRef) ([]byte, string, error) {
	e, _, err := s.load(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	data, ct, ok, err := s.logo(ctx, e)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", ruleErr(http.StatusNotFound, "no_logo", "the envelope's organisation has no logo")
	}
	return data, ct, nil
}

// logoCID is the Content-ID of the logo embedded in HTML emails.
const logoCID = "logo@paraphe"

// emailLogo is the logo embedded in an envelope's HTML emails, or nil. A logo that cannot be
// read leaves the email without one: it never holds up an invitation.
func (s *Service) emailLogo(ctx context.Context, e *Envelope) *Attachment {
	data, ct, ok, err := s.logo(ctx, e)
	if err != nil {
		s.log.Warn("ceremony: emails go without the organisation's logo", "envelope", e.ID, "err", err)
	}
	if !ok {
		return nil
	}
	name := "logo.png"
	if ct == "image/jpeg" {
		name = "logo.jpg"
	}
	return &Attachment{Name: name, ContentType: ct, Data: data, ContentID: logoCID}
}
