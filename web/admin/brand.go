package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/paraphe/paraphe/ceremony"
)

// Accounts is the ceremony's BrandSource: an envelope of an organisation (created in the web
// app or with one of its API keys) carries its name and a reference to its logo.
var _ ceremony.BrandSource = (*Accounts)(nil)

// Brand implements ceremony.BrandSource. The owner "org:ID" is organisation ID; any other owner
// (an appliance-wide API key) has no brand. The logo reference is the organisation's ID, so
// that a logo changed later shows on the envelopes still open.
func (a *Accounts) Brand(ctx context.Context, owner string) (ceremony.Brand, bool, error) {
	id, ok := strings.CutPrefix(owner, "org:")
	if !ok {
		return ceremony.Brand{}, false, nil
	}
	org, err := a.Org(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return ceremony.Brand{}, false, nil
	}
	if err != nil {
		return ceremony.Brand{}, false, err
	}
	b := ceremony.Brand{Name: org.Name}
	if len(org.Logo) > 0 {
		b.Logo = org.ID
	}
	return b, true, nil
}

// Logo implements ceremony.BrandSource: the logo of the organisation ref, as stored by the
// branding settings (the ceremony checks its type and bytes again before showing it).
func (a *Accounts) Logo(ctx context.Context, ref string) ([]byte, string, error) {
	org, err := a.Org(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	if len(org.Logo) == 0 {
		return nil, "", fmt.Errorf("admin: organisation %s has no logo", ref)
	}
	return org.Logo, org.LogoType, nil
}
