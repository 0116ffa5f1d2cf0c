package admin

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOrganisationIsolation: a user sees and changes only their own organisation's envelopes,
// through the web app and through the API keys the organisation makes.
func TestOrganisationIsolation(t *testing.T) {
	w := newWorld(t)
	a := w.user("Notaires Associés", "sender@notaires.test", RoleSender)
	a2 := w.user("Notaires Associés", "other@notaires.test", RoleSender)
	b := w.user("Cabinet Dupont", "sender@dupont.test", RoleSender)
	bAdmin := w.user("Cabinet Dupont", "admin@dupont.test", RoleAdmin)

	idA := a.mustCreate("Compromis de vente")
	idB := b.mustCreate("Bail commercial")

	var list struct{ Envelopes []EnvelopeSummary }
	a2.get("/admin/api/envelopes").json(t, &list)
	if len(list.Envelopes) != 1 || list.Envelopes[0].ID != idA {
		t.Fatalf("a colleague in the same organisation sees %+v, want only %s", list.Envelopes, idA)
	}
	b.get("/admin/api/envelopes").json(t, &list)
	if len(list.Envelopes) != 1 || list.Envelopes[0].ID != idB {
		t.Fatalf("another organisation sees %+v, want only %s", list.Envelopes, idB)
	}
	if r := b.get("/admin/"); r.status != http.StatusOK || contains(r.body, "Compromis") || !contains(r.body, "Bail commercial") {
		t.Fatalf("the list page of the other organisation: %d, shows the first organisation's envelope: %v", r.status, contains(r.body, "Compromis"))
	}
	// Every route on another organisation's envelope answers as if it did not exist.
	for _, tc := range []struct{ method, path string }{
		{"GET", "/admin/api/envelopes/" + idA},
		{"POST", "/admin/api/envelopes/" + idA + "/send"},
		{"POST", "/admin/api/envelopes/" + idA + "/void"},
		{"POST", "/admin/api/envelopes/" + idA + "/remind"},
		{"GET", "/admin/api/envelopes/" + idA + "/documents/contrat"},
		{"GET", "/admin/api/envelopes/" + idA + "/evidence"},
	} {
		var r reply
		if tc.method == "GET" {
			r = b.get(tc.path)
		} else {
			r = b.post(tc.path, map[string]string{"reason": "x"})
		}
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s by another organisation: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	if r := b.get("/admin/envelopes/" + idA); r.status != http.StatusNotFound || contains(r.body, "Compromis") {
		t.Fatalf("the page of another organisation's envelope: %d", r.status)
	}
	if e, _ := w.svc.Envelope(context.Background(), idA); e.Status != "draft" {
		t.Fatalf("another organisation changed the envelope: %s", e.Status)
	}
	// The same organisation can send it.
	if r := a2.post("/admin/api/envelopes/"+idA+"/send", nil); r.status != http.StatusOK {
		t.Fatalf("send by a colleague: %d %s", r.status, r.body)
	}

	// An API key made by an organisation's admin sees that organisation's envelopes only.
	var k struct {
		Key    struct{ ID string }
		Secret string
	}
	r := bAdmin.post("/admin/api/keys", map[string]string{"name": "ERP"})
	if r.status != http.StatusCreated {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	r.json(t, &k)
	if r := w.apiCall(k.Secret, "GET", "/api/v1/envelopes/"+idB); r.status != http.StatusOK {
		t.Fatalf("the organisation's key on its envelope: %d %s", r.status, r.body)
	}
	if r := w.apiCall(k.Secret, "GET", "/api/v1/envelopes/"+idA); r.status != http.StatusNotFound {
		t.Fatalf("the organisation's key on another organisation's envelope: %d", r.status)
	}
	// The key is shown once: the list has no secret.
	if r := bAdmin.get("/admin/api/keys"); r.status != http.StatusOK || contains(r.body, k.Secret) || !contains(r.body, "ERP") {
		t.Fatalf("key list: %d %s", r.status, r.body)
	}
	// Another organisation's admin cannot revoke it.
	aAdmin := w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	if r := aAdmin.post("/admin/api/keys/"+k.Key.ID+"/revoke", nil); r.status != http.StatusNotFound {
		t.Fatalf("revoke by another organisation: %d", r.status)
	}
	if r := w.apiCall(k.Secret, "GET", "/api/v1/envelopes/"+idB); r.status != http.StatusOK {
		t.Fatalf("the key stopped working: %d", r.status)
	}
	// Revoked: refused.
	if r := bAdmin.post("/admin/api/keys/"+k.Key.ID+"/revoke", nil); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := w.apiCall(k.Secret, "GET", "/api/v1/envelopes/"+idB); r.status != http.StatusUnauthorized {
		t.Fatalf("a revoked key: %d %s", r.status, r.body)
	}
}

// TestRoles: only admins manage users, keys and settings.
func TestRoles(t *testing.T) {
	w := newWorld(t)
	s := w.user("Notaires Associés", "sender@notaires.test", RoleSender)
	adm := w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	for _, path := range []string{"/admin/api/users", "/admin/api/keys"} {
		if r := s.get(path); r.status != http.StatusForbidden {
			t.Errorf("GET %s by a sender: %d", path, r.status)
		}
	}
	for _, path := range []string{"/admin/users", "/admin/settings"} {
		if r := s.get(path); r.status != http.StatusForbidden {
			t.Errorf("page %s for a sender: %d", path, r.status)
		}
		if r := adm.get(path); r.status != http.StatusOK {
			t.Errorf("page %s for an admin: %d", path, r.status)
		}
	}
	if r := s.post("/admin/api/users", CreateUserRequest{Email: "x@notaires.test", Role: RoleAdmin, Password: "a long password!"}); r.status != http.StatusForbidden {
		t.Fatalf("a sender created a user: %d", r.status)
	}
	if r := s.post("/admin/api/keys", map[string]string{"name": "mine"}); r.status != http.StatusForbidden {
		t.Fatalf("a sender created a key: %d", r.status)
	}
	if r := s.post("/admin/api/settings/webhook", map[string]string{"url": "https://example.org/h", "secret": "0123456789abcdef"}); r.status != http.StatusForbidden {
		t.Fatalf("a sender changed settings: %d", r.status)
	}
	// The admin creates a sender, who can sign in; then disables them: their session ends.
	r := adm.post("/admin/api/users", CreateUserRequest{Email: "new@notaires.test", Name: "Nouveau", Role: RoleSender, Password: "a long password!"})
	if r.status != http.StatusCreated {
		t.Fatalf("create a user: %d %s", r.status, r.body)
	}
	var nu UserView
	r.json(t, &nu)
	if r := adm.post("/admin/api/users", CreateUserRequest{Email: "new@notaires.test", Role: RoleSender, Password: "a long password!"}); r.status != http.StatusConflict {
		t.Fatalf("the same email twice: %d", r.status)
	}
	if r := adm.post("/admin/api/users", CreateUserRequest{Email: "weak@notaires.test", Role: RoleSender, Password: "short"}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a weak password: %d", r.status)
	}
	c := w.client()
	if r := c.login("new@notaires.test", "a long password!", ""); r.status != http.StatusOK {
		t.Fatalf("the new sender signs in: %d %s", r.status, r.body)
	}
	if r := c.get("/admin/api/me"); r.status != http.StatusOK || !contains(r.body, `"sender"`) {
		t.Fatalf("me: %d %s", r.status, r.body)
	}
	if r := adm.post("/admin/api/users/"+nu.ID+"/disable", nil); r.status != http.StatusOK {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := c.get("/admin/api/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("a disabled user's session: %d", r.status)
	}
	if r := w.client().login("new@notaires.test", "a long password!", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("a disabled user signs in: %d", r.status)
	}
	// Another organisation's admin cannot touch this user.
	other := w.user("Cabinet Dupont", "admin@dupont.test", RoleAdmin)
	if r := other.post("/admin/api/users/"+nu.ID+"/enable", nil); r.status != http.StatusNotFound {
		t.Fatalf("enable by another organisation: %d", r.status)
	}
	var users struct{ Users []UserView }
	other.get("/admin/api/users").json(t, &users)
	if len(users.Users) != 1 || users.Users[0].Email != "admin@dupont.test" {
		t.Fatalf("another organisation's users: %+v", users.Users)
	}
}

// TestSessions: logout, idle and absolute expiry; a replayed cookie is refused.
func TestSessions(t *testing.T) {
	w := newWorld(t)
	c := w.user("Notaires Associés", "sender@notaires.test", RoleSender)
	cookie := c.http.Jar.Cookies(mustURL(t, w.srv.URL+"/admin/"))
	if len(cookie) != 1 || cookie[0].Name != CookieName {
		t.Fatalf("cookies: %v", cookie)
	}
	r := c.get("/admin/api/me")
	if r.status != http.StatusOK {
		t.Fatalf("me: %d", r.status)
	}
	// The cookie's attributes.
	login := w.client().login("sender@notaires.test", "password of sender@notaires.test", "")
	sc := login.header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/admin/"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("the session cookie lacks %s: %s", attr, sc)
		}
	}
	if r := c.post("/admin/api/logout", nil); r.status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	replay := w.client()
	replay.http.Jar.SetCookies(mustURL(t, w.srv.URL+"/admin/"), cookie)
	if r := replay.get("/admin/api/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("a logged-out session replayed: %d", r.status)
	}
	if r := replay.get("/admin/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/login" {
		t.Fatalf("a page with a logged-out session: %d %s", r.status, r.header.Get("Location"))
	}

	// Idle timeout: 30 minutes without a request.
	c = w.client()
	c.login("sender@notaires.test", "password of sender@notaires.test", "")
	for range 4 {
		w.clock.Advance(20 * time.Minute)
		if r := c.get("/admin/api/me"); r.status != http.StatusOK {
			t.Fatalf("an active session expired: %d", r.status)
		}
	}
	w.clock.Advance(31 * time.Minute)
	if r := c.get("/admin/api/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("an idle session: %d", r.status)
	}
	// Absolute timeout: 12 hours even when active.
	c = w.client()
	c.login("sender@notaires.test", "password of sender@notaires.test", "")
	for range 36 {
		w.clock.Advance(20 * time.Minute)
		c.get("/admin/api/me")
	}
	w.clock.Advance(time.Minute)
	if r := c.get("/admin/api/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("a session older than 12 hours: %d", r.status)
	}
}

// TestCSRF: state changes without the session's token, or from another site, are refused and
// change nothing.
func TestCSRF(t *testing.T) {
	w := newWorld(t)
	c := w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	id := c.mustCreate("Compromis")
	for name, hdr := range map[string]map[string]string{
		"no token":         {CSRFHeader: ""},
		"wrong token":      {CSRFHeader: "0123456789012345678901234567890123456789012"},
		"cross-site fetch": {"Sec-Fetch-Site": "cross-site"},
		"foreign origin":   {"Origin": "https://evil.example"},
	} {
		for _, path := range []string{"/admin/api/envelopes/" + id + "/send", "/admin/api/keys", "/admin/api/logout"} {
			r := c.do(http.MethodPost, path, strings.NewReader(`{"name":"k"}`), hdr)
			if r.status != http.StatusForbidden {
				t.Errorf("%s on %s: %d %s", name, path, r.status, r.body)
			}
		}
	}
	if e, _ := w.svc.Envelope(context.Background(), id); e.Status != "draft" {
		t.Fatalf("a forged request sent the envelope: %s", e.Status)
	}
	var keys struct{ Keys []any }
	c.get("/admin/api/keys").json(t, &keys)
	if len(keys.Keys) != 0 {
		t.Fatalf("a forged request made a key: %v", keys.Keys)
	}
	if r := c.get("/admin/api/me"); r.status != http.StatusOK {
		t.Fatalf("a forged logout ended the session: %d", r.status)
	}
	// Sign-in needs JSON from this site (a cross-site form cannot post it).
	f := w.client()
	r := f.do(http.MethodPost, "/admin/api/login", strings.NewReader("email=admin%40notaires.test&password=x"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("a form sign-in: %d", r.status)
	}
	r = f.do(http.MethodPost, "/admin/api/login", strings.NewReader(`{"email":"admin@notaires.test","password":"password of admin@notaires.test"}`), map[string]string{"Sec-Fetch-Site": "cross-site"})
	if r.status != http.StatusForbidden {
		t.Fatalf("a cross-site sign-in: %d", r.status)
	}
}

// TestLoginRateLimit: failures are limited per account and per address; a limited attempt is
// refused even with the right password.
func TestLoginRateLimit(t *testing.T) {
	w := newWorld(t)
	w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	c := w.client()
	for i := range 5 {
		if r := c.login("admin@notaires.test", "wrong password "+string(rune('a'+i)), ""); r.status != http.StatusUnauthorized || r.code() != "bad_credentials" {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := c.login("admin@notaires.test", "password of admin@notaires.test", "")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("the sixth attempt: %d %s", r.status, r.body)
	}
	// Case and spaces do not make another account.
	if r := c.login(" ADMIN@notaires.test", "password of admin@notaires.test", ""); r.status != http.StatusTooManyRequests {
		t.Fatalf("the same account in capitals: %d", r.status)
	}
	w.clock.Advance(16 * time.Minute)
	if r := c.login("admin@notaires.test", "password of admin@notaires.test", ""); r.status != http.StatusOK {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
	// Per address: 20 failures on any accounts block the address.
	for i := range 20 {
		email := "nobody" + string(rune('a'+i)) + "@notaires.test"
		if r := c.login(email, "wrong password!", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, r.status)
		}
	}
	if r := c.login("admin@notaires.test", "password of admin@notaires.test", ""); r.status != http.StatusTooManyRequests {
		t.Fatalf("from a blocked address: %d", r.status)
	}
}

// TestLoginLimitSurvivesRestart: an account's sign-in failures are kept in the store, so a
// handler restarted over the same database still refuses the locked account (429 with
// Retry-After), even with the right password, until the window has passed.
func TestLoginLimitSurvivesRestart(t *testing.T) {
	w := newWorld(t)
	w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	c := w.client()
	for i := range 5 {
		if r := c.login("admin@notaires.test", "wrong password "+string(rune('a'+i)), ""); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
	}
	w.clock.Advance(5 * time.Minute)
	// The restart: new accounts and a new handler over the same database; the per-address
	// counters are gone, the per-account ones are not.
	acc, err := NewAccounts(w.db, AccountsOptions{Now: w.clock.Now, Argon2: Argon2Params{Memory: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(Options{Service: w.svc, DB: w.db, Accounts: acc, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	login := func(email, password string) *httptest.ResponseRecorder {
		b, _ := json.Marshal(LoginRequest{Email: email, Password: password})
		req := httptest.NewRequest(http.MethodPost, "/admin/api/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		return rec
	}
	r := login("admin@notaires.test", "password of admin@notaires.test")
	if r.Code != http.StatusTooManyRequests {
		t.Fatalf("after the restart: %d %s", r.Code, r.Body)
	}
	// The oldest failure leaves the 15-minute window in 10 minutes.
	if ra, err := strconv.Atoi(r.Header().Get("Retry-After")); err != nil || ra < 9*60 || ra > 10*60+1 {
		t.Fatalf("Retry-After %q, want about 600 s", r.Header().Get("Retry-After"))
	}
	if r := login(" Admin@Notaires.test", "password of admin@notaires.test"); r.Code != http.StatusTooManyRequests {
		t.Fatalf("the same account in capitals after the restart: %d", r.Code)
	}
	// Another account is not locked.
	if _, err := acc.CreateUser(context.Background(), NewUser{Org: mustOrg(t, acc), Email: "sender@notaires.test", Role: RoleSender, Password: "password of sender@notaires.test"}); err != nil {
		t.Fatal(err)
	}
	if r := login("sender@notaires.test", "password of sender@notaires.test"); r.Code != http.StatusOK {
		t.Fatalf("another account: %d %s", r.Code, r.Body)
	}
	w.clock.Advance(10*time.Minute + time.Second)
	if r := login("admin@notaires.test", "password of admin@notaires.test"); r.Code != http.StatusOK {
		t.Fatalf("after the window: %d %s", r.Code, r.Body)
	}
	// A success forgets the failures: four, a success, four more do not lock the account.
	for round := range 2 {
		for i := range 4 {
			if r := login("admin@notaires.test", "wrong password "+string(rune('a'+i))); r.Code != http.StatusUnauthorized {
				t.Fatalf("round %d, failure %d: %d", round+1, i+1, r.Code)
			}
		}
		if r := login("admin@notaires.test", "password of admin@notaires.test"); r.Code != http.StatusOK {
			t.Fatalf("round %d, after four failures: %d %s", round+1, r.Code, r.Body)
		}
	}
}

func mustOrg(t *testing.T, acc *Accounts) string {
	t.Helper()
	o, err := acc.EnsureOrg(context.Background(), "Notaires Associés")
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// TestSecondFactor: enrolment, sign-in with a code, a replayed code refused.
func TestSecondFactor(t *testing.T) {
	w := newWorld(t)
	c := w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	r := c.post("/admin/api/totp/begin", nil)
	if r.status != http.StatusOK {
		t.Fatalf("begin: %d %s", r.status, r.body)
	}
	// The secret as the page shows it, for typing into an authenticator app.
	var begun struct{ Secret string }
	r.json(t, &begun)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(begun.Secret, " ", ""))
	if err != nil || len(secret) != 20 {
		t.Fatalf("begin: secret %q: %v", begun.Secret, err)
	}
	step := w.clock.Now().Unix() / 30
	if r := c.post("/admin/api/totp/confirm", map[string]string{"code": "000000"}); r.status != http.StatusUnprocessableEntity && TOTPCode(secret, step) != "000000" {
		t.Fatalf("confirm with a wrong code: %d", r.status)
	}
	if r := c.post("/admin/api/totp/confirm", map[string]string{"code": TOTPCode(secret, step)}); r.status != http.StatusOK {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	f := w.client()
	if r := f.login("admin@notaires.test", "password of admin@notaires.test", ""); r.status != http.StatusUnauthorized || r.code() != "totp_required" {
		t.Fatalf("without a code: %d %s", r.status, r.body)
	}
	// The code used to confirm cannot be used again.
	if r := f.login("admin@notaires.test", "password of admin@notaires.test", TOTPCode(secret, step)); r.status != http.StatusUnauthorized || r.code() != "bad_totp" {
		t.Fatalf("a replayed code: %d %s", r.status, r.body)
	}
	w.clock.Advance(30 * time.Second)
	code := TOTPCode(secret, step+1)
	if r := f.login("admin@notaires.test", "password of admin@notaires.test", code); r.status != http.StatusOK {
		t.Fatalf("with the next code: %d %s", r.status, r.body)
	}
	if r := w.client().login("admin@notaires.test", "password of admin@notaires.test", code); r.status != http.StatusUnauthorized {
		t.Fatalf("the same code twice: %d", r.status)
	}
}
