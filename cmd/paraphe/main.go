// Command paraphe is the one binary of the Paraphe appliance: serve runs it, init runs the key
// ceremony, verify checks signed documents and evidence offline, ledger audits a running
// appliance's ledger, tsa queries a timestamp authority. Each subcommand only turns flags into
// calls to the packages that do the work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Paraphe — a self-hosted trust-service appliance for electronic signatures.

Usage:
  paraphe serve   [--config FILE] [--data DIR] [--listen ADDR] [--metrics-listen ADDR]
                  run the appliance (with no configuration: development defaults, data in
                  ./paraphe-data, HTTP on 127.0.0.1:8080, keys made on first start)
  paraphe init    [--config FILE] [--data DIR]
                  run the key ceremony: root CA, signers' issuing CA, TSA unit, OCSP responder,
                  platform seal and ledger key; refuses when keys already exist
  paraphe ca      renew-root-crl [--config FILE] [--data DIR] [--revoke SERIAL:REASON …]
                  sign the offline root's next CRL (a key ceremony), revoking root-issued certificates
  paraphe verify  FILE… [--root ROOT.pem] [--json]
                  verify signed PDFs or evidence bundles offline; exit 0 only if all verify
  paraphe ledger  checkpoint|prove|consistency|audit --url URL --key KEY …
                  audit a running appliance's ledger
  paraphe tsa     query FILE --url URL [--out FILE.tsr]
                  timestamp a file with an RFC 3161 TSA and verify the reply
  paraphe admin   create-user --org NAME --email E [--role admin|sender] | set-password --email E
                  manage the sender web app's accounts (with the appliance stopped)
  paraphe version print the version

Configuration: a YAML file (see config/example.yaml), then PARAPHE_* environment variables
(PARAPHE_TLS_MODE=internal, PARAPHE_KEYS_PASSPHRASE=…), then flags.
Run 'paraphe COMMAND --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage marks an error as a usage mistake (exit 2) rather than a failure (exit 1).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "paraphe:", err)
	var u errUsage
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage{"a command is required"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr, env)
	case "init":
		return runInit(ctx, rest, stdout, stderr, env)
	case "verify":
		return runVerify(ctx, rest, stdout, stderr)
	case "admin":
		return runAdmin(ctx, rest, stdout, stderr, env)
	case "ca":
		return runCA(ctx, rest, stdout, stderr, env)
	case "tsa":
		return runTSA(ctx, rest, stdout, stderr)
	case "ledger":
		return runLedger(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "paraphe", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return errUsage{fmt.Sprintf("unknown command %q", cmd)}
}
