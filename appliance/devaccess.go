package appliance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/paraphe/paraphe/web/admin"
	"github.com/paraphe/paraphe/web/api"
)

// devAccessFile holds, in development, the credentials devAccess made. Like the development
// passphrase it sits in the data directory, readable by its owner only, and is never logged.
const devAccessFile = "dev-access"

// Development credentials, when the configuration names none.
const (
	devOrganization = "Development"
	devAdminEmail   = "admin@localhost"
)

// devAccess makes a development appliance usable right after `scripts/serve`: unless the
// configuration has a bootstrap administrator (or API key), it ensures an administrator of
// the "Development" organisation with a random password (and registers a random API key, for
// the API and the outbox). They are made once, kept in data_dir/dev-access and reused at every
// start; the log says where they are, not what they are. Never called in production.
func (a *Appliance) devAccess(ctx context.Context, accounts *admin.Accounts) error {
	needAdmin := a.cfg.BootstrapAdmin.Email == ""
	needKey := a.cfg.BootstrapAPIKey == ""
	if !needAdmin && !needKey {
		return nil
	}
	path := a.cfg.Path(devAccessFile)
	creds, err := readDevAccess(path)
	if errors.Is(err, os.ErrNotExist) {
		creds = map[string]string{
			"admin_email":    devAdminEmail,
			"admin_password": randomSecret(18),
			"api_key":        randomSecret(32),
		}
		var b bytes.Buffer
		b.WriteString("# DEVELOPMENT credentials made by paraphe serve; this file protects nothing.\n")
		for _, k := range []string{"admin_email", "admin_password", "api_key"} {
			fmt.Fprintf(&b, "%s=%s\n", k, creds[k])
		}
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			return fmt.Errorf("development credentials: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("development credentials: %w", err)
	}
	var made []string
	if needAdmin {
		if _, _, err := accounts.Bootstrap(ctx, devOrganization, creds["admin_email"], creds["admin_password"]); err != nil {
			return fmt.Errorf("development administrator: %w", err)
		}
		made = append(made, "an administrator ("+creds["admin_email"]+") at "+a.cfg.PublicURL+"/admin/")
	}
	if needKey {
		if err := api.RegisterKey(ctx, a.state, "development", creds["api_key"]); err != nil {
			return fmt.Errorf("development API key: %w", err)
		}
		made = append(made, "an API key (also the password of "+a.cfg.PublicURL+api.OutboxPagePath+")")
	}
	a.log.Warn("DEVELOPMENT: sign in with "+strings.Join(made, " and ")+": the credentials are in the file named here; "+
		"set bootstrap_admin / bootstrap_api_key to choose your own", "file", path)
	return nil
}

func readDevAccess(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	creds := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			creds[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, k := range []string{"admin_email", "admin_password", "api_key"} {
		if creds[k] == "" {
			return nil, fmt.Errorf("%s has no %s: delete it to make new credentials", path, k)
		}
	}
	return creds, nil
}

// randomSecret is n random bytes in unpadded base64url.
func randomSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
