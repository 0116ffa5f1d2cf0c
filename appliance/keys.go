package appliance

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/config"
)

// devPassphraseFile holds the passphrase generated in development. Keeping it beside the keys
// protects nothing, which is why it exists only in development and is announced loudly.
const devPassphraseFile = "dev-passphrase"

// Init runs the key ceremony for cfg: the whole hierarchy is created in the data directory.
// It refuses (keys.ErrInitialized) when the directory already holds keys.
func Init(ctx context.Context, cfg config.Config, log *slog.Logger) (*keys.Set, error) {
	o, err := keyOptions(cfg, log, true)
	if err != nil {
		return nil, err
	}
	s, err := keys.Init(ctx, o)
	if err != nil {
		return nil, err
	}
	log.Info("key ceremony complete", "dir", o.Dir, "backend", s.Backend, "ledger_key", s.LedgerVerifierKey)
	return s, nil
}

// loadKeys loads the hierarchy; in development it runs the key ceremony on first start.
func loadKeys(ctx context.Context, cfg config.Config, log *slog.Logger) (*keys.Set, error) {
	o, err := keyOptions(cfg, log, cfg.Mode == config.ModeDevelopment)
	if err != nil {
		return nil, err
	}
	// The ledger key's name is part of its verifier key: Load uses the one recorded by the key
	// ceremony, so that moving the appliance to another address does not change it.
	name := o.LedgerKeyName
	o.LedgerKeyName = ""
	s, err := keys.Load(ctx, o)
	o.LedgerKeyName = name
	if errors.Is(err, keys.ErrNotInitialized) && cfg.Mode == config.ModeDevelopment {
		log.Warn("DEVELOPMENT: no keys in the data directory; running the key ceremony now. " +
			"In production run `paraphe init` deliberately, with a passphrase or an HSM.")
		if s, err = keys.Init(ctx, o); err == nil {
			log.Info("key ceremony complete", "dir", o.Dir, "backend", s.Backend, "ledger_key", s.LedgerVerifierKey)
		}
		return s, err
	}
	if errors.Is(err, keys.ErrNotInitialized) {
		return nil, fmt.Errorf("%w: run `paraphe init --config …` first", err)
	}
	if err == nil && s.DataKeyCreated {
		log.Warn("created the data key (data.key, encrypted with the key passphrase) that seals stored secrets: "+
			"this key hierarchy predates it. Back it up with the other key files; secrets stored in clear are sealed now", "dir", o.Dir)
	}
	return s, err
}

// KeyOptions are the key ceremony's options for cfg, for a command that opens an existing
// hierarchy (keys.RenewRootCRL): it never generates a development passphrase.
func KeyOptions(cfg config.Config, log *slog.Logger) (keys.Options, error) {
	return keyOptions(cfg, log, false)
}

func keyOptions(cfg config.Config, log *slog.Logger, mayGenerate bool) (keys.Options, error) {
	pass, err := cfg.Passphrase()
	if err != nil {
		return keys.Options{}, err
	}
	if pass == nil {
		if cfg.Mode != config.ModeDevelopment {
			return keys.Options{}, errors.New("keys.passphrase: required (PARAPHE_KEYS_PASSPHRASE or keys.passphrase_file)")
		}
		pass, err = devPassphrase(cfg, log, mayGenerate)
		if err != nil {
			return keys.Options{}, err
		}
	}
	name := cfg.Ledger.Origin
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
		name = u.Hostname()
	}
	return keys.Options{
		Dir:           cfg.Path("keys"),
		Passphrase:    pass,
		KMS:           cfg.Keys.KMS,
		Organization:  cfg.Organization.Name,
		Country:       cfg.Organization.Country,
		LedgerKeyName: name,
		BaseURL:       cfg.PublicURL, // baked into the certificates the root issues
	}, nil
}

func devPassphrase(cfg config.Config, log *slog.Logger, mayGenerate bool) ([]byte, error) {
	p := cfg.Path(devPassphraseFile)
	b, err := os.ReadFile(p)
	if err == nil {
		log.Warn("DEVELOPMENT: key files are encrypted with the generated passphrase stored beside them; this protects nothing", "file", p)
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) || !mayGenerate {
		return nil, fmt.Errorf("keys.passphrase: not set and no development passphrase: %w", err)
	}
	if _, err := os.Stat(cfg.Path("keys")); err == nil {
		return nil, fmt.Errorf("keys.passphrase: %s holds keys but %s is missing; set the passphrase the keys were made with", cfg.Path("keys"), p)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	b = []byte(base64.RawURLEncoding.EncodeToString(raw))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	if err := writeFileSync(p, b, 0o600); err != nil {
		return nil, err
	}
	log.Warn("DEVELOPMENT: generated a key passphrase and stored it beside the keys; this protects nothing. Never use development mode in production.", "file", p)
	return b, nil
}

// writeFileSync creates path exclusively, writes b and fsyncs it.
func writeFileSync(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
