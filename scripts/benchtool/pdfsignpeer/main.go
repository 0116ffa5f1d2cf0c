// Command pdfsignpeer signs a PDF with github.com/digitorus/pdfsign, the peer that
// scripts/bench.d/pades.sh measures Paraphe's PAdES signer against. It prints one line:
// "pdfsign seconds=S vmhwm_kb=K", the time of the signing call and the process's peak RSS.
//
// It lives in its own module so that the main module never depends on pdfsign.
package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/digitorus/pdfsign/revocation"
	"github.com/digitorus/pdfsign/sign"
)

func main() {
	in := flag.String("in", "", "input PDF")
	out := flag.String("out", "", "output PDF")
	keyPath := flag.String("key", "", "PKCS#8 PEM private key")
	certPath := flag.String("cert", "", "PEM certificate chain, signer first")
	tsa := flag.String("tsa", "", "RFC 3161 TSA URL")
	flag.Parse()
	if err := run(*in, *out, *keyPath, *certPath, *tsa); err != nil {
		fmt.Fprintln(os.Stderr, "pdfsignpeer:", err)
		os.Exit(1)
	}
}

func run(in, out, keyPath, certPath, tsa string) error {
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return errors.New("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return errors.New("key is not a signer")
	}
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return err
	}
	var chain []*x509.Certificate
	for {
		blk, cb = pem.Decode(cb)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return err
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return errors.New("no certificate")
	}
	start := time.Now()
	err = sign.SignFile(in, out, sign.SignData{
		Signature: sign.SignDataSignature{
			Info:       sign.SignDataSignatureInfo{Name: "Bench Signer", Reason: "benchmark", Date: time.Now()},
			CertType:   sign.ApprovalSignature,
			DocMDPPerm: sign.AllowFillingExistingFormFieldsAndSignaturesPerms,
		},
		Signer:             signer,
		DigestAlgorithm:    crypto.SHA256,
		Certificate:        chain[0],
		CertificateChains:  [][]*x509.Certificate{chain},
		TSA:                sign.TSA{URL: tsa},
		RevocationFunction: func(cert, issuer *x509.Certificate, i *revocation.InfoArchival) error { return nil },
	})
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	fmt.Printf("pdfsign seconds=%.4f vmhwm_kb=%d\n", elapsed.Seconds(), vmHWM())
	return nil
}

// vmHWM returns the peak resident set size in kB from /proc/self/status.
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
