package signer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/internal/testtool"
	"github.com/paraphe/paraphe/internal/testworld"
	"github.com/paraphe/paraphe/ledger/audit"
	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/ledger/verify"
	"github.com/paraphe/paraphe/pades"
	"github.com/paraphe/paraphe/tsa"
	"github.com/paraphe/paraphe/web/api"
	"github.com/paraphe/paraphe/web/signer"
	"github.com/paraphe/paraphe/web/verifyui"
)

// withEvidence mounts, in front of the world's handler, the sender API and the signer protocol
// with an evidence builder over the world's real ledger, CA, TSA and platform seal, and the
// ledger's read API.
func (w *world) withEvidence() *evidence.Builder {
	t := w.t
	t.Helper()
	ps, ok := w.sealer.(ceremony.PAdESSealer)
	if !ok {
		t.Fatal("withEvidence needs newRealWorld")
	}
	ts := ps.Timestamper.(*tsa.TSA)
	tsaChain, err := tsa.ParseCertificatesPEM(ts.CertificatesPEM())
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, http.DefaultClient, "GET", w.srv.URL+"/ca/chain.pem", nil, nil)
	chain, err := tsa.ParseCertificatesPEM(r.Body)
	if err != nil || len(chain) != 2 {
		t.Fatalf("CA chain: %v (%d certificates)", err, len(chain))
	}
	b := &evidence.Builder{
		Ledger: ceremony.EvidenceLedger{Log: w.ledger.Log}, Chain: chain, TSAChain: tsaChain, SealChain: ps.Chain,
		Seal: func(ctx context.Context, pdf []byte) ([]byte, error) {
			out, _, err := w.svc.Seal(ctx, pdf, ps)
			return out, err
		},
		Timestamper: ts, Revocation: pades.HTTPRevocation{},
	}
	ah, err := api.New(api.Options{Service: w.svc, DB: w.db, Logger: w.base.Logger, ReceiptWait: w.receiptWait, Evidence: b})
	if err != nil {
		t.Fatal(err)
	}
	sh := signer.New(signer.Options{Service: w.svc, Logger: w.base.Logger, ReceiptWait: w.receiptWait, Evidence: b})
	inner := w.srv.Config.Handler
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", ah)
	mux.Handle("/s/", sh)
	mux.Handle("/ledger/", w.ledger.Log.Handler())
	mux.Handle("/", inner)
	w.srv.Config.Handler = mux
	return b
}

// completedSeedFlow runs the seed flow to completion and returns the envelope id.
func completedSeedFlow(t *testing.T, w *world) (string, map[string]*party) {
	id := w.sentEnvelope(seedManifest())
	parties := map[string]*party{}
	sign := func(name, addr, phone string, values map[string]string) {
		p := w.party(phone)
		parties[name] = p
		if r := p.open(w.lastMailTo(addr).Link()); r.Status != http.StatusOK {
			t.Fatalf("%s open: %d %s", addr, r.Status, r.Body)
		}
		p.readAll(values)
		if r := p.consent(); r.Status != http.StatusOK {
			t.Fatalf("%s consent: %d %s", addr, r.Status, r.Body)
		}
		if r := p.post("/s/api/code/verify", map[string]string{"code": w.sms.LastCodeFor(phone)}); r.Status != http.StatusOK {
			t.Fatalf("%s verify: %d %s", addr, r.Status, r.Body)
		}
	}
	sign("alice", "alice@example.org", "+33612345678", map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	sign("bob", "bob@example.org", "+447700900123", map[string]string{"bob_city": "London", "bob_initials": "BSX"})
	e, err := w.svc.Envelope(context.Background(), id)
	if err != nil || e.Status != ceremony.StatusCompleted {
		t.Fatalf("envelope: %v %+v", err, e)
	}
	return id, parties
}

func verifyBundle(t *testing.T, w *world, b []byte) *evidence.Report {
	t.Helper()
	rep, err := evidence.Verify(context.Background(), b, evidence.Options{Roots: w.roots})
	if err != nil {
		t.Fatalf("evidence.Verify: %v", err)
	}
	return rep
}

// TestEvidenceBundle takes the evidence of a completed seed flow (real CA, TSA, ledger and
// PAdES) and checks it with a built paraphe binary that has no access to the data directory,
// with pdfsig, and against tampering with each part of the bundle; then it erases the envelope.
func TestEvidenceBundle(t *testing.T) {
	w := newRealWorld(t)
	w.withEvidence()
	id, parties := completedSeedFlow(t, w)

	r := w.api("GET", "/api/v1/envelopes/"+id+"/evidence", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("evidence: %d %s", r.Status, r.Body)
	}
	bundle := r.Body
	rep := verifyBundle(t, w, bundle)
	if !rep.Valid {
		t.Fatalf("bundle does not verify: %v", rep.Failures)
	}
	if rep.Commitment.Opened == 0 || rep.Commitment.Failed != 0 || len(rep.Signers) != 2 || rep.Signers[0].Outcome != "signed" || rep.Signers[1].Outcome != "signed" {
		t.Fatalf("report: %+v", rep)
	}
	parsed, err := evidence.Parse(bundle, evidence.Limits{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("paraphe verify binary", func(t *testing.T) {
		dir := t.TempDir()
		bin := filepath.Join(dir, "paraphe")
		build := exec.Command("go", "build", "-o", bin, "github.com/paraphe/paraphe/cmd/paraphe")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		work := t.TempDir()
		os.WriteFile(filepath.Join(work, "bundle.zip"), bundle, 0o600)
		os.WriteFile(filepath.Join(work, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.rootCert.Raw}), 0o600)
		run := func(args ...string) ([]byte, error) {
			cmd := exec.Command(bin, append([]string{"verify"}, args...)...)
			cmd.Dir = work
			cmd.Env = []string{"HOME=" + work, "PATH=/usr/bin:/bin"}
			return cmd.CombinedOutput()
		}
		out, err := run("bundle.zip", "--root", "root.pem")
		if err != nil || !strings.Contains(string(out), "bundle.zip: VALID") {
			t.Fatalf("paraphe verify: %v\n%s", err, out)
		}
		out, err = run("--json", "--root", "root.pem", "--ledger-key", w.ledger.VerifierKey, "--ledger", w.srv.URL, "bundle.zip")
		if err != nil {
			t.Fatalf("paraphe verify --json --ledger: %v\n%s", err, out)
		}
		var res []struct {
			Kind   string          `json:"kind"`
			Valid  bool            `json:"valid"`
			Report evidence.Report `json:"report"`
		}
		if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 || res[0].Kind != "evidence-bundle" || !res[0].Valid ||
			res[0].Report.Live == nil || !res[0].Report.Live.Consistent || res[0].Report.Checkpoint.KeySource != "pinned" {
			t.Fatalf("json: %v\n%s", err, out)
		}
		tampered := tamperFile(t, parsed, evidence.CheckpointPath, func(b []byte) []byte { return bytes.Replace(b, []byte("\n"), []byte("\n\n"), 1) })
		os.WriteFile(filepath.Join(work, "bad.zip"), tampered, 0o600)
		out, err = run("bad.zip", "--root", "root.pem")
		if err == nil || !strings.Contains(string(out), "bad.zip: INVALID") || !strings.Contains(string(out), "FAILED: ledger/checkpoint") {
			t.Fatalf("tampered bundle: %v\n%s", err, out)
		}
	})

	t.Run("pdfsig", func(t *testing.T) {
		if _, err := exec.LookPath("pdfsig"); err != nil && os.Getenv("CI") != "true" {
			t.Skip("pdfsig not installed")
		}
		pdfsig := testtool.Require(t, "pdfsig")
		dir := t.TempDir()
		for _, d := range parsed.Manifest.Documents {
			f := filepath.Join(dir, filepath.Base(d.File))
			os.WriteFile(f, parsed.Files[d.File], 0o600)
			out, err := exec.Command(pdfsig, "-nocert", f).CombinedOutput()
			if err != nil || strings.Count(string(out), "Signature Validation: Signature is Valid.") < 2 {
				t.Fatalf("pdfsig %s: %v\n%s", d.ID, err, out)
			}
		}
		f := filepath.Join(dir, "report.pdf")
		os.WriteFile(f, parsed.Files[evidence.ReportPath], 0o600)
		if out, err := exec.Command(pdfsig, "-nocert", f).CombinedOutput(); err != nil || !strings.Contains(string(out), "Signature Validation: Signature is Valid.") {
			t.Fatalf("pdfsig report: %v\n%s", err, out)
		}
	})

	t.Run("signer bundle", func(t *testing.T) {
		r := parties["bob"].get("/s/api/evidence")
		if r.Status != http.StatusOK {
			t.Fatalf("signer evidence: %d %s", r.Status, r.Body)
		}
		rep := verifyBundle(t, w, r.Body)
		if !rep.Valid || rep.Scope != evidence.ScopeSigner {
			t.Fatalf("signer bundle: %+v", rep)
		}
		b, _ := evidence.Parse(r.Body, evidence.Limits{})
		for _, s := range b.Manifest.Signers {
			if s.ID == "alice" && (s.Phone != "" || len(s.Values) != 0) {
				t.Fatalf("bob's bundle discloses alice's phone or values: %+v", s)
			}
		}
		if r := w.api("GET", "/api/v1/envelopes/"+id+"/evidence?signer=alice", nil); r.Status != http.StatusOK {
			t.Fatalf("per-signer bundle through the API: %d", r.Status)
		}
	})

	t.Run("verification page", func(t *testing.T) {
		h, err := verifyui.New(verifyui.Options{Roots: w.roots, LedgerKey: w.ledger.VerifierKey})
		if err != nil {
			t.Fatal(err)
		}
		lang := "fr"
		post := func(name string, data []byte) string {
			b, contentType := testworld.Upload(nil, map[string][]byte{name: data})
			req := httptest.NewRequest("POST", "/verify?lang="+lang, b)
			req.Header.Set("Content-Type", contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("POST /verify %s: %d %s", name, rec.Code, rec.Body)
			}
			return rec.Body.String()
		}
		if body := post("dossier.zip", bundle); !strings.Contains(body, ">VALIDE<") || !strings.Contains(body, "Alice Martin") {
			t.Fatalf("bundle on the page:\n%s", body)
		}
		if body := post("compromis.pdf", parsed.Files[parsed.Manifest.Documents[0].File]); !strings.Contains(body, ">VALIDE<") || !strings.Contains(body, "B-LTA") {
			t.Fatalf("signed PDF on the page:\n%s", body)
		}
		bad := tamperManifest(t, parsed, func(m *evidence.Manifest) { m.Salt = strings.Repeat("11", 32) })
		// The failures are shown in the page's language, with their codes.
		body := post("falsifié.zip", bad)
		for _, want := range []string{">NON VALIDE<", "Échecs",
			`data-code="commitment.mismatch">événement n° `, ", signataire alice) : l&#39;engagement &#34;email&#34; ne s&#39;ouvre pas sur la valeur du dossier avec le sel du dossier",
			"a signé", "terminée"} {
			if !strings.Contains(body, want) {
				t.Errorf("the French page of a tampered bundle lacks %q", want)
			}
		}
		if strings.Contains(body, "does not open") || strings.Contains(body, "(invitation.sent, signer alice)") {
			t.Errorf("the French page shows English failures:\n%s", body)
		}
		lang = "en"
		body = post("tampered.zip", bad)
		if !strings.Contains(body, ">NOT VALID<") || !strings.Contains(body, `data-code="commitment.mismatch">leaf #`) ||
			!strings.Contains(body, "(invitation.sent, signer alice): the commitment &#34;email&#34; does not open") {
			t.Errorf("the English page of a tampered bundle:\n%s", body)
		}
		if lang = "fr"; t.Failed() {
			t.Logf("French page:\n%s", post("falsifié.zip", bad))
		}
	})

	t.Run("tamper", func(t *testing.T) { tamperCases(t, w, parsed) })

	t.Run("erase", func(t *testing.T) { eraseCase(t, w, id, bundle) })
}

// tamperFile re-encodes the bundle with one file changed (and its digest updated, so that the
// check that fails is the one about the file's meaning, not the archive's integrity).
func tamperFile(t *testing.T, b *evidence.Bundle, name string, f func([]byte) []byte) []byte {
	t.Helper()
	c := cloneBundle(b)
	c.Files[name] = f(bytes.Clone(c.Files[name]))
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tamperManifest(t *testing.T, b *evidence.Bundle, f func(m *evidence.Manifest)) []byte {
	t.Helper()
	c := cloneBundle(b)
	f(&c.Manifest)
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func cloneBundle(b *evidence.Bundle) *evidence.Bundle {
	raw, _ := json.Marshal(b.Manifest)
	c := &evidence.Bundle{Files: map[string][]byte{}}
	json.Unmarshal(raw, &c.Manifest)
	for k, v := range b.Files {
		c.Files[k] = bytes.Clone(v)
	}
	return c
}

func leafOf(t *testing.T, m *evidence.Manifest, typ, signer string, match func(string) bool) int {
	t.Helper()
	for i, l := range m.Leaves {
		if strings.Contains(l.Leaf, `"type":"`+typ+`"`) && strings.Contains(l.Leaf, `"signer":"`+signer+`"`) && (match == nil || match(l.Leaf)) {
			return i
		}
	}
	t.Fatalf("no %s leaf of %s", typ, signer)
	return -1
}

func tamperCases(t *testing.T, w *world, b *evidence.Bundle) {
	m := &b.Manifest
	cases := []struct {
		name string
		data func() []byte
		want []string // substrings of one failure each
	}{
		{"a leaf", func() []byte {
			return tamperManifest(t, b, func(m *evidence.Manifest) {
				i := leafOf(t, m, "otp.sent", "alice", nil)
				m.Leaves[i].Leaf = strings.Replace(m.Leaves[i].Leaf, `"at":"20`, `"at":"19`, 1)
			})
		}, []string{"(otp.sent, signer alice): the inclusion proof does not lead to the checkpoint"}},
		{"a proof hash", func() []byte {
			return tamperManifest(t, b, func(m *evidence.Manifest) {
				i := leafOf(t, m, "consent.given", "bob", nil)
				h := []byte(m.Leaves[i].Proof[0])
				h[0] = "1032547698badcfe"[strings.IndexByte("0123456789abcdef", h[0])] // another hex digit
				m.Leaves[i].Proof[0] = string(h)
			})
		}, []string{"(consent.given, signer bob): the inclusion proof does not lead to the checkpoint"}},
		{"the checkpoint", func() []byte {
			return tamperFile(t, b, evidence.CheckpointPath, func(c []byte) []byte {
				return bytes.Replace(c, []byte("\n"+itoa(m.Ledger.Size)+"\n"), []byte("\n"+itoa(m.Ledger.Size+1)+"\n"), 1)
			})
		}, []string{"ledger/checkpoint: checkpoint: signature"}},
		{"the checkpoint's timestamp", func() []byte {
			return tamperFile(t, b, evidence.CheckpointTokenPath, func(c []byte) []byte { c[len(c)-40] ^= 0xff; return c })
		}, []string{"ledger/checkpoint.tst: the checkpoint's timestamp does not verify"}},
		{"a PDF byte", func() []byte {
			name := m.Documents[0].File
			c := cloneBundle(b)
			pdf := c.Files[name]
			i := bytes.Index(pdf, []byte("Compromis"))
			pdf[i] = 'K'
			c.Manifest.Documents[0].Final = hexDigest(pdf)
			out, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			return out
		}, []string{"document compromis (Compromis de vente): documents/1.pdf: the PAdES signatures do not verify"}},
		{"a PDF byte, digest not updated", func() []byte {
			raw := bytes.Clone(mustMarshal(t, b))
			// Rewrite the stored archive entry without touching the manifest.
			return rezip(t, raw, m.Documents[1].File, func(pdf []byte) []byte { pdf[len(pdf)/2] ^= 1; return pdf })
		}, nil},
		{"a salt", func() []byte {
			return tamperManifest(t, b, func(m *evidence.Manifest) { m.Salt = strings.Repeat("00", 32) })
		}, []string{"(invitation.sent, signer alice): the commitment \"email\" does not open", "(field.completed, signer bob): the commitment \"value\" does not open"}},
		{"a clear value", func() []byte {
			return tamperManifest(t, b, func(m *evidence.Manifest) { m.Signers[0].Values["alice_city"] = "Paris" })
		}, []string{"(field.completed, signer alice): the commitment \"value\" does not open"}},
		{"a missing page-read event", func() []byte {
			return tamperManifest(t, b, func(m *evidence.Manifest) {
				i := leafOf(t, m, "page.read", "alice", func(l string) bool {
					return strings.Contains(l, `"document":"compromis"`) && strings.Contains(l, `"page":2`)
				})
				m.Leaves = append(m.Leaves[:i], m.Leaves[i+1:]...)
			})
		}, []string{"signer alice: page 2 of document compromis (Compromis de vente) was never reported read"}},
		{"a certificate not bound to its OTP event", func() []byte {
			c := cloneBundle(b)
			c.Files[c.Manifest.Signers[0].Certificate] = c.Files[c.Manifest.Signers[1].Certificate]
			out, _ := c.Marshal()
			return out
		}, []string{"signer alice: certificate", "not to this signer's otp.verified event", "signer alice: no certificate.issued leaf records certificate"}},
		{"the report", func() []byte {
			return tamperManifest(t, b, func(m *evidence.Manifest) { m.Envelope.Title = "Autre titre" })
		}, []string{"report.pdf: its content is not the rendering of this bundle"}},
		{"the report's document timestamp stripped (B-LT)", func() []byte {
			return tamperFile(t, b, evidence.ReportPath, func(pdf []byte) []byte { return revisionsBack(t, pdf, 1) })
		}, []string{"report.pdf: the platform seal reaches PAdES B-LT, not B-LTA"}},
		{"the report's validation data and document timestamp stripped (B-T)", func() []byte {
			return tamperFile(t, b, evidence.ReportPath, func(pdf []byte) []byte { return revisionsBack(t, pdf, 2) })
		}, []string{"report.pdf: the platform seal reaches PAdES B-T, not B-LTA"}},
		{"a signature timestamp", func() []byte {
			return tamperManifest(t, b, func(m *evidence.Manifest) {
				for i := range m.Timestamps {
					if m.Timestamps[i].Kind == "signature" {
						m.Timestamps[i].Time = m.Timestamps[i].Time.Add(-time.Hour)
						break
					}
				}
			})
		}, []string{"manifest: the timestamp of signer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.data()
			rep, err := evidence.Verify(context.Background(), data, evidence.Options{Roots: w.roots})
			if c.want == nil {
				if err == nil {
					t.Fatalf("tampered archive accepted: %+v", rep)
				}
				if !strings.Contains(err.Error(), "SHA-256") {
					t.Fatalf("error does not name the digest: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.Valid {
				t.Fatal("tampered bundle verifies")
			}
			all := strings.Join(rep.Failures, "\n")
			for _, s := range c.want {
				if !strings.Contains(all, s) {
					t.Errorf("no failure mentions %q; failures:\n%s", s, all)
				}
			}
		})
	}
}

// revisionsBack returns pdf without its last n incremental updates (cut after the %%EOF that
// ends the earlier revision, with its end of line).
func revisionsBack(t *testing.T, pdf []byte, n int) []byte {
	t.Helper()
	var ends []int
	for off := 0; ; {
		i := bytes.Index(pdf[off:], []byte("%%EOF"))
		if i < 0 {
			break
		}
		end := off + i + len("%%EOF")
		for end < len(pdf) && (pdf[end] == '\r' || pdf[end] == '\n') {
			end++
		}
		ends = append(ends, end)
		off = end
	}
	if len(ends) <= n {
		t.Fatalf("the PDF has %d revisions, cannot remove %d", len(ends), n)
	}
	return bytes.Clone(pdf[:ends[len(ends)-1-n]])
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func hexDigest(b []byte) string { return ceremony.Digest(b) }

func mustMarshal(t *testing.T, b *evidence.Bundle) []byte {
	t.Helper()
	out, err := cloneBundle(b).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rezip rewrites one entry of a ZIP archive as is, every other entry copied unchanged.
func rezip(t *testing.T, data []byte, name string, f func([]byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range zr.File {
		rc, _ := e.Open()
		c, _ := io.ReadAll(rc)
		rc.Close()
		if e.Name == name {
			c = f(c)
		}
		fw, _ := zw.Create(e.Name)
		fw.Write(c)
	}
	zw.Close()
	return buf.Bytes()
}

// eraseCase erases the envelope: refused before its retention period, then done; the bundle
// given out before still verifies, the ledger still passes an audit, and the data directory
// (Badger included) holds none of the envelope's personal data.
func eraseCase(t *testing.T, w *world, id string, bundle []byte) {
	// Control: before the erasure the search does find the personal data.
	for _, v := range []string{"Alice Martin", "FR123456789012", "BSX"} {
		if hits := grepDB(t, w.db, []string{v}); len(hits) == 0 {
			t.Fatalf("the database search does not find %q before the erasure", v)
		}
	}
	if hits := grepDir(w.dir+"/documents", []string{"Compromis"}); len(hits) == 0 {
		t.Fatal("the file search finds no document before the erasure")
	}
	if r := w.api("POST", "/api/v1/envelopes/"+id+"/erase", nil); r.Status != http.StatusConflict || r.errCode() != ceremony.CodeRetention {
		t.Fatalf("erase before the retention period: %d %s", r.Status, r.Body)
	}
	w.clock.Advance(ceremony.DefaultRetention + time.Hour)
	r := w.api("POST", "/api/v1/envelopes/"+id+"/erase", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	if r := w.api("POST", "/api/v1/envelopes/"+id+"/erase", nil); r.Status != http.StatusOK {
		t.Fatalf("erase again: %d %s", r.Status, r.Body)
	}
	if r := w.api("GET", "/api/v1/envelopes/"+id, nil); r.Status != http.StatusGone {
		t.Fatalf("get after erasure: %d %s", r.Status, r.Body)
	}
	if r := w.api("GET", "/api/v1/envelopes/"+id+"/evidence", nil); r.Status != http.StatusGone {
		t.Fatalf("evidence after erasure: %d %s", r.Status, r.Body)
	}
	if rep := verifyBundle(t, w, bundle); !rep.Valid {
		t.Fatalf("the bundle given out before the erasure no longer verifies: %v", rep.Failures)
	}
	// The erasure is itself in the ledger, and the ledger passes a full audit.
	tl, err := w.svc.Timeline(context.Background(), id)
	if err != nil || len(tl) == 0 || tl[len(tl)-1].Event.Type != ceremony.EvEnvelopeErased {
		t.Fatalf("timeline after erasure: %v, last %+v", err, tl[len(tl)-1].Event)
	}
	nv, err := verify.NewVerifier(w.ledger.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	waitReceipts(t, w, id)
	ar, err := (&audit.Client{BaseURL: w.srv.URL, Verifier: nv, Origin: w.ledger.Origin}).Audit(context.Background(), nil)
	if err != nil || ar.Types["envelope.erased"] != 1 {
		t.Fatalf("ledger audit after erasure: %v %+v", err, ar.Types)
	}
	personal := []string{"Alice Martin", "Bob Smith", "alice@example.org", "bob@example.org", "+33612345678", "+447700900123",
		"FR123456789012", "Lyon", "London", "BSX", "Compromis de vente", "12 rue des Lilas", "Merci de lire"}
	// Close the state store so that every file is final, then look for personal data: in the
	// raw files (write-ahead logs, value logs, documents) and in every version of every key that
	// Badger still holds (its tables are Snappy-compressed, so a raw search alone proves little).
	w.svc.Close()
	if err := w.db.Close(); err != nil {
		t.Fatal(err)
	}
	// In raw files only values of 8 bytes or more are searched: a short value such as initials
	// occurs by chance in kilobytes of encrypted keys or compressed tables. Every value, short
	// ones included, is searched in the decoded store below.
	var long []string
	for _, v := range personal {
		if len(v) >= 8 {
			long = append(long, v)
		}
	}
	if hits := grepDir(w.dir, long); len(hits) > 0 {
		t.Fatalf("personal data left in the data directory after erasure:\n%s", strings.Join(hits, "\n"))
	}
	db, err := badger.Open(badgerstore.BadgerOptions(w.dir+"/db", slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if hits := grepDB(t, db, personal); len(hits) > 0 {
		t.Fatalf("personal data left in the state database after erasure:\n%s", strings.Join(hits, "\n"))
	}
}

// grepDir searches every file under dir for each string, as UTF-8 and as UTF-16BE.
func grepDir(dir string, needles []string) []string {
	var hits []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, s := range needles {
			for _, form := range [][]byte{[]byte(s), utf16(s)} {
				if bytes.Contains(b, form) {
					hits = append(hits, p+": "+s)
				}
			}
		}
		return nil
	})
	return hits
}

// grepDB searches every version of every key of db, deleted ones included.
func grepDB(t *testing.T, db *badger.DB, needles []string) []string {
	t.Helper()
	var hits []string
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			for _, s := range needles {
				form := []byte(s)
				if len(s) < 8 {
					// A short value is searched as a JSON string: bare, it occurs by chance in
					// the base64 of receipts and timestamp tokens (three letters: about 1 % of
					// the records), which have no quote in them.
					form = []byte(`"` + s + `"`)
				}
				if bytes.Contains(v, form) || bytes.Contains(item.Key(), form) {
					hits = append(hits, fmt.Sprintf("%s@%d: %s", item.Key(), item.Version(), s))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// utf16 is s in UTF-16BE, as PDF text strings may hold it.
func utf16(s string) []byte {
	var out []byte
	for _, r := range s {
		out = append(out, byte(r>>8), byte(r))
	}
	return out
}
