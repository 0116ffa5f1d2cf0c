package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/paraphe/paraphe/tsa"
)

const tsaUsage = `Usage:
  paraphe tsa query FILE --url URL [--hash sha256|sha384|sha512] [--ca ROOT.pem] [--out FILE.tsr]
      timestamp FILE with an RFC 3161 TSA: send a query (with a nonce, asking for the
      certificate), verify the reply against the chain and print genTime, serial, policy and
      accuracy. URL is a Paraphe appliance's address (the query goes to URL/tsa) or, when its
      path is neither empty nor /tsa, any RFC 3161 endpoint (then --ca is required).
      --ca pins the root; without it the root is fetched from URL/ca/root.pem and the chain
      from URL/tsa/certs.pem, which only proves the server consistent with itself.
      --out saves the DER reply (.tsr), usable with 'openssl ts -reply -in FILE.tsr -text'.
`

// runTSA runs "paraphe tsa query …". The query, the fetching of the chain and the verification
// are in package tsa.
func runTSA(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tsaUsage)
		return errUsage{"tsa: a subcommand is required"}
	}
	switch args[0] {
	case "query":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, tsaUsage)
		return nil
	default:
		fmt.Fprint(stderr, tsaUsage)
		return errUsage{fmt.Sprintf("tsa: unknown subcommand %q", args[0])}
	}
	fs := flag.NewFlagSet("paraphe tsa query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tsaUsage) }
	rawURL := fs.String("url", "", "the appliance's address, or an RFC 3161 endpoint")
	hashName := fs.String("hash", "sha256", "imprint hash: sha256, sha384 or sha512")
	caFile := fs.String("ca", "", "PEM file with the root certificate(s) to trust")
	out := fs.String("out", "", "save the DER reply in this file")
	// Flags may come before or after FILE.
	var files []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 || *rawURL == "" {
		return errUsage{"tsa query: exactly one FILE and --url are required"}
	}
	h, ok := map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512}[strings.ToLower(*hashName)]
	if !ok {
		return errUsage{fmt.Sprintf("tsa query: --hash %q is not sha256, sha384 or sha512", *hashName)}
	}
	u, err := url.Parse(*rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errUsage{fmt.Sprintf("tsa query: --url %q is not an http(s) URL", *rawURL)}
	}
	base, endpoint := "", *rawURL
	switch p := strings.TrimSuffix(u.Path, "/"); {
	case p == "":
		base, endpoint = strings.TrimSuffix(*rawURL, "/"), strings.TrimSuffix(*rawURL, "/")+"/tsa"
	case strings.HasSuffix(p, "/tsa"):
		u.Path = strings.TrimSuffix(p, "/tsa")
		base = u.String()
	}

	client := &http.Client{Timeout: 30 * time.Second}
	var roots, intermediates *x509.CertPool
	if *caFile != "" {
		data, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("tsa query: --ca: %w", err)
		}
		certs, err := tsa.ParseCertificatesPEM(data)
		if err != nil {
			return fmt.Errorf("tsa query: --ca %s: %w", *caFile, err)
		}
		roots = x509.NewCertPool()
		for _, c := range certs {
			roots.AddCert(c)
		}
	} else {
		if base == "" {
			return errUsage{"tsa query: --ca is required for a TSA that is not a Paraphe appliance"}
		}
		if roots, intermediates, err = tsa.FetchTrust(ctx, client, base); err != nil {
			return fmt.Errorf("tsa query: fetching the chain from %s: %w", base, err)
		}
		fmt.Fprintf(stderr, "warning: trusting the root served by %s itself; pass --ca to pin it\n", base)
	}

	f, err := os.Open(files[0])
	if err != nil {
		return fmt.Errorf("tsa query: %w", err)
	}
	defer f.Close()
	res, err := tsa.Query(ctx, f, tsa.QueryOptions{URL: endpoint, Hash: h, Roots: roots, Intermediates: intermediates, HTTPClient: client})
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, res.Response, 0o644); err != nil {
			return fmt.Errorf("tsa query: --out: %w", err)
		}
	}
	ts := res.Timestamp
	fmt.Fprintf(stdout, "Verification: OK\n")
	fmt.Fprintf(stdout, "genTime:  %s\n", ts.Time.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(stdout, "serial:   0x%X\n", ts.SerialNumber)
	fmt.Fprintf(stdout, "policy:   %s\n", ts.Policy)
	fmt.Fprintf(stdout, "accuracy: %s\n", ts.Accuracy)
	fmt.Fprintf(stdout, "nonce:    0x%X\n", ts.Nonce)
	fmt.Fprintf(stdout, "imprint:  %s %X\n", ts.HashAlgorithm, ts.HashedMessage)
	fmt.Fprintf(stdout, "tsa:      %s\n", res.Signer.Subject)
	return nil
}
