package pades

import (
	"bytes"
	"context"
	"crypto/x509"
	"strings"
	"testing"
)

func TestHTTPRevocation(t *testing.T) {
	p := newTestPKI(t)
	_, chain := p.issueWithOCSP(t, "Carol")
	crls, ocsps, err := HTTPRevocation{Client: p.srv.Client()}.Revocation(context.Background(), chain[0], chain[1])
	if err != nil || len(crls) != 1 || len(ocsps) != 1 {
		t.Fatalf("HTTPRevocation: %d CRLs, %d OCSP responses, %v", len(crls), len(ocsps), err)
	}
	crls, ocsps, err = HTTPRevocation{}.Revocation(context.Background(), p.root, p.root)
	if err != nil || len(crls)+len(ocsps) != 0 {
		t.Errorf("a certificate without locations: %d, %d, %v", len(crls), len(ocsps), err)
	}
	p.srv.Close()
	if _, _, err := (HTTPRevocation{}).Revocation(context.Background(), chain[0], chain[1]); err == nil {
		t.Error("no error with the revocation server down")
	}
}

func TestRevokedSignerDetected(t *testing.T) {
	p := newTestPKI(t)
	doc := prepare(t, genPDF(genOpts{pages: 3}), twoSignerFields)
	key, chain := p.issueWithOCSP(t, "Revoked Rita")
	p.mu.Lock()
	p.revoked[chain[0].SerialNumber.String()] = true
	p.mu.Unlock()
	var signed, lta bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(doc), int64(len(doc)), &signed, SignOptions{SignatureField: "alice_sig", Signer: key, Chain: chain, Timestamper: p}); err != nil {
		t.Fatal(err)
	}
	if err := Extend(context.Background(), bytes.NewReader(signed.Bytes()), int64(signed.Len()), &lta, ExtendOptions{
		Revocation: HTTPRevocation{Client: p.srv.Client()}, Certs: []*x509.Certificate{p.root}, Timestamper: p,
	}); err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, p, lta.Bytes())
	if rep.Valid || !strings.HasPrefix(rep.Signatures[0].Revocation, "revoked") {
		t.Fatalf("a revoked signer is not reported:\n%s", reportText(rep))
	}
}
