package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/web/admin"
)

// adminPasswordEnv passes a new user's password to `paraphe admin` without a terminal. It is
// read by the command only and never reaches the configuration.
const adminPasswordEnv = "PARAPHE_ADMIN_PASSWORD"

const adminUsage = `Usage:
  paraphe admin create-user --org NAME --email EMAIL [--role admin|sender] [--name NAME]
                            [--password-file FILE] [--config FILE] [--data DIR]
      create a user of the sender's web app (and its organisation if new)
  paraphe admin set-password --email EMAIL [--password-file FILE] [--config FILE] [--data DIR]
      replace a user's password and end their sessions

The password comes from $PARAPHE_ADMIN_PASSWORD, else from --password-file (default "-",
standard input: its first line). There is never a default password. Run these while
'paraphe serve' is stopped: the state store is opened exclusively.
`

// runAdmin manages the web app's accounts in the state store.
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, adminUsage)
		if len(args) == 0 {
			return errUsage{"admin: a subcommand is required"}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	if sub != "create-user" && sub != "set-password" {
		fmt.Fprint(stderr, adminUsage)
		return errUsage{fmt.Sprintf("admin: unknown subcommand %q", sub)}
	}
	f := newConfigFlags("admin "+sub, stderr, false)
	var org, email, role, name, pwFile string
	f.fs.StringVar(&email, "email", "", "the user's `email` address (they sign in with it)")
	f.fs.StringVar(&pwFile, "password-file", "-", "read the password from the first line of `file` (\"-\": standard input) when $"+adminPasswordEnv+" is not set")
	if sub == "create-user" {
		f.fs.StringVar(&org, "org", "", "the organisation's `name` (created when new)")
		f.fs.StringVar(&role, "role", "admin", "admin or sender")
		f.fs.StringVar(&name, "name", "", "the user's display `name` (default: the email)")
	}
	password, cfgEnv := "", make([]string, 0, len(env))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, adminPasswordEnv+"="); ok {
			password = v
			continue
		}
		cfgEnv = append(cfgEnv, kv)
	}
	cfg, err := f.load(rest, cfgEnv)
	if err != nil {
		return err
	}
	switch {
	case email == "":
		return errUsage{"admin " + sub + ": --email is required"}
	case sub == "create-user" && strings.TrimSpace(org) == "":
		return errUsage{"admin create-user: --org is required"}
	case sub == "create-user" && !admin.Role(role).Valid():
		return errUsage{fmt.Sprintf("admin create-user: --role must be admin or sender, not %q", role)}
	}
	if password == "" {
		if password, err = readPassword(pwFile); err != nil {
			return fmt.Errorf("admin %s: %w", sub, err)
		}
	}
	if msg := admin.CheckPassword(password); msg != "" {
		return fmt.Errorf("admin %s: %s", sub, msg)
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := badger.Open(badgerstore.BadgerOptions(cfg.Path("state"), quiet))
	if err != nil {
		return fmt.Errorf("admin %s: open the state store (is 'paraphe serve' running? stop it first): %w", sub, err)
	}
	defer db.Close()
	acc, err := admin.NewAccounts(db, admin.AccountsOptions{})
	if err != nil {
		return err
	}
	if sub == "set-password" {
		u, err := acc.UserByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("admin set-password: %w", err)
		}
		if err := acc.SetPassword(ctx, u.Org, u.ID, password); err != nil {
			return err
		}
		if err := acc.EndUserSessions(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Password of %s replaced; their sessions have ended.\n", u.Email)
		return nil
	}
	o, err := acc.EnsureOrg(ctx, org)
	if err != nil {
		return fmt.Errorf("admin create-user: %w", err)
	}
	u, err := acc.CreateUser(ctx, admin.NewUser{Org: o.ID, Email: email, Name: name, Role: admin.Role(role), Password: password})
	if errors.Is(err, admin.ErrExists) {
		return fmt.Errorf("admin create-user: a user with the email %s already exists (use set-password to replace a password)", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "User %s (%s) created in organisation %q.\n", u.Email, u.Role, o.Name)
	return nil
}

// readPassword reads the first line of a file, or of standard input for "-".
func readPassword(name string) (string, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password given: set " + adminPasswordEnv + " or write it on standard input")
	}
	return line, nil
}
