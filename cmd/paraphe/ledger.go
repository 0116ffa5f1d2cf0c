package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/paraphe/paraphe/ledger/audit"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
	"github.com/paraphe/paraphe/tsa"
)

const ledgerUsage = `Usage:
  paraphe ledger checkpoint  --url URL --key KEY [--out FILE] [--tsa-roots ROOTS.pem]
      fetch the latest checkpoint, verify its signature, print its size and root;
      --out saves the signed checkpoint for a later 'consistency --since FILE';
      --tsa-roots also verifies its RFC 3161 timestamp against these trust roots
  paraphe ledger prove       --url URL --key KEY (--index N | EVENTFILE)
      prove that the event at index N, or the event in EVENTFILE (its JSON), is in the ledger
  paraphe ledger consistency --url URL --key KEY --since FILE [--update]
      prove that the ledger only grew since the checkpoint saved in FILE;
      --update then saves the latest checkpoint in FILE
  paraphe ledger audit       --url URL --key KEY
      download every entry, recompute the root and compare it with the signed checkpoint

URL is the appliance's address (e.g. https://sign.example.org). KEY is the ledger's verifier
key (name+hash+base64, as served at /ledger/key, which an auditor obtains out of band) or a
file holding it. Exit status 0 means verified.
`

// runLedger runs "paraphe ledger SUBCOMMAND …": an auditor's checks against a running
// appliance. The checks themselves are in package ledger/audit.
func runLedger(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return errUsage{"ledger: a subcommand is required"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("paraphe ledger "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ledgerUsage) }
	baseURL := fs.String("url", "", "the appliance's address")
	key := fs.String("key", "", "the ledger's verifier key, or a file holding it")
	var out, since, tsaRoots *string
	var index *int64
	var update *bool
	switch sub {
	case "checkpoint":
		out = fs.String("out", "", "save the signed checkpoint in this file")
		tsaRoots = fs.String("tsa-roots", "", "PEM trust roots to verify the checkpoint's timestamp with")
	case "prove":
		index = fs.Int64("index", -1, "index of the entry to prove")
	case "consistency":
		since = fs.String("since", "", "a signed checkpoint saved earlier")
		update = fs.Bool("update", false, "save the latest checkpoint in the --since file once verified")
	case "audit":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, ledgerUsage)
		return nil
	default:
		fmt.Fprint(stderr, ledgerUsage)
		return errUsage{fmt.Sprintf("ledger: unknown subcommand %q", sub)}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{err.Error()}
	}
	if *baseURL == "" || *key == "" {
		return errUsage{"ledger " + sub + ": --url and --key are required"}
	}
	c, err := ledgerClient(*baseURL, *key)
	if err != nil {
		return err
	}
	switch sub {
	case "checkpoint":
		if fs.NArg() != 0 {
			return errUsage{"ledger checkpoint: unexpected arguments"}
		}
		cp, err := c.Checkpoint(ctx)
		if err != nil {
			return err
		}
		printCheckpoint(stdout, cp.Checkpoint)
		if *tsaRoots != "" {
			if err := verifyCheckpointTimestamp(ctx, c, cp, *tsaRoots, stdout); err != nil {
				return err
			}
		}
		if *out != "" {
			if err := os.WriteFile(*out, cp.Note, 0o644); err != nil {
				return fmt.Errorf("ledger checkpoint: saving: %w", err)
			}
			fmt.Fprintf(stdout, "saved to %s\n", *out)
		}
		return nil
	case "prove":
		return ledgerProve(ctx, c, *index, fs.Args(), stdout)
	case "consistency":
		if *since == "" || fs.NArg() != 0 {
			return errUsage{"ledger consistency: --since FILE is required, and nothing else"}
		}
		return ledgerConsistency(ctx, c, *since, *update, stdout)
	}
	if fs.NArg() != 0 {
		return errUsage{"ledger audit: unexpected arguments"}
	}
	rep, err := c.Audit(ctx, progressBar(stderr))
	if err != nil {
		return err
	}
	printCheckpoint(stdout, rep.Checkpoint.Checkpoint)
	fmt.Fprintf(stdout, "audit OK: %d entries recomputed to the signed root\n", rep.Checkpoint.Size)
	for _, t := range event.Types() {
		if n := rep.Types[t]; n > 0 {
			fmt.Fprintf(stdout, "  %-22s %d\n", t, n)
		}
	}
	return nil
}

func ledgerClient(baseURL, key string) (*audit.Client, error) {
	if b, err := os.ReadFile(key); err == nil {
		key = string(b)
	} else if !strings.Contains(key, "+") {
		return nil, fmt.Errorf("ledger: --key %q is neither a verifier key nor a readable file: %w", key, err)
	}
	v, err := verify.NewVerifier(key)
	if err != nil {
		return nil, err
	}
	return &audit.Client{BaseURL: baseURL, Verifier: v}, nil
}

// verifyCheckpointTimestamp checks that the appliance's timestamp of cp covers SHA-256 of its
// text and chains to the given roots, and prints its time.
func verifyCheckpointTimestamp(ctx context.Context, c *audit.Client, cp audit.SignedCheckpoint, rootsFile string, stdout io.Writer) error {
	pem, err := os.ReadFile(rootsFile)
	if err != nil {
		return fmt.Errorf("ledger checkpoint: --tsa-roots: %w", err)
	}
	certs, err := tsa.ParseCertificatesPEM(pem)
	if err != nil {
		return fmt.Errorf("ledger checkpoint: --tsa-roots %s: %w", rootsFile, err)
	}
	roots := x509.NewCertPool()
	for _, c := range certs {
		roots.AddCert(c)
	}
	reply, err := c.Timestamp(ctx)
	if err != nil {
		return err
	}
	// The reply is for the latest checkpoint, which may have moved on since it was fetched.
	fresh, err := c.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if !verify.SameCheckpoint(fresh.Checkpoint, cp.Checkpoint) {
		return errors.New("ledger checkpoint: the checkpoint changed while fetching its timestamp; run again")
	}
	token, err := tsa.TokenFromResponse(reply)
	if err != nil {
		return fmt.Errorf("ledger checkpoint: timestamp: %w", err)
	}
	digest := sha256.Sum256([]byte(cp.Text()))
	ts, err := tsa.VerifyToken(token, digest[:], crypto.SHA256, roots, nil)
	if err != nil {
		return fmt.Errorf("ledger checkpoint: timestamp: %w", err)
	}
	fmt.Fprintf(stdout, "time   %s (RFC 3161, serial %s)\n", ts.Time.UTC().Format(time.RFC3339), ts.SerialNumber)
	return nil
}

func printCheckpoint(w io.Writer, cp verify.Checkpoint) {
	fmt.Fprintf(w, "origin %s\nsize   %d\nroot   %s\n", cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Hash))
}

func ledgerProve(ctx context.Context, c *audit.Client, index int64, files []string, stdout io.Writer) error {
	if (index >= 0) == (len(files) == 1) || len(files) > 1 {
		return errUsage{"ledger prove: give either --index N or one EVENTFILE"}
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return err
	}
	var leaf []byte
	if index >= 0 {
		if leaf, err = c.ProveIndex(ctx, cp.Checkpoint, uint64(index)); err != nil {
			return err
		}
	} else {
		raw, err := os.ReadFile(files[0])
		if err != nil {
			return fmt.Errorf("ledger prove: %w", err)
		}
		if leaf, err = event.Canonicalize(bytes.TrimSpace(raw)); err != nil {
			return fmt.Errorf("ledger prove: %s: %w", files[0], err)
		}
		i, err := c.ProveLeaf(ctx, cp.Checkpoint, leaf)
		if err != nil {
			return err
		}
		index = int64(i)
	}
	e, err := event.Parse(leaf)
	if err != nil {
		return fmt.Errorf("ledger prove: entry %d is in the ledger but is not a valid event: %w", index, err)
	}
	fmt.Fprintf(stdout, "included: entry %d of %d (%s, id %s, at %s)\n", index, cp.Size, e.Type, e.ID, e.At.Format(event.TimeLayout))
	fmt.Fprintf(stdout, "%s\n", leaf)
	return nil
}

func ledgerConsistency(ctx context.Context, c *audit.Client, since string, update bool, stdout io.Writer) error {
	saved, err := os.ReadFile(since)
	if err != nil {
		return fmt.Errorf("ledger consistency: %w", err)
	}
	older, err := c.OpenCheckpoint(saved)
	if err != nil {
		return fmt.Errorf("ledger consistency: the saved checkpoint %s: %w", since, err)
	}
	newer, err := c.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if err := c.Consistency(ctx, older.Checkpoint, newer.Checkpoint); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "consistent: size %d extends the saved size %d without rewriting it\n", newer.Size, older.Size)
	if update {
		if err := os.WriteFile(since, newer.Note, 0o644); err != nil {
			return fmt.Errorf("ledger consistency: saving: %w", err)
		}
	}
	return nil
}

// progressBar draws the audit's progress on w, on one line.
func progressBar(w io.Writer) audit.Progress {
	return func(done, total uint64) {
		const width = 40
		filled := width
		if total > 0 {
			filled = int(done * width / total)
		}
		fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
		if done == total {
			fmt.Fprintln(w)
		}
	}
}
