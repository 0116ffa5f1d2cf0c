// Command caload is the load tool behind scripts/bench.d/ca.sh. It is a benchmark helper, not
// part of the appliance; it lives outside cmd/ on purpose.
//
//	caload setup -dir D [-certs N] [-revoked M]   key ceremony, N signer certificates (M revoked),
//	                                               and, for the openssl responder: D/index.txt,
//	                                               D/issuing.pem, D/ocsp.pem, D/ocsp.key (plaintext,
//	                                               bench only), D/requests.b64 (OCSP requests with nonces)
//	caload serve -dir D [-listen ADDR]            Paraphe's CA handler over D (writes D/addr when ready)
//	caload load -url URL -dir D [-c C] [-d DUR]   closed-loop OCSP load: C requests in flight for DUR
//	caload issue -dir D [-c C] [-d DUR]           signer certificates issued per second, in process,
//	                                               Badger with SyncWrites (as the appliance runs it)
//	caload freeport                               prints a free loopback TCP port
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ca/keys"
)

const passphrase = "caload bench passphrase (throwaway hierarchy)"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: caload setup|serve|load|issue|freeport [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "working directory")
	certs := fs.Int("certs", 1000, "signer certificates to issue (setup)")
	revoked := fs.Int("revoked", 100, "of which revoked (setup)")
	listen := fs.String("listen", "127.0.0.1:0", "listen address (serve)")
	url := fs.String("url", "", "OCSP URL (load)")
	conc := fs.Int("c", 8, "requests in flight (load, issue)")
	dur := fs.Duration("d", 10*time.Second, "measured duration (load, issue)")
	warm := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up (load, issue)")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "setup":
		err = setup(*dir, *certs, *revoked)
	case "serve":
		err = serve(*dir, *listen)
	case "load":
		err = load(*url, *dir, *conc, *warm, *dur)
	case "issue":
		err = issue(*dir, *conc, *warm, *dur)
	case "freeport":
		var ln net.Listener
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err == nil {
			fmt.Println(ln.Addr().(*net.TCPAddr).Port)
			ln.Close()
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "caload:", err)
		os.Exit(1)
	}
}

func keyOptions(dir, baseURL string) keys.Options {
	return keys.Options{Dir: filepath.Join(dir, "keys"), Passphrase: []byte(passphrase), Organization: "Paraphe Bench", Country: "FR", LedgerKeyName: "bench.paraphe.invalid/ledger", BaseURL: baseURL}
}

// bench is a hierarchy, its state database and the CA over them, in dir.
type bench struct {
	keys *keys.Set
	db   *badger.DB
	ca   *ca.CA
}

// open runs the key ceremony (init) or loads the hierarchy, opens Badger with SyncWrites (as
// the appliance does) and the CA; baseURL "" means a placeholder.
func open(ctx context.Context, dir string, init bool, baseURL string) (*bench, error) {
	var b bench
	var err error
	if baseURL == "" {
		baseURL = "http://127.0.0.1:8080"
	}
	if init {
		b.keys, err = keys.Init(ctx, keyOptions(dir, baseURL))
	} else {
		b.keys, err = keys.Load(ctx, keyOptions(dir, baseURL))
	}
	if err != nil {
		return nil, err
	}
	if b.db, err = badger.Open(badger.DefaultOptions(filepath.Join(dir, "db")).WithLogger(nil).WithSyncWrites(true)); err != nil {
		b.keys.Close()
		return nil, err
	}
	if b.ca, err = ca.New(ctx, ca.Options{Keys: b.keys, DB: b.db, BaseURL: baseURL}); err != nil {
		b.close()
		return nil, err
	}
	return &b, nil
}

func (b *bench) close() {
	b.db.Close()
	b.keys.Close()
}

// signerRequest is a request for signer i; every one certifies the same key.
func signerRequest(i int, pub any) ca.SignerRequest {
	h := sha256.Sum256(fmt.Appendf(nil, "leaf %d", i))
	return ca.SignerRequest{Name: fmt.Sprintf("Bench Signer %d", i), Email: fmt.Sprintf("s%d@bench.invalid", i), PublicKey: pub, Binding: ca.Binding{LeafIndex: uint64(i), LeafHash: h[:]}}
}

func setup(dir string, n, nrev int) error {
	ctx := context.Background()
	b, err := open(ctx, dir, true, "")
	if err != nil {
		return err
	}
	defer b.close()
	s, c := b.keys, b.ca
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	var index, reqs bytes.Buffer
	for i := range n {
		cert, err := c.IssueSigner(ctx, signerRequest(i, k.Public()))
		if err != nil {
			return err
		}
		serial := strings.ToUpper(cert.SerialNumber.Text(16))
		if len(serial)%2 == 1 {
			serial = "0" + serial
		}
		exp := cert.NotAfter.UTC().Format("060102150405Z")
		if i < nrev {
			if err := c.Revoke(ctx, cert.SerialNumber, ca.ReasonKeyCompromise); err != nil {
				return err
			}
			fmt.Fprintf(&index, "R\t%s\t%s,keyCompromise\t%s\tunknown\t/CN=bench%d\n", exp, time.Now().UTC().Format("060102150405Z"), serial, i)
		} else {
			fmt.Fprintf(&index, "V\t%s\t\t%s\tunknown\t/CN=bench%d\n", exp, serial, i)
		}
		req, err := request(cert.SerialNumber, s.Issuing)
		if err != nil {
			return err
		}
		reqs.WriteString(base64.StdEncoding.EncodeToString(req) + "\n")
	}
	// The openssl responder reads a plaintext key: export the bench hierarchy's OCSP key.
	pk, ok := s.OCSPSigner.(*ecdsa.PrivateKey)
	if !ok {
		return errors.New("the OCSP key is not a software key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		"index.txt":      index.Bytes(),
		"index.txt.attr": []byte("unique_subject = no\n"),
		"requests.b64":   reqs.Bytes(),
		"issuing.pem":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Issuing.Raw}),
		"ocsp.pem":       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.OCSP.Raw}),
		"ocsp.key":       pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	fmt.Printf("setup: %d signer certificates (%d revoked) in %s\n", n, nrev, dir)
	return nil
}

// request builds an OCSP request with a 32-byte nonce, as `openssl ocsp` sends by default
// (16 bytes there; RFC 9654 recommends 32).
func request(serial *big.Int, issuer *x509.Certificate) ([]byte, error) {
	plain, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: serial}, issuer, nil)
	if err != nil {
		return nil, err
	}
	s := cryptobyte.String(plain)
	var outer, tbs cryptobyte.String
	if !s.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, errors.New("bad request")
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(tbs)
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier([]int{1, 3, 6, 1, 5, 5, 7, 48, 1, 2})
						b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) { b.AddASN1OctetString(nonce) })
					})
				})
			})
		})
	})
	return b.Bytes()
}

func serve(dir, listen string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	b, err := open(ctx, dir, false, "http://"+ln.Addr().String())
	if err != nil {
		return err
	}
	defer b.close()
	srv := &http.Server{Handler: b.ca.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := os.WriteFile(filepath.Join(dir, "addr"), []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func readRequests(dir string) ([][]byte, error) {
	f, err := os.Open(filepath.Join(dir, "requests.b64"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		b, err := base64.StdEncoding.DecodeString(sc.Text())
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, sc.Err()
}

// successful reports whether a body is an OCSPResponse with status successful(0).
func successful(b []byte) bool {
	s := cryptobyte.String(b)
	var seq cryptobyte.String
	var status int
	return s.ReadASN1(&seq, cbasn1.SEQUENCE) && seq.ReadASN1Enum(&status) && status == 0
}

func load(url, dir string, conc int, warm, dur time.Duration) error {
	reqs, err := readRequests(dir)
	if err != nil {
		return err
	}
	issuerPEM, err := os.ReadFile(filepath.Join(dir, "issuing.pem"))
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(issuerPEM)
	issuer, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	post := func(body []byte) ([]byte, error) {
		resp, err := client.Post(url, "application/ocsp-request", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return b, err
	}
	// Check, once, that the server answers correctly: signature, responder, status.
	for i, want := range map[int]int{0: ocsp.Revoked, len(reqs) - 1: ocsp.Good} {
		b, err := post(reqs[i])
		if err != nil {
			return err
		}
		r, err := ocsp.ParseResponse(b, issuer)
		if err != nil {
			return fmt.Errorf("%s: response does not verify: %w", url, err)
		}
		if r.Status != want {
			return fmt.Errorf("%s: status %d, want %d", url, r.Status, want)
		}
	}
	var ok, bad atomic.Int64
	var measuring atomic.Bool
	deadline := time.Now().Add(warm + dur)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for i := w; time.Now().Before(deadline); i += conc {
				b, err := post(reqs[i%len(reqs)])
				if !measuring.Load() {
					continue
				}
				if err != nil || !successful(b) {
					bad.Add(1)
				} else {
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(warm)
	measuring.Store(true)
	start := time.Now()
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("%.0f responses/s (%d in %.1fs, %d in flight, %d errors)\n", float64(ok.Load())/elapsed.Seconds(), ok.Load(), elapsed.Seconds(), conc, bad.Load())
	return nil
}

func issue(dir string, conc int, warm, dur time.Duration) error {
	ctx := context.Background()
	b, err := open(ctx, dir, true, "")
	if err != nil {
		return err
	}
	defer b.close()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	req := signerRequest(1, k.Public())
	var n, errs atomic.Int64
	var measuring atomic.Bool
	deadline := time.Now().Add(warm + dur)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				_, err := b.ca.IssueSigner(ctx, req)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
				} else {
					n.Add(1)
				}
			}
		})
	}
	time.Sleep(warm)
	measuring.Store(true)
	start := time.Now()
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("%.0f signer certificates/s (%d in %.1fs, %d goroutines, Badger SyncWrites, %d errors)\n", float64(n.Load())/elapsed.Seconds(), n.Load(), elapsed.Seconds(), conc, errs.Load())
	return nil
}
