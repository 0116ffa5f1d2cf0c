package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// RFC 6238, appendix B: the SHA-1 secret and its 8-digit codes; we use the last 6 digits.
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := TOTPCode(secret, v.unix/30); got != v.code {
			t.Errorf("T=%d: %s, want %s", v.unix, got, v.code)
		}
	}
}

func TestVerifyTOTP(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	cur := now.Unix() / 30
	for _, d := range []int64{-1, 0, 1} {
		if step, ok := VerifyTOTP(secret, TOTPCode(secret, cur+d), now, 0); !ok || step != cur+d {
			t.Errorf("drift %d refused", d)
		}
	}
	for _, d := range []int64{-2, 2} {
		if _, ok := VerifyTOTP(secret, TOTPCode(secret, cur+d), now, 0); ok {
			t.Errorf("drift %d accepted", d)
		}
	}
	if _, ok := VerifyTOTP(secret, TOTPCode(secret, cur), now, cur); ok {
		t.Error("a code of the last used step accepted again")
	}
	if _, ok := VerifyTOTP(secret, TOTPCode(secret, cur-1), now, cur); ok {
		t.Error("an older code accepted after a newer one")
	}
	for _, bad := range []string{"", "12345", "1234567", "12a456", "０５０４７１"} {
		if _, ok := VerifyTOTP(secret, bad, now, 0); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := VerifyTOTP(nil, TOTPCode(nil, cur), now, 0); ok {
		t.Error("accepted without a secret")
	}
}

func memDB(t testing.TB) *badger.DB {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPasswords(t *testing.T) {
	ctx := context.Background()
	db := memDB(t)
	acc, err := NewAccounts(db, AccountsOptions{Argon2: Argon2Params{Memory: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	org, _ := acc.EnsureOrg(ctx, "Notaires")
	u, err := acc.CreateUser(ctx, NewUser{Org: org.ID, Email: "a@n.test", Role: RoleAdmin, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.Password, "$argon2id$v=19$m=1024,t=1,p=1$") || strings.Contains(u.Password, "horse") {
		t.Fatalf("stored hash: %s", u.Password)
	}
	if _, err := acc.Authenticate(ctx, "A@N.test", "correct horse battery", ""); err != nil {
		t.Fatalf("case-insensitive email: %v", err)
	}
	for _, c := range []struct{ email, pw string }{{"a@n.test", "correct horse batterY"}, {"b@n.test", "correct horse battery"}, {"a@n.test", ""},
		{"a@n.test", strings.Repeat("x", 5000)}} {
		if _, err := acc.Authenticate(ctx, c.email, c.pw, ""); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s/%q: %v", c.email, c.pw[:min(len(c.pw), 20)], err)
		}
	}
	for _, bad := range []string{"", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2i$v=19$m=1024,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=1024,t=1,p=1$!!$AAAA", u.Password + "x"} {
		if verifyPassword(bad, "correct horse battery") {
			t.Errorf("hash %q verified", bad)
		}
	}
	// Emails are unique across organisations.
	other, _ := acc.EnsureOrg(ctx, "Autre")
	if _, err := acc.CreateUser(ctx, NewUser{Org: other.ID, Email: "a@n.test", Role: RoleSender, Password: "another long one"}); !errors.Is(err, ErrExists) {
		t.Fatalf("the same email in another organisation: %v", err)
	}
	for _, nu := range []NewUser{
		{Org: org.ID, Email: "not an email", Role: RoleSender, Password: "a long password!"},
		{Org: org.ID, Email: "Name <c@n.test>", Role: RoleSender, Password: "a long password!"},
		{Org: org.ID, Email: "c@n.test", Role: "root", Password: "a long password!"},
		{Org: org.ID, Email: "c@n.test", Role: RoleSender, Password: "short"},
		{Org: "nope", Email: "c@n.test", Role: RoleSender, Password: "a long password!"},
	} {
		if _, err := acc.CreateUser(ctx, nu); err == nil {
			t.Errorf("created %+v", nu)
		}
	}
	// Bootstrap never replaces a password.
	if _, created, err := acc.Bootstrap(ctx, "Notaires", "a@n.test", "a different password"); err != nil || created {
		t.Fatalf("bootstrap of an existing user: %v %v", created, err)
	}
	if _, err := acc.Authenticate(ctx, "a@n.test", "correct horse battery", ""); err != nil {
		t.Fatal("bootstrap replaced the password")
	}
	if u, created, err := acc.Bootstrap(ctx, "Nouvelle", "boss@nouvelle.test", "a first password"); err != nil || !created || u.Role != RoleAdmin {
		t.Fatalf("bootstrap: %v %v", created, err)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(3, time.Minute)
	l.maxKeys = 4
	now := time.Unix(1000, 0)
	for range 3 {
		if b, _ := l.blocked("k", now); b {
			t.Fatal("blocked early")
		}
		l.fail("k", now)
	}
	if b, wait := l.blocked("k", now.Add(10*time.Second)); !b || wait != 50*time.Second {
		t.Fatalf("blocked %v wait %s", b, wait)
	}
	if b, _ := l.blocked("k", now.Add(61*time.Second)); b {
		t.Fatal("still blocked after the window")
	}
	l.fail("k", now)
	l.fail("k", now)
	l.fail("k", now)
	l.reset("k")
	if b, _ := l.blocked("k", now); b {
		t.Fatal("blocked after reset")
	}
	for i := range 10 {
		l.fail(string(rune('a'+i)), now)
	}
	if len(l.hits) > 4 {
		t.Fatalf("%d keys kept, at most 4", len(l.hits))
	}
}

func FuzzVerifyPassword(f *testing.F) {
	f.Add("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "pw")
	f.Add("$argon2id$v=19$m=4194305,t=1,p=1$c2FsdA$aGFzaA", "pw")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		// The cost parameters are bounded before any work (at most 1 GiB, 100 passes), so a
		// hostile stored hash cannot exhaust memory; random input never verifies.
		if verifyPassword(hash, pw) && !strings.HasPrefix(hash, "$argon2id$v=19$") {
			t.Fatalf("verified a hash that is not argon2id: %q", hash)
		}
	})
}

func FuzzVerifyTOTP(f *testing.F) {
	f.Add([]byte("12345678901234567890"), "287082", int64(59))
	f.Fuzz(func(t *testing.T, secret []byte, code string, unix int64) {
		step, ok := VerifyTOTP(secret, code, time.Unix(unix, 0), 0)
		if ok && TOTPCode(secret, step) != code {
			t.Fatalf("accepted %q for step %d", code, step)
		}
	})
}
