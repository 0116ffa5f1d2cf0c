package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/web/api"
)

// hostileName is an organisation name that would run script if a page or an email did not
// escape it (THREATS.md: XSS through names).
const hostileName = `<img src=x onerror=alert(1)> "Étude" & <script>alert(2)</script>`

func pngLogo(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// setBranding posts the branding settings: a name and a logo.
func (c *client) setBranding(name string, logo []byte) reply {
	c.w.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("name", name)
	fw, _ := mw.CreateFormFile("logo", "logo.png")
	fw.Write(logo)
	mw.Close()
	return c.do(http.MethodPost, "/admin/api/settings/branding", &b, map[string]string{"Content-Type": mw.FormDataContentType()})
}

// signerSession opens a signer's latest link as the signer's browser and returns a client
// holding the session, and the state the link shows.
func (w *world) signerSession(email string) (*client, ceremony.SignerView) {
	w.t.Helper()
	var link string
	for _, m := range w.outboxFor(email) {
		if l := regexp.MustCompile(`https?://[^\s"<>]+/s/[A-Za-z0-9_-]+`).FindString(m.Email.Text); l != "" {
			link = l
		}
	}
	if link == "" {
		w.t.Fatalf("no invitation for %s", email)
	}
	c := w.client()
	req, _ := http.NewRequest("GET", link, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		State ceremony.SignerView `json:"state"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		w.t.Fatalf("open %s's link: %d %v", email, resp.StatusCode, err)
	}
	return c, st.State
}

// lastEmail is the latest email to a recipient.
func (w *world) lastEmail(to string) *ceremony.Email {
	w.t.Helper()
	msgs := w.outboxFor(to)
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Email != nil {
			return msgs[i].Email
		}
	}
	w.t.Fatalf("no email to %s", to)
	return nil
}

// TestBrandingReachesSigners: an organisation's name and logo go into its envelopes' emails
// (HTML, with the logo embedded, and text) and the signer's pages (header; logo under /s/ for
// that envelope only), escaped everywhere; a logo whose stored type or bytes are not an image is
// never served nor embedded; envelopes made with an appliance-wide API key keep the appliance's
// name, and those made with an organisation's key carry its brand.
func TestBrandingReachesSigners(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	logo := pngLogo(t)
	c := w.user("Étude Martin", "chef@martin.test", RoleAdmin)
	if r := c.setBranding(hostileName, logo); r.status != http.StatusOK {
		t.Fatalf("branding: %d %s", r.status, r.body)
	}
	id := c.mustCreate("Bail")
	if r := c.post("/admin/api/envelopes/"+id+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	e, err := w.svc.Envelope(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Brand == nil || e.Brand.Name != hostileName || e.Brand.Logo == "" {
		t.Fatalf("the envelope's brand: %+v", e.Brand)
	}

	// The invitation: the name escaped in HTML, as is in text, the logo embedded.
	m := w.lastEmail("alice@example.org")
	escaped := `&lt;img src=x onerror=alert(1)&gt; &#34;Étude&#34; &amp; &lt;script&gt;alert(2)&lt;/script&gt;`
	if strings.Contains(m.HTML, "<img src=x") || strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, escaped) {
		t.Fatalf("the invitation's HTML does not escape the organisation's name:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, hostileName) || !strings.Contains(m.Subject, hostileName) {
		t.Fatalf("the invitation's text or subject lacks the organisation's name: %q\n%s", m.Subject, m.Text)
	}
	if len(m.Embedded) != 1 || !bytes.Equal(m.Embedded[0].Data, logo) || m.Embedded[0].ContentType != "image/png" ||
		!strings.Contains(m.HTML, `src="cid:`+m.Embedded[0].ContentID+`"`) {
		t.Fatalf("the invitation does not embed the logo: %d parts, HTML:\n%s", len(m.Embedded), m.HTML)
	}

	// The signer's page: the name escaped in the header, the logo from /s/api/logo.
	sc, st := w.signerSession("alice@example.org")
	if st.Envelope.Organization != hostileName || !st.Envelope.Logo {
		t.Fatalf("the signer's state: organisation %q, logo %v", st.Envelope.Organization, st.Envelope.Logo)
	}
	page := sc.do(http.MethodGet, "/s/", nil, map[string]string{"Accept": "text/html"})
	if page.status != http.StatusOK || strings.Contains(string(page.body), "<img src=x") || strings.Contains(string(page.body), "<script>alert") ||
		!strings.Contains(string(page.body), escaped) || !strings.Contains(string(page.body), `src="/s/api/logo"`) {
		t.Fatalf("the signer's page: %d\n%s", page.status, page.body)
	}
	r := sc.get("/s/api/logo")
	if r.status != http.StatusOK || !bytes.Equal(r.body, logo) || r.header.Get("Content-Type") != "image/png" ||
		r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("GET /s/api/logo: %d %q %v", r.status, r.header.Get("Content-Type"), r.header)
	}
	if r := w.client().get("/s/api/logo"); r.status != http.StatusUnauthorized {
		t.Fatalf("GET /s/api/logo without a session: %d", r.status)
	}

	// Another organisation, without a logo: its signers see its name and get no logo, not even
	// the first organisation's.
	other := w.user("Cabinet Durand", "chef@durand.test", RoleAdmin)
	oid := other.mustCreate("Mandat")
	if r := other.post("/admin/api/envelopes/"+oid+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	oc, ost := w.signerSession("alice@example.org")
	if ost.Envelope.ID != oid || ost.Envelope.Organization != "Cabinet Durand" || ost.Envelope.Logo {
		t.Fatalf("the other organisation's signer state: %+v", ost.Envelope)
	}
	if r := oc.get("/s/api/logo"); r.status != http.StatusNotFound {
		t.Fatalf("GET /s/api/logo for an organisation without a logo: %d", r.status)
	}
	if m := w.lastEmail("alice@example.org"); len(m.Embedded) != 0 || strings.Contains(m.HTML, "cid:") || !strings.Contains(m.Text, "Cabinet Durand") {
		t.Fatalf("the other organisation's invitation: %d embedded parts\n%s", len(m.Embedded), m.HTML)
	}

	// A stored logo whose type or bytes are not a PNG or JPEG image is never served nor embedded.
	o, err := w.app.Accounts().EnsureOrg(ctx, "Étude Martin")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ data, ctype string }{{string(logo), "text/html"}, {"<script>alert(3)</script>", "image/png"}} {
		if _, err := w.app.Accounts().UpdateOrg(ctx, o.ID, func(o *Org) error {
			o.Logo, o.LogoType = []byte(bad.data), bad.ctype
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if r := sc.get("/s/api/logo"); r.status != http.StatusNotFound || strings.Contains(string(r.body), "<script>") {
			t.Fatalf("GET /s/api/logo with a %s logo: %d %q", bad.ctype, r.status, r.header.Get("Content-Type"))
		}
		if r := c.post("/admin/api/envelopes/"+id+"/remind", map[string]string{}); r.status != http.StatusOK {
			t.Fatalf("remind: %d %s", r.status, r.body)
		}
		if m := w.lastEmail("alice@example.org"); len(m.Embedded) != 0 || strings.Contains(m.HTML, "cid:") || !strings.Contains(m.HTML, escaped) {
			t.Fatalf("a reminder with a %s logo: %d embedded parts\n%s", bad.ctype, len(m.Embedded), m.HTML)
		}
	}

	// API keys: an organisation's key brands its envelopes; an appliance-wide key does not.
	kr := c.post("/admin/api/keys", map[string]string{"name": "ERP"})
	var key struct{ Secret string }
	kr.json(t, &key)
	e = w.apiCreate(key.Secret)
	if e.Brand == nil || e.Brand.Name != hostileName {
		t.Fatalf("an envelope made with the organisation's key: brand %+v", e.Brand)
	}
	var view struct{ Brand *ceremony.Brand }
	w.apiCall(key.Secret, "GET", "/api/v1/envelopes/"+e.ID).json(t, &view)
	if view.Brand == nil || view.Brand.Name != hostileName {
		t.Fatalf("GET /api/v1/envelopes/{id}: brand %+v", view.Brand)
	}
	global, _ := api.NewKey()
	if err := api.RegisterKey(ctx, w.db, "global", global); err != nil {
		t.Fatal(err)
	}
	if e := w.apiCreate(global); e.Brand != nil {
		t.Fatalf("an envelope made with an appliance-wide key: brand %+v", e.Brand)
	}
}

// apiCreate makes a draft through the sender API with a key and returns it.
func (w *world) apiCreate(key string) *ceremony.Envelope {
	w.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mb, _ := json.Marshal(simpleManifest("Par l'API"))
	pw, _ := mw.CreateFormField("manifest")
	pw.Write(mb)
	fw, _ := mw.CreateFormFile("file", "contrat.pdf")
	fw.Write(ceremonytest.MinimalPDF(2, "API"))
	mw.Close()
	req, _ := http.NewRequest("POST", w.srv.URL+"/api/v1/envelopes", &b)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v struct{ ID string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &v) != nil {
		w.t.Fatalf("API create: %d %s", resp.StatusCode, body)
	}
	e, err := w.svc.Envelope(context.Background(), v.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}
