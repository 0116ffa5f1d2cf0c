// Command padesbench is the Paraphe side of scripts/bench.d/pades.sh: it makes the keys and
// the N-page input, serves a loopback RFC 3161 TSA, signs with pades.Sign, and checks outputs.
//
//	padesbench keys  -dir DIR                      root, TSA and signer keys and certificates
//	padesbench tsa   -dir DIR -urlfile FILE        serve the TSA on 127.0.0.1 (URL written to FILE)
//	padesbench gen   -pages N -out FILE            an N-page PDF prepared with field bench_sig
//	padesbench sign  -dir DIR -tsa URL -in IN -out OUT
//	padesbench check -dir DIR -pages N FILE        page count and signature validity
//
// sign prints "paraphe seconds=S vmhwm_kb=K": the time of the signing call and the peak RSS.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/paraphe/paraphe/pades"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: padesbench keys|tsa|gen|sign|check …")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", ".", "key directory")
	urlFile := fs.String("urlfile", "", "file receiving the TSA URL")
	pages := fs.Int("pages", 1, "page count")
	in := fs.String("in", "", "input PDF")
	out := fs.String("out", "", "output PDF")
	tsaURL := fs.String("tsa", "", "TSA URL")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "keys":
		err = keys(*dir)
	case "tsa":
		err = serveTSA(*dir, *urlFile)
	case "gen":
		err = gen(*pages, *out)
	case "sign":
		err = signFile(*dir, *tsaURL, *in, *out)
	case "check":
		err = check(*dir, *pages, fs.Arg(0))
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "padesbench:", err)
		os.Exit(1)
	}
}

func writePEM(path, typ string, der ...[]byte) error {
	var b bytes.Buffer
	for _, d := range der {
		pem.Encode(&b, &pem.Block{Type: typ, Bytes: d})
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

func keys(dir string) error {
	now := time.Now()
	mk := func() *ecdsa.PrivateKey { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }
	rootKey, tsaKey, signerKey := mk(), mk(), mk()
	cert := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, k crypto.Signer) ([]byte, error) {
		tmpl.SerialNumber = big.NewInt(now.UnixNano())
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(30*24*time.Hour)
		return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, k)
	}
	rt := &x509.Certificate{Subject: pkix.Name{CommonName: "Bench Root"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := cert(rt, rt, rootKey.Public(), rootKey)
	if err != nil {
		return err
	}
	root, _ := x509.ParseCertificate(rootDER)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tsaDER, err := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "Bench TSA"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}}, root, tsaKey.Public(), rootKey)
	if err != nil {
		return err
	}
	signerDER, err := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "Bench Signer"}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}, root, signerKey.Public(), rootKey)
	if err != nil {
		return err
	}
	for name, k := range map[string]*ecdsa.PrivateKey{"tsa.key": tsaKey, "signer.key": signerKey} {
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		if err := writePEM(filepath.Join(dir, name), "PRIVATE KEY", der); err != nil {
			return err
		}
	}
	if err := writePEM(filepath.Join(dir, "root.pem"), "CERTIFICATE", rootDER); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, "tsa.pem"), "CERTIFICATE", tsaDER); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, "signer.pem"), "CERTIFICATE", signerDER, rootDER)
}

func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return k.(crypto.Signer), nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

func serveTSA(dir, urlFile string) error {
	key, err := readKey(filepath.Join(dir, "tsa.key"))
	if err != nil {
		return err
	}
	certs, err := readCerts(filepath.Join(dir, "tsa.pem"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(urlFile, []byte("http://"+ln.Addr().String()+"/tsa"), 0o600); err != nil {
		return err
	}
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ts := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: time.Now(), Nonce: req.Nonce,
			SerialNumber: big.NewInt(time.Now().UnixNano()), Policy: asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1}, AddTSACertificate: req.Certificates}
		resp, err := ts.CreateResponseWithOpts(certs[0], key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
}

// gen writes an N-page PDF with a classic cross-reference table and prepares it with one
// signature field.
func gen(pages int, out string) error {
	var b bytes.Buffer
	off := map[int]int{}
	obj := func(n int, s string) { off[n] = b.Len(); fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, s) }
	b.WriteString("%PDF-1.7\n")
	var kids strings.Builder
	for i := 0; i < pages; i++ {
		fmt.Fprintf(&kids, "%d 0 R ", 10+2*i)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 595 842] >>", kids.String(), pages))
	obj(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	for i := 0; i < pages; i++ {
		var c strings.Builder
		for l := 0; l < 40; l++ {
			fmt.Fprintf(&c, "BT /F1 10 Tf 50 %d Td (Page %d line %d: the quick brown fox jumps over the lazy dog 0123456789) Tj ET\n", 800-18*l, i+1, l+1)
		}
		obj(10+2*i, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 11+2*i))
		obj(11+2*i, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", c.Len(), c.String()))
	}
	size := 10 + 2*pages
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n", size)
	for n := 0; n < size; n++ {
		if o, ok := off[n]; ok {
			fmt.Fprintf(&b, "%010d 00000 n \n", o)
		} else {
			b.WriteString("0000000000 65535 f \n")
		}
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", size, x)
	var prepared bytes.Buffer
	if _, err := pades.Prepare(context.Background(), bytes.NewReader(b.Bytes()), int64(b.Len()), &prepared, pades.PrepareOptions{
		Fields: []pades.Field{{Name: "bench_sig", Kind: pades.FieldSignature, Page: 1, Rect: [4]float64{50, 50, 250, 110}}},
	}); err != nil {
		return err
	}
	return os.WriteFile(out, prepared.Bytes(), 0o600)
}

func signFile(dir, tsaURL, in, out string) error {
	key, err := readKey(filepath.Join(dir, "signer.key"))
	if err != nil {
		return err
	}
	chain, err := readCerts(filepath.Join(dir, "signer.pem"))
	if err != nil {
		return err
	}
	start := time.Now()
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	err = pades.Sign(context.Background(), f, st.Size(), o, pades.SignOptions{
		SignatureField: "bench_sig", Signer: key, Chain: chain,
		Timestamper: pades.HTTPTimestamper{URL: tsaURL},
		Appearance:  pades.Appearance{Name: "Bench Signer", Reason: "benchmark"},
	})
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	fmt.Printf("paraphe seconds=%.4f vmhwm_kb=%d\n", elapsed.Seconds(), vmHWM())
	return nil
}

func check(dir string, pages int, path string) error {
	roots := x509.NewCertPool()
	rc, err := readCerts(filepath.Join(dir, "root.pem"))
	if err != nil {
		return err
	}
	roots.AddCert(rc[0])
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, _ := f.Stat()
	rep, err := pades.Verify(context.Background(), f, st.Size(), pades.VerifyOptions{Roots: roots})
	if err != nil {
		return err
	}
	if rep.Pages != pages {
		return fmt.Errorf("%s has %d pages, want %d", path, rep.Pages, pages)
	}
	if len(rep.Signatures) == 0 || !rep.Signatures[len(rep.Signatures)-1].DigestValid || !rep.Signatures[len(rep.Signatures)-1].SignatureValid {
		return errors.New(path + ": the signature does not verify")
	}
	return nil
}

func vmHWM() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var n int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "VmHWM:"), "kB")), &n)
			return n
		}
	}
	return 0
}
