package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/ocsp"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Roots are the trust anchors for signer and TSA certificates. Required.
	Roots *x509.CertPool
	// Time is the validation time when a signature has no valid timestamp (now if zero).
	Time   time.Time
	Limits Limits
}

// Verify checks every signature and document timestamp of the PDF in r[0:size] and every
// change made after each of them. The error is non-nil only when the input cannot be read as
// a PDF at all; a readable PDF with bad signatures gives a Report with Valid false.
func Verify(ctx context.Context, r io.ReaderAt, size int64, opts VerifyOptions) (*Report, error) {
	if opts.Roots == nil {
		return nil, errors.New("pades: VerifyOptions.Roots is required")
	}
	d, err := openDocument(r, size, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("reading the PDF: %w", err)
	}
	rep := &Report{Size: size, Version: d.version, Revisions: len(d.sections)}
	if pages, err := d.pages(); err != nil {
		rep.Problems = append(rep.Problems, "page tree: "+err.Error())
	} else {
		rep.Pages = len(pages)
	}
	sigs, err := d.signatures()
	if err != nil {
		rep.Problems = append(rep.Problems, "form: "+err.Error())
	}
	v := &verifier{d: d, r: r, size: size, opts: opts}
	v.loadDSS(rep)
	for _, s := range sigs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Signatures = append(rep.Signatures, v.verifySignature(s))
	}
	if len(rep.Signatures) == 0 {
		rep.Problems = append(rep.Problems, "the document has no signature")
	}
	rep.Valid = len(rep.Problems) == 0 && len(rep.Signatures) > 0
	for _, s := range rep.Signatures {
		rep.Valid = rep.Valid && s.Valid
	}
	rep.Level = v.level(rep)
	return rep, nil
}

type verifier struct {
	d        *document
	r        io.ReaderAt
	size     int64
	opts     VerifyOptions
	dssCerts []*x509.Certificate
	crls     []*x509.RevocationList
	ocsps    [][]byte
	dssEnd   int64 // offset of the DSS dictionary (0 when there is no DSS)
}

func (v *verifier) loadDSS(rep *Report) {
	cat, err := v.d.catalog()
	if err != nil {
		return
	}
	dss := v.d.dict(cat.get("DSS"))
	if dss == nil {
		return
	}
	rep.DSS = &DSSReport{}
	each := func(key pdfName, f func([]byte)) {
		for _, o := range v.d.array(dss.get(key)) {
			so, err := v.d.resolve(o)
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("DSS /%s: %v", key, err))
				continue
			}
			s, ok := so.(*pdfStream)
			if !ok {
				rep.Problems = append(rep.Problems, fmt.Sprintf("DSS /%s entry is not a stream", key))
				continue
			}
			data, err := v.d.decodeStream(s)
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("DSS /%s: %v", key, err))
				continue
			}
			f(data)
		}
	}
	each("Certs", func(b []byte) {
		if c, err := x509.ParseCertificate(b); err == nil {
			v.dssCerts = append(v.dssCerts, c)
			rep.DSS.Certs++
		} else {
			rep.Problems = append(rep.Problems, "DSS certificate: "+err.Error())
		}
	})
	each("CRLs", func(b []byte) {
		if c, err := x509.ParseRevocationList(b); err == nil {
			v.crls = append(v.crls, c)
			rep.DSS.CRLs++
		} else {
			rep.Problems = append(rep.Problems, "DSS CRL: "+err.Error())
		}
	})
	each("OCSPs", func(b []byte) {
		v.ocsps = append(v.ocsps, b)
		rep.DSS.OCSPs++
	})
	// A document timestamp protects the DSS when its revision ends after the DSS dictionary.
	v.dssEnd = 1
	if r, ok := cat.get("DSS").(pdfRef); ok {
		if e, ok := v.d.xref[r.num]; ok && e.typ == 1 {
			v.dssEnd = e.off
		}
	}
}

func certInfo(c *x509.Certificate) *CertificateInfo {
	return &CertificateInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

func (v *verifier) verifySignature(s signatureRef) SignatureReport {
	sr := SignatureReport{Field: s.field.name, Kind: "signature", SubFilter: string(nameOf(s.dict.get("SubFilter")))}
	fail := func(format string, a ...any) { sr.Problems = append(sr.Problems, fmt.Sprintf(format, a...)) }
	isDTS := nameOf(s.dict.get("Type")) == "DocTimeStamp" || sr.SubFilter == "ETSI.RFC3161"
	if isDTS {
		sr.Kind = "document-timestamp"
	}
	switch sr.SubFilter {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached", "ETSI.RFC3161":
	default:
		fail("unsupported /SubFilter %q", sr.SubFilter)
		return sr
	}
	br, contents, err := v.checkByteRange(s)
	sr.ByteRange = br
	if err != nil {
		fail("%v", err)
		return sr
	}
	end := br[2] + br[3]
	sr.RevisionEnd = end
	sr.CoversWholeDocument = end == v.size
	if isDTS {
		v.verifyDocTimestamp(&sr, br, contents)
	} else {
		v.verifyCMS(&sr, br, contents)
	}
	if !sr.CoversWholeDocument {
		changes, err := v.changesAfter(end)
		if err != nil {
			fail("cannot compare the signed revision with the document: %v", err)
		}
		sr.Changes = changes
		for _, c := range changes {
			if !c.Allowed {
				sr.DisallowedChanges++
			}
		}
		if sr.DisallowedChanges > 0 {
			fail("%d disallowed changes after signing", sr.DisallowedChanges)
		}
	}
	sr.Valid = len(sr.Problems) == 0 && sr.DigestValid && sr.SignatureValid && sr.ChainTrusted && (isDTS || sr.SigningCertificateBound)
	if sr.Timestamp != nil && !(sr.Timestamp.Valid && sr.Timestamp.Trusted) {
		sr.Valid = false
	}
	return sr
}

// checkByteRange validates /ByteRange against the file and the position of /Contents, and
// returns the ranges and the /Contents bytes.
func (v *verifier) checkByteRange(s signatureRef) ([]int64, []byte, error) {
	arr, ok := s.dict.get("ByteRange").([]any)
	if !ok {
		return nil, nil, errors.New("/ByteRange is missing or not a direct array")
	}
	if len(arr) != 4 {
		return nil, nil, fmt.Errorf("/ByteRange has %d numbers, want 4", len(arr))
	}
	br := make([]int64, 4)
	for i, o := range arr {
		n, ok := o.(int64)
		if !ok {
			return nil, nil, fmt.Errorf("/ByteRange element %d is not an integer", i)
		}
		br[i] = n
	}
	if br[0] != 0 || br[1] <= 0 || br[2] <= br[1] || br[3] < 0 {
		return br, nil, fmt.Errorf("/ByteRange %v does not start at 0 or has overlapping, empty or negative ranges", br)
	}
	if br[2] > v.size || br[3] > v.size-br[2] {
		return br, nil, fmt.Errorf("/ByteRange %v extends beyond the end of the file (%d bytes)", br, v.size)
	}
	c, ok := s.dict.get("Contents").(pdfString)
	if !ok || len(c.b) == 0 {
		return br, nil, errors.New("/Contents is missing or empty")
	}
	if !c.hex {
		return br, nil, errors.New("/Contents is not a hex string")
	}
	// The gap must be exactly the /Contents string of this very signature dictionary.
	e, ok := v.d.xref[s.ref.num]
	if !ok || e.typ != 1 {
		return br, nil, errors.New("the signature dictionary is not stored directly in the file (object streams cannot hold signatures)")
	}
	if e.off >= br[2]+br[3] {
		return br, nil, errors.New("the signature dictionary lies outside the revision it signs (signature wrapping)")
	}
	l := newLexer(v.r, v.size, e.off)
	l.spans = map[pdfName][2]int64{}
	if _, _, err := readObjHeader(l); err != nil {
		return br, nil, err
	}
	l.spans = map[pdfName][2]int64{}
	if _, err := l.parseObject(0); err != nil {
		return br, nil, err
	}
	span, ok := l.spans["Contents"]
	if !ok || span[0] != br[1] || span[1] != br[2] {
		return br, nil, fmt.Errorf("the gap [%d, %d) of /ByteRange is not this signature's /Contents (at %v): signature wrapping", br[1], br[2], span)
	}
	if !v.isRevisionEnd(br[2] + br[3]) {
		return br, nil, fmt.Errorf("the signed range ends at %d, which is not the end of a revision (%%%%EOF)", br[2]+br[3])
	}
	return br, c.b, nil
}

// isRevisionEnd reports whether a revision (…%%EOF and an optional end of line) ends at off.
func (v *verifier) isRevisionEnd(off int64) bool {
	n := int64(8)
	if off < n {
		return false
	}
	b := make([]byte, n)
	if _, err := v.r.ReadAt(b, off-n); err != nil {
		return false
	}
	b = bytes.TrimRight(b, "\r\n")
	return bytes.HasSuffix(b, []byte("%%EOF"))
}

func (v *verifier) hashRanges(br []int64, h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("hash %v unavailable", h)
	}
	w := h.New()
	if _, err := io.Copy(w, io.NewSectionReader(v.r, br[0], br[1])); err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, io.NewSectionReader(v.r, br[2], br[3])); err != nil {
		return nil, err
	}
	return w.Sum(nil), nil
}

func (v *verifier) verifyCMS(sr *SignatureReport, br []int64, contents []byte) {
	fail := func(format string, a ...any) { sr.Problems = append(sr.Problems, fmt.Sprintf(format, a...)) }
	sd, err := parseSignedData(contents)
	if err != nil {
		fail("/Contents: %v", err)
		return
	}
	if sd.hasEContent {
		fail("the CMS is not detached")
		return
	}
	h, err := hashFromOID(sd.signer.digestAlg)
	if err != nil || h == crypto.SHA1 {
		fail("digest algorithm %v is not accepted", sd.signer.digestAlg)
		return
	}
	digest, err := v.hashRanges(br, h)
	if err != nil {
		fail("reading the signed ranges: %v", err)
		return
	}
	if _, ok := sd.signer.attrs[oidAttrSigningTime.String()]; ok && sr.SubFilter == "ETSI.CAdES.detached" {
		fail("the signed attributes contain signingTime, which PAdES forbids")
	}
	cert, err := sd.verifySignerInfo(digest, false)
	if cert != nil {
		sr.Signer = certInfo(cert)
	}
	if err != nil {
		fail("%v", err)
		// Say which step failed.
		if cert != nil {
			md, _ := single(sd.signer.attrs, oidAttrMessageDigest)
			sr.DigestValid = md != nil && bytes.Contains(md, digest)
		}
		return
	}
	sr.DigestValid, sr.SignatureValid, sr.SigningCertificateBound = true, true, true
	// The signature timestamp.
	at := v.opts.Time
	if at.IsZero() {
		at = time.Now()
	}
	toks := sd.signer.unsigned[oidAttrTimeStampToken.String()]
	if len(toks) > 0 {
		tr, when := v.verifyToken(toks[0], sd.signer.signature, nil)
		sr.Timestamp = tr
		if tr.Valid && tr.Trusted {
			at = when
		}
	}
	pool := append(append([]*x509.Certificate(nil), sd.certs...), v.dssCerts...)
	chain, err := v.chain(cert, pool, at, x509.ExtKeyUsageAny)
	if err != nil {
		fail("signer certificate: %v", err)
	} else {
		sr.ChainTrusted = true
		sr.Chain = chain
	}
	if v.dssEnd > 0 || len(v.ocsps)+len(v.crls) > 0 {
		sr.Revocation = v.revocation(cert, pool, at)
		if len(sr.Revocation) >= 7 && sr.Revocation[:7] == "revoked" {
			fail("the signer certificate is %s", sr.Revocation)
		}
	}
}

// verifyToken verifies an RFC 3161 token over message, or over the byte ranges rangesFor of
// the file when that is not nil, and returns the token's time.
func (v *verifier) verifyToken(token, message []byte, rangesFor []int64) (*TimestampReport, time.Time) {
	tr := &TimestampReport{}
	fail := func(format string, a ...any) { tr.Problems = append(tr.Problems, fmt.Sprintf(format, a...)) }
	sd, err := parseSignedData(token)
	if err != nil {
		fail("timestamp token: %v", err)
		return tr, time.Time{}
	}
	if !sd.eContentType.Equal(oidTSTInfo) || !sd.hasEContent {
		fail("the token does not contain a TSTInfo")
		return tr, time.Time{}
	}
	info, err := parseTSTInfo(sd.eContent)
	if err != nil {
		fail("%v", err)
		return tr, time.Time{}
	}
	tr.Time = info.genTime
	if info.hash == crypto.SHA1 {
		fail("SHA-1 message imprint is not accepted")
		return tr, info.genTime
	}
	var imprint []byte
	if rangesFor != nil {
		imprint, err = v.hashRanges(rangesFor, info.hash)
		if err != nil {
			fail("reading the timestamped ranges: %v", err)
			return tr, info.genTime
		}
	} else {
		h := info.hash.New()
		h.Write(message)
		imprint = h.Sum(nil)
	}
	if !bytes.Equal(imprint, info.imprint) {
		fail("the timestamp's message imprint does not match the timestamped data")
		return tr, info.genTime
	}
	dh, err := hashFromOID(sd.signer.digestAlg)
	if err != nil {
		fail("timestamp: %v", err)
		return tr, info.genTime
	}
	h := dh.New()
	h.Write(sd.eContent)
	cert, err := sd.verifySignerInfo(h.Sum(nil), true)
	if cert != nil {
		tr.TSA = cert.Subject.String()
	}
	if err != nil {
		fail("timestamp signature: %v", err)
		return tr, info.genTime
	}
	tr.Valid = true
	pool := append(append([]*x509.Certificate(nil), sd.certs...), v.dssCerts...)
	if !hasTimeStampingEKU(cert) {
		fail("the TSA certificate lacks the timeStamping extended key usage")
		return tr, info.genTime
	}
	if _, err := v.chain(cert, pool, info.genTime, x509.ExtKeyUsageTimeStamping); err != nil {
		fail("TSA certificate: %v", err)
		return tr, info.genTime
	}
	tr.Trusted = true
	return tr, info.genTime
}

func hasTimeStampingEKU(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageTimeStamping {
			return true
		}
	}
	return false
}

func (v *verifier) verifyDocTimestamp(sr *SignatureReport, br []int64, contents []byte) {
	tr, _ := v.verifyToken(contents, nil, br)
	sr.Timestamp = tr
	sr.DigestValid = tr.Valid
	sr.SignatureValid = tr.Valid
	sr.ChainTrusted = tr.Trusted
	if !tr.Valid || !tr.Trusted {
		sr.Problems = append(sr.Problems, tr.Problems...)
	}
}

// chain verifies cert up to the roots at time at and returns the subjects along the way.
func (v *verifier) chain(cert *x509.Certificate, pool []*x509.Certificate, at time.Time, eku x509.ExtKeyUsage) ([]string, error) {
	inter := x509.NewCertPool()
	for _, c := range pool {
		if c.IsCA {
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: v.opts.Roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{eku}})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range chains[0] {
		names = append(names, c.Subject.CommonName)
	}
	return names, nil
}

// revocation looks for the status of cert in the DSS.
func (v *verifier) revocation(cert *x509.Certificate, pool []*x509.Certificate, at time.Time) string {
	if len(cert.CRLDistributionPoints) == 0 && len(cert.OCSPServer) == 0 {
		return "good: not applicable, the certificate names no CRL or OCSP location"
	}
	issuer := findIssuer(cert, pool)
	if issuer == nil {
		return "unknown (issuer not found)"
	}
	for _, b := range v.ocsps {
		resp, err := ocsp.ParseResponseForCert(b, cert, issuer)
		if err != nil {
			continue
		}
		switch resp.Status {
		case ocsp.Good:
			return "good (OCSP response in the DSS)"
		case ocsp.Revoked:
			if resp.RevokedAt.Before(at) {
				return "revoked at " + resp.RevokedAt.UTC().Format(time.RFC3339) + " (OCSP response in the DSS)"
			}
			return "good at signing time; revoked later (OCSP)"
		}
	}
	for _, crl := range v.crls {
		if !bytes.Equal(crl.RawIssuer, cert.RawIssuer) || crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 && e.RevocationTime.Before(at) {
				return "revoked at " + e.RevocationTime.UTC().Format(time.RFC3339) + " (CRL in the DSS)"
			}
		}
		return "good (CRL in the DSS)"
	}
	return "no revocation data in the DSS"
}

// level computes the PAdES baseline level reached by every signature.
func (v *verifier) level(rep *Report) string {
	if !rep.Valid {
		return ""
	}
	lvl := 2 // at most B-LT before looking at document timestamps
	dtsAfterDSS := false
	for _, s := range rep.Signatures {
		if s.Kind == "document-timestamp" {
			if v.dssEnd > 0 && s.RevisionEnd > v.dssEnd {
				dtsAfterDSS = true
			}
			continue
		}
		l := 0
		if s.Timestamp != nil && s.Timestamp.Valid && s.Timestamp.Trusted {
			l = 1
			if len(s.Revocation) >= 4 && s.Revocation[:4] == "good" {
				l = 2
			}
		}
		lvl = min(lvl, l)
	}
	if lvl == 2 && dtsAfterDSS {
		lvl = 3
	}
	return []string{"B-B", "B-T", "B-LT", "B-LTA"}[lvl]
}
