package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/web/admin"
)

func TestAdminCreateUser(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := []string{"PARAPHE_DATA_DIR=" + dir, adminPasswordEnv + "=correct horse battery"}
	var out, errb bytes.Buffer
	err := runAdmin(ctx, []string{"create-user", "--org", "Notaires Associés", "--email", "chef@notaires.test", "--role", "admin"}, &out, &errb, env)
	if err != nil {
		t.Fatalf("create-user: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "chef@notaires.test") {
		t.Fatalf("output: %q", out.String())
	}
	// Again: refused, the password is not replaced.
	err = runAdmin(ctx, []string{"create-user", "--org", "Notaires Associés", "--email", "chef@notaires.test"}, &out, &errb,
		[]string{"PARAPHE_DATA_DIR=" + dir, adminPasswordEnv + "=another password here"})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second create-user: %v", err)
	}
	// No password anywhere: refused, never a default.
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	err = runAdmin(ctx, []string{"create-user", "--org", "X", "--email", "b@x.test", "--password-file", empty}, &out, &errb, []string{"PARAPHE_DATA_DIR=" + dir})
	if err == nil || !strings.Contains(err.Error(), "no password") {
		t.Fatalf("without a password: %v", err)
	}
	// A short password is refused.
	err = runAdmin(ctx, []string{"create-user", "--org", "X", "--email", "b@x.test"}, &out, &errb, []string{"PARAPHE_DATA_DIR=" + dir, adminPasswordEnv + "=short"})
	if err == nil || !strings.Contains(err.Error(), "12 characters") {
		t.Fatalf("short password: %v", err)
	}
	// Usage mistakes exit 2.
	var u errUsage
	if err := runAdmin(ctx, []string{"create-user", "--email", "c@x.test"}, &out, &errb, env); !errors.As(err, &u) {
		t.Fatalf("without --org: %v", err)
	}
	if err := runAdmin(ctx, []string{"create-user", "--org", "X", "--email", "c@x.test", "--role", "root"}, &out, &errb, env); !errors.As(err, &u) {
		t.Fatalf("bad role: %v", err)
	}
	// The password from a file; then set-password replaces it.
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("a sender password\n"), 0o600)
	if err := runAdmin(ctx, []string{"create-user", "--org", "notaires associés", "--email", "s@notaires.test", "--role", "sender", "--password-file", pw}, &out, &errb,
		[]string{"PARAPHE_DATA_DIR=" + dir}); err != nil {
		t.Fatal(err)
	}
	if err := runAdmin(ctx, []string{"set-password", "--email", "s@notaires.test"}, &out, &errb,
		[]string{"PARAPHE_DATA_DIR=" + dir, adminPasswordEnv + "=the new sender password"}); err != nil {
		t.Fatal(err)
	}

	db, err := badger.Open(badgerstore.BadgerOptions(filepath.Join(dir, "state"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acc, err := admin.NewAccounts(db, admin.AccountsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chef, err := acc.Authenticate(ctx, "chef@notaires.test", "correct horse battery", "")
	if err != nil || chef.Role != admin.RoleAdmin {
		t.Fatalf("the admin cannot sign in: %v", err)
	}
	s, err := acc.Authenticate(ctx, "s@notaires.test", "the new sender password", "")
	if err != nil || s.Role != admin.RoleSender {
		t.Fatalf("the sender cannot sign in with the new password: %v", err)
	}
	if s.Org != chef.Org {
		t.Fatal("the organisation name is not matched case-insensitively")
	}
	if _, err := acc.Authenticate(ctx, "s@notaires.test", "a sender password", ""); !errors.Is(err, admin.ErrBadCredentials) {
		t.Fatalf("the old password still works: %v", err)
	}
}
