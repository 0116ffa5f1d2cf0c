package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/paraphe/paraphe/appliance"
	"github.com/paraphe/paraphe/ca/keys"
)

const caUsage = `Usage:
  paraphe ca renew-root-crl [--config FILE] [--data DIR] [--validity DURATION] [--revoke SERIAL:REASON …]
      sign the root CA's next CRL with the root key (a key ceremony: the passphrase or the HSM
      is needed), keeping every earlier revocation; restart the appliance to publish it
`

// revocationReasons are the RFC 5280 CRLReason names that --revoke accepts.
var revocationReasons = map[string]int{
	"unspecified":          0,
	"keycompromise":        1,
	"cacompromise":         2,
	"affiliationchanged":   3,
	"superseded":           4,
	"cessationofoperation": 5,
	"privilegewithdrawn":   9,
	"aacompromise":         10,
}

func runCA(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, caUsage)
		return errUsage{"ca: a subcommand is required"}
	}
	switch args[0] {
	case "renew-root-crl":
		return runRenewRootCRL(ctx, args[1:], stdout, stderr, env)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, caUsage)
		return nil
	}
	fmt.Fprint(stderr, caUsage)
	return errUsage{fmt.Sprintf("ca: unknown subcommand %q", args[0])}
}

func runRenewRootCRL(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	f := newConfigFlags("ca renew-root-crl", stderr, false)
	var revoke []keys.RevokedCert
	f.fs.Func("revoke", "revoke the certificate with hex `SERIAL:REASON` (e.g. 4f1c…:keyCompromise; reasons: unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, aACompromise); repeatable", func(s string) error {
		r, err := parseRevoke(s)
		if err != nil {
			return err
		}
		revoke = append(revoke, r)
		return nil
	})
	validity := f.fs.Duration("validity", keys.DefaultRootCRLValidity, "nextUpdate − thisUpdate of the new CRL (at least 24h)")
	cfg, err := f.load(args, env)
	if err != nil {
		return err
	}
	log := appliance.NewLogger(cfg.Log, stderr)
	if err := appliance.HardenProcess(); err != nil {
		return err
	}
	o, err := appliance.KeyOptions(cfg, log)
	if err != nil {
		return err
	}
	o.LedgerKeyName = "" // not needed, and the recorded one may differ from today's public URL
	o.RootCRLValidity = *validity
	crl, err := keys.RenewRootCRL(ctx, o, revoke)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Root CRL number %s signed in %s.\n", crl.Number, cfg.Path("keys"))
	fmt.Fprintf(stdout, "This update:  %s\n", crl.ThisUpdate.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "Next update:  %s (renew before then)\n", crl.NextUpdate.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "Revoked:      %d certificate(s)\n", len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		fmt.Fprintf(stdout, "  %x  reason %d  since %s\n", e.SerialNumber, e.ReasonCode, e.RevocationTime.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "SHA-256:      %x\n", sha256.Sum256(crl.Raw))
	fmt.Fprintln(stdout, "A running appliance publishes it at /ca/root.crl within 30 seconds.")
	return nil
}

// parseRevoke parses SERIAL:REASON: a hexadecimal serial (optionally 0x-prefixed, with or
// without colons, as openssl prints it) and a CRLReason name or number.
func parseRevoke(s string) (keys.RevokedCert, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return keys.RevokedCert{}, fmt.Errorf("%q is not SERIAL:REASON", s)
	}
	serial, reason := s[:i], s[i+1:]
	if serial == "" || reason == "" {
		return keys.RevokedCert{}, fmt.Errorf("%q is not SERIAL:REASON", s)
	}
	hex := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(serial, "0x"), "0X"), ":", "")
	n, ok := new(big.Int).SetString(hex, 16)
	if !ok || n.Sign() <= 0 {
		return keys.RevokedCert{}, fmt.Errorf("serial %q is not a positive hexadecimal number", serial)
	}
	code, known := revocationReasons[strings.ToLower(reason)]
	if !known {
		v, err := strconv.Atoi(reason)
		if err != nil {
			return keys.RevokedCert{}, fmt.Errorf("unknown revocation reason %q", reason)
		}
		code = v // keys.RenewRootCRL refuses an unsupported number
	}
	return keys.RevokedCert{Serial: n, Reason: code}, nil
}
