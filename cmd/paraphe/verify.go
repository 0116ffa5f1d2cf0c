package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/pades"
)

const verifyUsage = `Usage: paraphe verify FILE… --root ROOT.pem [--json] [--ledger-key KEY] [--ledger URL]

Verifies each FILE offline and prints a report (JSON with --json). Exits 0 only when every
file verifies. FILE may be a signed PDF or an evidence bundle (docs/EVIDENCE.md).

  --root ROOT.pem    trust anchors (PEM) for signers, the TSA and the platform seal
  --ledger-key KEY   pin the ledger's checkpoint verifier key (name+hash+base64); without it
                     a bundle's own key is used and the report says so
  --ledger URL       also check that the live ledger at URL is consistent with each bundle's
                     checkpoint (the only option that uses the network)
`

// verifyConfig is what the verifiers are given besides the file.
type verifyConfig struct {
	roots     *x509.CertPool
	ledgerURL string
	ledgerKey string
}

// maxBundle bounds the evidence bundles verify reads into memory.
const maxBundle = 256 << 20

// verification is the outcome for one file, whatever its kind.
type verification struct {
	File   string `json:"file"`
	Kind   string `json:"kind"`
	Valid  bool   `json:"valid"`
	Error  string `json:"error,omitempty"`
	Report any    `json:"report,omitempty"`
	text   func(io.Writer)
}

// fileVerifier verifies one kind of file, recognised by its first bytes.
type fileVerifier struct {
	kind    string
	matches func(head []byte) bool
	verify  func(ctx context.Context, f *os.File, size int64, cfg verifyConfig, v *verification) error
}

// verifiers lists the kinds of files verify understands.
func verifiers() []fileVerifier {
	return []fileVerifier{{
		kind:    "evidence-bundle",
		matches: evidence.IsBundle,
		verify: func(ctx context.Context, f *os.File, size int64, cfg verifyConfig, v *verification) error {
			if size > maxBundle {
				return fmt.Errorf("the bundle is %d bytes, more than the limit of %d", size, maxBundle)
			}
			data, err := io.ReadAll(io.LimitReader(f, maxBundle+1))
			if err != nil {
				return err
			}
			rep, err := evidence.Verify(ctx, data, evidence.Options{Roots: cfg.roots, LedgerKey: cfg.ledgerKey, LedgerURL: cfg.ledgerURL})
			if err != nil {
				return err
			}
			v.Valid, v.Report = rep.Valid, rep
			v.text = func(w io.Writer) { rep.WriteText(w, v.File) }
			return nil
		},
	}, {
		kind:    "pdf",
		matches: func(head []byte) bool { return bytes.Contains(head, []byte("%PDF-")) },
		verify: func(ctx context.Context, f *os.File, size int64, cfg verifyConfig, v *verification) error {
			rep, err := pades.Verify(ctx, f, size, pades.VerifyOptions{Roots: cfg.roots})
			if err != nil {
				return err
			}
			v.Valid, v.Report = rep.Valid, rep
			v.text = func(w io.Writer) { rep.WriteText(w, v.File) }
			return nil
		},
	}}
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var files []string
	var rootPath string
	var cfg verifyConfig
	asJSON := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help" || a == "-help":
			fmt.Fprint(stdout, verifyUsage)
			return nil
		case a == "--json" || a == "-json":
			asJSON = true
		case a == "--root" || a == "-root":
			if i+1 >= len(args) {
				return errUsage{"verify: --root needs a file"}
			}
			i++
			rootPath = args[i]
		case strings.HasPrefix(a, "--root=") || strings.HasPrefix(a, "-root="):
			rootPath = a[strings.IndexByte(a, '=')+1:]
		case a == "--ledger" || a == "--ledger-key":
			if i+1 >= len(args) {
				return errUsage{"verify: " + a + " needs a value"}
			}
			i++
			if a == "--ledger" {
				cfg.ledgerURL = args[i]
			} else {
				cfg.ledgerKey = args[i]
			}
		case strings.HasPrefix(a, "--ledger="):
			cfg.ledgerURL = strings.TrimPrefix(a, "--ledger=")
		case strings.HasPrefix(a, "--ledger-key="):
			cfg.ledgerKey = strings.TrimPrefix(a, "--ledger-key=")
		case strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprint(stderr, verifyUsage)
			return errUsage{fmt.Sprintf("verify: unknown flag %s", a)}
		default:
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		fmt.Fprint(stderr, verifyUsage)
		return errUsage{"verify: at least one FILE is required"}
	}
	if rootPath == "" {
		return errUsage{"verify: --root ROOT.pem is required"}
	}
	roots, err := loadRoots(rootPath)
	if err != nil {
		return err
	}
	cfg.roots = roots
	var results []*verification
	failed := 0
	for _, name := range files {
		v := verifyFile(ctx, name, cfg)
		if !v.Valid {
			failed++
		}
		results = append(results, v)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		for _, v := range results {
			if v.text != nil {
				v.text(stdout)
			} else {
				fmt.Fprintf(stdout, "%s: INVALID\n  %s\n", v.File, v.Error)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("verify: %d of %d files did not verify", failed, len(files))
	}
	return nil
}

func verifyFile(ctx context.Context, name string, cfg verifyConfig) *verification {
	v := &verification{File: name}
	fail := func(err error) *verification {
		v.Valid, v.Error = false, err.Error()
		return v
	}
	f, err := os.Open(name)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	head := make([]byte, 1024)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	for _, fv := range verifiers() {
		if fv.matches(head) {
			v.Kind = fv.kind
			if err := fv.verify(ctx, f, st.Size(), cfg, v); err != nil {
				return fail(err)
			}
			return v
		}
	}
	return fail(errors.New("unrecognised file type (expected a PDF or an evidence bundle)"))
}

func loadRoots(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verify: reading the roots: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("verify: %s: %w", path, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("verify: %s holds no PEM certificate", path)
	}
	return pool, nil
}
