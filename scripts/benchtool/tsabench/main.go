// Command tsabench supports scripts/bench.d/tsa.sh: it makes a TSU key and chain that both
// TSAs use, serves Paraphe's TSA as a bare net/http server, generates bounded loopback load,
// and measures a bare ecdsa.Sign.
//
//	tsabench gen   -dir DIR                  root.pem, tsa.pem, chain.pem (tsa+root), tsa.key (SEC1), q.tsq
//	tsabench serve -dir DIR -listen ADDR     Paraphe's TSA on ADDR (loopback), writes DIR/addr
//	tsabench load  -url URL -query FILE -n N -c C -d DUR
//	tsabench freeport                        print a free loopback TCP port
//	tsabench sign  -dir DIR -n N             CPU µs per bare ecdsa.Sign with DIR/tsa.key
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/prometheus/client_golang/prometheus"
	"go.step.sm/crypto/x509util"

	"github.com/paraphe/paraphe/tsa"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tsabench gen|serve|load|sign [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "load":
		err = load(ctx, os.Args[2:])
	case "sign":
		err = sign(os.Args[2:])
	case "freeport":
		err = freeport()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tsabench:", err)
		os.Exit(1)
	}
}

const tsuTemplate = `{
	"subject": {{ toJson .Subject }},
	"keyUsage": ["digitalSignature"],
	"extensions": [{"id": "2.5.29.37", "critical": true,
		"value": {{ asn1Seq (asn1Enc "oid:1.3.6.1.5.5.7.3.8") | toJson }}}]
}`

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory")
	fs.Parse(args)
	if *dir == "" {
		return errors.New("gen: -dir is required")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	rc, err := x509util.NewCertificateFromX509(&x509.Certificate{PublicKey: rootKey.Public(),
		Subject: pkix.Name{CommonName: "Bench Root"}},
		x509util.WithTemplate(x509util.DefaultRootTemplate, x509util.CreateTemplateData("Bench Root", nil)))
	if err != nil {
		return err
	}
	rt := rc.GetCertificate()
	rt.NotBefore, rt.NotAfter = now.Add(-24*time.Hour), now.Add(365*24*time.Hour)
	root, err := x509util.CreateCertificate(rt, rt, rootKey.Public(), rootKey)
	if err != nil {
		return err
	}
	tsuKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	td := x509util.NewTemplateData()
	td.SetSubject(x509util.Subject{Country: []string{"FR"}, Organization: []string{"Bench"}, CommonName: "Bench TSU"})
	tc, err := x509util.NewCertificateFromX509(&x509.Certificate{PublicKey: tsuKey.Public()}, x509util.WithTemplate(tsuTemplate, td))
	if err != nil {
		return err
	}
	tt := tc.GetCertificate()
	tt.NotBefore, tt.NotAfter = now.Add(-24*time.Hour), now.Add(300*24*time.Hour)
	tsu, err := x509util.CreateCertificate(tt, root, tsuKey.Public(), rootKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(tsuKey)
	if err != nil {
		return err
	}
	certPEM := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	d := sha256.Sum256([]byte("bench document"))
	query, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:],
		Nonce: big.NewInt(0x5eed5eed5eed), Certificates: true}).Marshal()
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"root.pem":  certPEM(root),
		"tsa.pem":   certPEM(tsu),
		"chain.pem": append(certPEM(tsu), certPEM(root)...),
		"tsa.key":   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"q.tsq":     query,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(*dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func readKeyAndChain(dir string) (*ecdsa.PrivateKey, []*x509.Certificate, error) {
	keyPEM, err := os.ReadFile(filepath.Join(dir, "tsa.key"))
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, errors.New("tsa.key: no PEM block")
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	chainPEM, err := os.ReadFile(filepath.Join(dir, "chain.pem"))
	if err != nil {
		return nil, nil, err
	}
	chain, err := tsa.ParseCertificatesPEM(chainPEM)
	if err != nil {
		return nil, nil, err
	}
	return key, chain, nil
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := fs.String("dir", "", "directory made by gen")
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to listen on")
	fs.Parse(args)
	key, chain, err := readKeyAndChain(*dir)
	if err != nil {
		return err
	}
	// Metrics are registered as in the appliance (scraping is not part of the load).
	authority, err := tsa.New(ctx, tsa.Options{Signer: key, Cert: chain[0], Chain: chain[1:],
		StateDir: filepath.Join(*dir, "state"), Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		return err
	}
	defer authority.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		ln.Close()
		return fmt.Errorf("serve: %s is not a loopback address", ln.Addr())
	}
	if err := os.WriteFile(filepath.Join(*dir, "addr"), []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	srv := &http.Server{Handler: authority.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// load is a closed-loop generator: C workers on keep-alive connections send the query until N
// requests are done or DUR has passed, whichever is first.
func load(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "", "TSA endpoint (loopback)")
	queryFile := fs.String("query", "", "DER TimeStampReq to send")
	n := fs.Int("n", 20000, "requests to send (upper bound)")
	c := fs.Int("c", 16, "requests in flight")
	dur := fs.Duration("d", 60*time.Second, "time limit")
	fs.Parse(args)
	query, err := os.ReadFile(*queryFile)
	if err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	var next, granted, failed atomic.Int64
	lat := make([][]time.Duration, *c)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range *c {
		wg.Go(func() {
			for next.Add(1) <= int64(*n) && ctx.Err() == nil {
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(query))
				req.Header.Set("Content-Type", tsa.ContentTypeQuery)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				if _, err := tsa.TokenFromResponse(body); err != nil {
					failed.Add(1)
					continue
				}
				granted.Add(1)
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))]
	}
	fmt.Printf("%.0f tokens/s granted=%d failed=%d in %.2fs p50=%v p99=%v\n",
		float64(granted.Load())/elapsed.Seconds(), granted.Load(), failed.Load(), elapsed.Seconds(),
		pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}

func sign(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	dir := fs.String("dir", "", "directory made by gen")
	n := fs.Int("n", 20000, "signatures")
	fs.Parse(args)
	key, _, err := readKeyAndChain(*dir)
	if err != nil {
		return err
	}
	d := sha256.Sum256([]byte("bench"))
	for range 500 { // warm up
		key.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	// CPU time, as for the servers, so that preemption by other load does not count.
	before := cpuTime()
	for range *n {
		if _, err := key.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			return err
		}
	}
	fmt.Printf("%.1f\n", float64((cpuTime()-before).Microseconds())/float64(*n))
	return nil
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func freeport() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}
