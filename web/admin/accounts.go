package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/crypto/argon2"

	"github.com/paraphe/paraphe/ceremony"
)

// Role is what a user may do in their organisation.
type Role string

// Roles.
const (
	// RoleAdmin manages the organisation's users, API keys and settings, and its envelopes.
	RoleAdmin Role = "admin"
	// RoleSender prepares, sends and follows the organisation's envelopes.
	RoleSender Role = "sender"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleSender }

// Badger keys of the accounts, all under "admin/".
const (
	kOrg      = "admin/org/"      // + id → Org
	kOrgName  = "admin/orgname/"  // + lower(name) → id
	kUser     = "admin/user/"     // + id → User
	kEmail    = "admin/email/"    // + lower(email) → user id
	kSession  = "admin/session/"  // + sha256(secret) → Session
	kTemplate = "admin/template/" // + org id + "/" + id → Template
)

// Org is an organisation: its users, API keys and envelopes are invisible to every other one.
type Org struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Logo is the organisation's logo (PNG or JPEG), shown on its pages.
	Logo     []byte `json:"logo,omitempty"`
	LogoType string `json:"logo_type,omitempty"`
	// Webhook, when set, is added to every envelope prepared in the web app. Its secret is
	// sealed (AccountsOptions.Secrets, bound to the organisation): see Accounts.SealWebhookSecret
	// and Accounts.WebhookSecret.
	WebhookURL    string `json:"webhook_url,omitempty"`
	WebhookSecret []byte `json:"webhook_secret_sealed,omitempty"`
}

// Owner is the owner of the organisation's envelopes and API keys in the ceremony and the API.
func (o *Org) Owner() string { return OwnerOf(o.ID) }

// OwnerOf is the envelope owner of organisation id.
func OwnerOf(orgID string) string { return "org:" + orgID }

// User is a person who signs in to the web app.
type User struct {
	ID       string    `json:"id"`
	Org      string    `json:"org"`
	Email    string    `json:"email"`
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Password string    `json:"password"` // PHC-style argon2id hash
	Created  time.Time `json:"created"`
	Disabled bool      `json:"disabled,omitempty"`
	// TOTP is the secret of the second factor once confirmed; TOTPPending while being enrolled.
	// Both are sealed (AccountsOptions.Secrets, bound to the user), never in clear; empty when
	// there is none.
	TOTP        []byte `json:"totp_sealed,omitempty"`
	TOTPPending []byte `json:"totp_pending_sealed,omitempty"`
	// TOTPLast is the last time step whose code was accepted; a code of that step or an earlier
	// one is refused (no replay).
	TOTPLast int64 `json:"totp_last,omitempty"`
}

// Session is a signed-in browser. Only the SHA-256 of its secret is stored.
type Session struct {
	User     string    `json:"user"`
	Org      string    `json:"org"`
	CSRF     string    `json:"csrf"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"` // absolute
}

// Errors of the accounts.
var (
	ErrBadCredentials = errors.New("admin: wrong email or password")
	ErrTOTPRequired   = errors.New("admin: a second-factor code is required")
	ErrBadTOTP        = errors.New("admin: wrong or reused second-factor code")
	ErrNoSession      = errors.New("admin: no such session or session expired")
	ErrExists         = errors.New("admin: already exists")
	ErrNotFound       = errors.New("admin: not found")
	// ErrNoSecrets: a secret must be sealed or opened and AccountsOptions.Secrets is nil, or a
	// secret stored in clear by an earlier version cannot be sealed.
	ErrNoSecrets = errors.New("admin: no Secrets configured to seal or open stored secrets")
)

// Argon2Params are the argon2id cost parameters of new password hashes.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 follows the OWASP recommendation for argon2id (19 MiB, 2 passes, 1 lane).
func DefaultArgon2() Argon2Params { return Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1} }

// AccountsOptions configure Accounts.
type AccountsOptions struct {
	Now    func() time.Time
	Argon2 Argon2Params // zero: DefaultArgon2
	// IdleTimeout ends a session unused for this long (default 30 min); AbsoluteTimeout ends
	// every session this long after sign-in (default 12 h).
	IdleTimeout, AbsoluteTimeout time.Duration
	// Secrets seals the TOTP and webhook secrets in the state store (the appliance's data key).
	// Without it, enrolling or checking a second factor and storing or using an organisation's
	// webhook fail with ErrNoSecrets; the rest works (`paraphe admin create-user`).
	Secrets ceremony.Secrets
}

// Accounts stores organisations, users and sessions in the appliance's state store.
type Accounts struct {
	db    *badger.DB
	opt   AccountsOptions
	dummy string // a hash compared against when the email is unknown, to keep timing even
}

// NewAccounts opens the accounts over db.
func NewAccounts(db *badger.DB, opt AccountsOptions) (*Accounts, error) {
	if db == nil {
		return nil, errors.New("admin: accounts need a database")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Argon2 == (Argon2Params{}) {
		opt.Argon2 = DefaultArgon2()
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 30 * time.Minute
	}
	if opt.AbsoluteTimeout <= 0 {
		opt.AbsoluteTimeout = 12 * time.Hour
	}
	a := &Accounts{db: db, opt: opt}
	d, err := a.hashPassword(randomToken())
	if err != nil {
		return nil, err
	}
	a.dummy = d
	if opt.Secrets != nil {
		if err := a.migrateSecrets(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func randomID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// randomToken is 256 random bits, base64url without padding.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// CheckPassword says what is wrong with a new password, or "" when it is acceptable: 12 to
// 1024 characters, not only spaces.
func CheckPassword(p string) string {
	n := utf8.RuneCountInString(p)
	switch {
	case n < 12:
		return "the password must have at least 12 characters"
	case len(p) > 1024:
		return "the password must have at most 1024 bytes"
	case strings.TrimSpace(p) == "":
		return "the password cannot be only spaces"
	}
	return ""
}

func (a *Accounts) hashPassword(p string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("admin: salt: %w", err)
	}
	pr := a.opt.Argon2
	key := argon2.IDKey([]byte(p), salt, pr.Time, pr.Memory, pr.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, pr.Memory, pr.Time, pr.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verifyPassword checks p against a hash made by hashPassword, in constant time.
func verifyPassword(hash, p string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var m, t uint32
	var th uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 100 || th == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(p), salt, t, m, th, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func get(txn *badger.Txn, key string, v any) error {
	it, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return it.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

func set(txn *badger.Txn, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set([]byte(key), b)
}

func scanPrefix(txn *badger.Txn, prefix string, fn func(key string, v []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 32})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := fn(string(it.Item().Key()), v); err != nil {
			return err
		}
	}
	return nil
}

func checkName(what, v string, max int) error {
	if strings.TrimSpace(v) == "" || utf8.RuneCountInString(v) > max || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("admin: %s must have 1 to %d characters and no control characters", what, max)
	}
	return nil
}

// EnsureOrg returns the organisation named name (case-insensitively), creating it if needed.
func (a *Accounts) EnsureOrg(ctx context.Context, name string) (*Org, error) {
	name = strings.TrimSpace(name)
	if err := checkName("an organisation's name", name, 200); err != nil {
		return nil, err
	}
	var org Org
	err := a.db.Update(func(txn *badger.Txn) error {
		var id string
		switch err := get(txn, kOrgName+strings.ToLower(name), &id); {
		case err == nil:
			return a.getOrg(txn, id, &org)
		case !errors.Is(err, ErrNotFound):
			return err
		}
		org = Org{ID: randomID(), Name: name, Created: a.opt.Now().UTC()}
		if err := set(txn, kOrgName+strings.ToLower(name), org.ID); err != nil {
			return err
		}
		return set(txn, kOrg+org.ID, org)
	})
	if err != nil {
		return nil, fmt.Errorf("admin: organisation: %w", err)
	}
	return &org, nil
}

// Org returns an organisation.
func (a *Accounts) Org(ctx context.Context, id string) (*Org, error) {
	var org Org
	if err := a.db.View(func(txn *badger.Txn) error { return a.getOrg(txn, id, &org) }); err != nil {
		return nil, fmt.Errorf("admin: organisation %s: %w", id, err)
	}
	return &org, nil
}

// UpdateOrg applies fn to an organisation and stores it.
func (a *Accounts) UpdateOrg(ctx context.Context, id string, fn func(*Org) error) (*Org, error) {
	var org Org
	err := a.db.Update(func(txn *badger.Txn) error {
		if err := a.getOrg(txn, id, &org); err != nil {
			return err
		}
		if err := fn(&org); err != nil {
			return err
		}
		return set(txn, kOrg+id, org)
	})
	if err != nil {
		return nil, fmt.Errorf("admin: organisation %s: %w", id, err)
	}
	return &org, nil
}

// NewUser describes a user to create.
type NewUser struct {
	Org      string
	Email    string
	Name     string
	Role     Role
	Password string
}

// CreateUser creates a user in an existing organisation. Emails are unique across the
// appliance (a person signs in without naming their organisation).
func (a *Accounts) CreateUser(ctx context.Context, nu NewUser) (*User, error) {
	addr, err := mail.ParseAddress(nu.Email)
	if err != nil || addr.Address != nu.Email || addr.Name != "" || len(nu.Email) > 254 {
		return nil, fmt.Errorf("admin: %q is not a plain email address", nu.Email)
	}
	if nu.Name == "" {
		nu.Name = nu.Email
	}
	if err := checkName("a user's name", nu.Name, 200); err != nil {
		return nil, err
	}
	if !nu.Role.Valid() {
		return nil, fmt.Errorf("admin: role must be admin or sender, not %q", nu.Role)
	}
	if msg := CheckPassword(nu.Password); msg != "" {
		return nil, errors.New("admin: " + msg)
	}
	hash, err := a.hashPassword(nu.Password)
	if err != nil {
		return nil, err
	}
	u := User{ID: randomID(), Org: nu.Org, Email: nu.Email, Name: nu.Name, Role: nu.Role, Password: hash, Created: a.opt.Now().UTC()}
	err = a.db.Update(func(txn *badger.Txn) error {
		var org Org
		if err := get(txn, kOrg+nu.Org, &org); err != nil {
			return fmt.Errorf("organisation %s: %w", nu.Org, err)
		}
		var existing string
		switch err := get(txn, kEmail+strings.ToLower(nu.Email), &existing); {
		case err == nil:
			return fmt.Errorf("a user with this email: %w", ErrExists)
		case !errors.Is(err, ErrNotFound):
			return err
		}
		if err := set(txn, kEmail+strings.ToLower(nu.Email), u.ID); err != nil {
			return err
		}
		return set(txn, kUser+u.ID, u)
	})
	if err != nil {
		return nil, fmt.Errorf("admin: create user: %w", err)
	}
	return &u, nil
}

// User returns a user.
func (a *Accounts) User(ctx context.Context, id string) (*User, error) {
	var u User
	if err := a.db.View(func(txn *badger.Txn) error { return a.getUser(txn, id, &u) }); err != nil {
		return nil, fmt.Errorf("admin: user: %w", err)
	}
	return &u, nil
}

// UserByEmail returns the user who signs in with email.
func (a *Accounts) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := a.db.View(func(txn *badger.Txn) error {
		var id string
		if err := get(txn, kEmail+strings.ToLower(strings.TrimSpace(email)), &id); err != nil {
			return err
		}
		return a.getUser(txn, id, &u)
	})
	if err != nil {
		return nil, fmt.Errorf("admin: user %s: %w", email, err)
	}
	return &u, nil
}

// Users lists the users of an organisation by email.
func (a *Accounts) Users(ctx context.Context, org string) ([]User, error) {
	var out []User
	err := a.db.View(func(txn *badger.Txn) error {
		return scanPrefix(txn, kUser, func(_ string, v []byte) error {
			var u User
			if _, err := a.decodeUser(v, &u); err != nil {
				return err
			}
			if u.Org == org {
				out = append(out, u)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("admin: users: %w", err)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(strings.ToLower(a.Email), strings.ToLower(b.Email)) })
	return out, nil
}

// UpdateUser applies fn to a user of org and stores it; ErrNotFound when org has no such user.
func (a *Accounts) UpdateUser(ctx context.Context, org, id string, fn func(*User) error) (*User, error) {
	var u User
	err := a.db.Update(func(txn *badger.Txn) error {
		if err := a.getUser(txn, id, &u); err != nil {
			return err
		}
		if u.Org != org {
			return ErrNotFound
		}
		if err := fn(&u); err != nil {
			return err
		}
		return set(txn, kUser+id, u)
	})
	if err != nil {
		return nil, fmt.Errorf("admin: user: %w", err)
	}
	return &u, nil
}

// SetPassword replaces a user's password.
func (a *Accounts) SetPassword(ctx context.Context, org, id, password string) error {
	if msg := CheckPassword(password); msg != "" {
		return errors.New("admin: " + msg)
	}
	hash, err := a.hashPassword(password)
	if err != nil {
		return err
	}
	_, err = a.UpdateUser(ctx, org, id, func(u *User) error { u.Password = hash; return nil })
	return err
}

// Authenticate checks an email and password and, when the user has a second factor, its
// current code. Wrong credentials, an unknown email and a disabled user all give
// ErrBadCredentials after the same work; a correct password without the needed code gives
// ErrTOTPRequired; a wrong or replayed code ErrBadTOTP.
func (a *Accounts) Authenticate(ctx context.Context, email, password, code string) (*User, error) {
	var u User
	err := a.db.View(func(txn *badger.Txn) error {
		var id string
		if err := get(txn, kEmail+strings.ToLower(strings.TrimSpace(email)), &id); err != nil {
			return err
		}
		return a.getUser(txn, id, &u)
	})
	if errors.Is(err, ErrNotFound) || len(password) > 1024 {
		verifyPassword(a.dummy, password[:min(len(password), 1024)])
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("admin: authenticate: %w", err)
	}
	if !verifyPassword(u.Password, password) || u.Disabled {
		return nil, ErrBadCredentials
	}
	if len(u.TOTP) == 0 {
		return &u, nil
	}
	if code == "" {
		return nil, ErrTOTPRequired
	}
	if err := a.useTOTP(u.ID, func(u *User) []byte { return u.TOTP }, code); err != nil {
		return nil, err
	}
	return &u, nil
}

// useTOTP checks a code against the sealed secret that pick returns and records its step,
// refusing codes of a step already used.
func (a *Accounts) useTOTP(id string, pick func(*User) []byte, code string) error {
	return a.db.Update(func(txn *badger.Txn) error {
		var u User
		if err := a.getUser(txn, id, &u); err != nil {
			return err
		}
		if len(pick(&u)) == 0 {
			return ErrBadTOTP
		}
		secret, err := a.open(pick(&u), totpAD(u.ID))
		if err != nil {
			return fmt.Errorf("second factor of user %s: %w", u.ID, err)
		}
		defer clear(secret)
		step, ok := VerifyTOTP(secret, code, a.opt.Now(), u.TOTPLast)
		if !ok {
			return ErrBadTOTP
		}
		u.TOTPLast = step
		return set(txn, kUser+id, u)
	})
}

// BeginTOTP starts enrolling a second factor: it returns a new secret that the user adds to
// their authenticator app (it is stored only sealed); the factor is active once ConfirmTOTP
// accepts a code.
func (a *Accounts) BeginTOTP(ctx context.Context, org, id string) ([]byte, error) {
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("admin: totp secret: %w", err)
	}
	sealed, err := a.seal(secret, totpAD(id))
	if err != nil {
		return nil, fmt.Errorf("admin: totp secret: %w", err)
	}
	if _, err := a.UpdateUser(ctx, org, id, func(u *User) error { u.TOTPPending = sealed; return nil }); err != nil {
		return nil, err
	}
	return secret, nil
}

// ConfirmTOTP activates the pending second factor when code is right.
func (a *Accounts) ConfirmTOTP(ctx context.Context, org, id, code string) error {
	if err := a.useTOTP(id, func(u *User) []byte { return u.TOTPPending }, code); err != nil {
		return err
	}
	_, err := a.UpdateUser(ctx, org, id, func(u *User) error {
		if len(u.TOTPPending) == 0 {
			return ErrBadTOTP
		}
		u.TOTP, u.TOTPPending = u.TOTPPending, nil
		return nil
	})
	return err
}

// DisableTOTP removes a user's second factor.
func (a *Accounts) DisableTOTP(ctx context.Context, org, id string) error {
	_, err := a.UpdateUser(ctx, org, id, func(u *User) error { u.TOTP, u.TOTPPending = nil, nil; return nil })
	return err
}

// NewSession signs a user in and returns the session's secret, to put in a cookie.
func (a *Accounts) NewSession(ctx context.Context, u *User) (string, *Session, error) {
	secret := randomToken()
	now := a.opt.Now().UTC()
	s := Session{User: u.ID, Org: u.Org, CSRF: randomToken(), Created: now, LastSeen: now, Expires: now.Add(a.opt.AbsoluteTimeout)}
	if err := a.db.Update(func(txn *badger.Txn) error { return set(txn, kSession+sha(secret), s) }); err != nil {
		return "", nil, fmt.Errorf("admin: new session: %w", err)
	}
	return secret, &s, nil
}

// Session returns a live session and its user, and records its use. An expired (idle or
// absolute) session, a disabled user or an unknown secret give ErrNoSession.
func (a *Accounts) Session(ctx context.Context, secret string) (*Session, *User, error) {
	if secret == "" || len(secret) > 100 {
		return nil, nil, ErrNoSession
	}
	key := kSession + sha(secret)
	now := a.opt.Now().UTC()
	var s Session
	var u User
	err := a.db.View(func(txn *badger.Txn) error {
		if err := get(txn, key, &s); err != nil {
			return err
		}
		return a.getUser(txn, s.User, &u)
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("admin: session: %w", err)
	}
	if !now.Before(s.Expires) || !now.Before(s.LastSeen.Add(a.opt.IdleTimeout)) || u.Disabled || u.Org != s.Org {
		_ = a.db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(key)) })
		return nil, nil, ErrNoSession
	}
	if now.Sub(s.LastSeen) >= time.Minute {
		s.LastSeen = now
		if err := a.db.Update(func(txn *badger.Txn) error { return set(txn, key, s) }); err != nil {
			return nil, nil, fmt.Errorf("admin: session: %w", err)
		}
	}
	return &s, &u, nil
}

// EndSession signs a session out; ending an unknown session is not an error.
func (a *Accounts) EndSession(ctx context.Context, secret string) error {
	if err := a.db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(kSession + sha(secret))) }); err != nil {
		return fmt.Errorf("admin: end session: %w", err)
	}
	return nil
}

// EndUserSessions signs out every session of a user (after disabling it or changing its
// password).
func (a *Accounts) EndUserSessions(ctx context.Context, userID string) error {
	var keys []string
	err := a.db.View(func(txn *badger.Txn) error {
		return scanPrefix(txn, kSession, func(k string, v []byte) error {
			var s Session
			if err := json.Unmarshal(v, &s); err == nil && s.User == userID {
				keys = append(keys, k)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("admin: sessions: %w", err)
	}
	return a.db.Update(func(txn *badger.Txn) error {
		for _, k := range keys {
			if err := txn.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Bootstrap makes sure an admin with this email exists in organisation orgName, creating the
// organisation and the user with password when needed. It never changes an existing user's
// password. It serves `paraphe admin create-user` and the start-time environment.
func (a *Accounts) Bootstrap(ctx context.Context, orgName, email, password string) (*User, bool, error) {
	org, err := a.EnsureOrg(ctx, orgName)
	if err != nil {
		return nil, false, err
	}
	var id string
	err = a.db.View(func(txn *badger.Txn) error { return get(txn, kEmail+strings.ToLower(email), &id) })
	if err == nil {
		u, err := a.User(ctx, id)
		return u, false, err
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, fmt.Errorf("admin: bootstrap: %w", err)
	}
	u, err := a.CreateUser(ctx, NewUser{Org: org.ID, Email: email, Role: RoleAdmin, Password: password})
	return u, err == nil, err
}
