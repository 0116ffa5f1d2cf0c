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

	"github.com/paraphe/paraphe/pades"
)

const verifyUsage = `Usage: paraphe verify FILE… --root ROOT.pem [--json]

Verifies each FILE offline and prints a report (JSON with --json). Exits 0 only when every
file verifies. FILE may be a signed PDF.
`

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
	verify  func(ctx context.Context, f *os.File, size int64, roots *x509.CertPool, v *verification) error
}

// verifiers lists the kinds of files verify understands; evidence bundles join this list.
func verifiers() []fileVerifier {
	return []fileVerifier{{
		kind:    "pdf",
		matches: func(head []byte) bool { return bytes.Contains(head, []byte("%PDF-")) },
		verify: func(ctx context.Context, f *os.File, size int64, roots *x509.CertPool, v *verification) error {
			rep, err := pades.Verify(ctx, f, size, pades.VerifyOptions{Roots: roots})
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
	var results []*verification
	failed := 0
	for _, name := range files {
		v := verifyFile(ctx, name, roots)
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

func verifyFile(ctx context.Context, name string, roots *x509.CertPool) *verification {
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
			if err := fv.verify(ctx, f, st.Size(), roots, v); err != nil {
				return fail(err)
			}
			return v
		}
	}
	return fail(errors.New("unrecognised file type (expected a PDF)"))
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
