package crashtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

// TestKillAtEachStep drives one ceremony (one signer, one three-page document with a required
// field) through the real binary and SIGKILLs it after every acknowledged step, and in the
// middle of a page report, of the choice to sign and of the signing itself. After each restart
// on the same data directory it checks that:
//   - the ceremony is where it was acknowledged (or, after a kill in flight, either before or
//     after the step), and it can go on;
//   - the envelope's timeline and the ledger hold the same events (no event without its
//     state, no state without its event), each once;
//   - every signed document has its document.signed event, and downloads with its digest;
//   - the ledger is consistent with the checkpoint seen before the kill.
func TestKillAtEachStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and restarts the appliance many times")
	}
	deadline := time.Now().Add(3 * time.Minute)
	a := newAppliance(t)
	a.start()
	id := a.create()
	c := &checker{a: a, id: id}
	c.verifier = a.verifier()
	c.expect("draft", "waiting", 0)
	c.crash("after create", nil)

	st, b := a.api("POST", "/api/v1/envelopes/"+id+"/send", nil)
	c.ok(reply{st, b}, "send")
	c.expect("sent", "invited", 0)
	c.crash("after send", nil)

	s := a.signer(a.outboxLink("signer@example.org"))
	c.s = s
	c.expect("sent", "invited", 0)
	c.crash("after open", nil)

	for p := 1; p <= 3; p++ {
		if p == 2 {
			// In flight: the report may or may not be recorded, but consistently.
			c.crash("during page 2", func() { s.post(fmt.Sprintf("/s/api/documents/1/pages/%d/read", p), nil) })
			c.pages = s.pagesRead()
			if c.pages != 1 && c.pages != 2 {
				t.Fatalf("after a kill during the report of page 2, %d pages read", c.pages)
			}
		}
		c.ok(s.post(fmt.Sprintf("/s/api/documents/1/pages/%d/read", p), nil), fmt.Sprintf("read page %d", p))
		c.pages = p
		c.crash(fmt.Sprintf("after page %d", p), nil)
	}

	c.ok(s.post("/s/api/fields", map[string]any{"values": map[string]string{"city": "Lyon"}}), "fields")
	c.crash("after fields", nil)

	// Choosing to sign records consent.given, then sends the code (otp.sent).
	digest := s.consentDigest()
	c.crash("during the choice to sign", func() { s.post("/s/api/sign", map[string]string{"consent_digest": digest}) })
	if st := s.state(); st.Signer.Status == "invited" {
		c.ok(s.post("/s/api/sign", map[string]string{"consent_digest": digest}), "choose to sign")
	} else if st.Code == nil || !st.Code.Active {
		t.Fatalf("after a kill during the choice to sign: signer %s, no active code", st.Signer.Status)
	}
	c.expect("sent", "consented", 3)
	c.crash("after the code was sent", nil)
	code := a.outboxCode("+33612345678")

	// The code is verified and signing runs when the process dies: the restarted appliance
	// finishes the signature (scheduler) or, if the code was not yet verified, it still works.
	c.crash("during verify and sign", func() { s.post("/s/api/code/verify", map[string]string{"code": code}) })
	if st := s.state(); st.Signer.Status == "consented" {
		c.ok(s.post("/s/api/code/verify", map[string]string{"code": code}), "verify")
	}
	c.waitStatus("completed", deadline)
	c.expect("completed", "signed", 3)
	c.crash("after completion", nil)
	if time.Now().After(deadline) {
		t.Fatalf("the crash test took more than its 3 minutes")
	}
}

// appliance is the paraphe binary serving one data directory.
type appliance struct {
	t        *testing.T
	bin, dir string
	base     string // http://127.0.0.1:port
	addr     string
	key      string
	cmd      *exec.Cmd
	exited   chan error // receives cmd.Wait's result
	logPath  string
	logMark  int64 // size of the log when the running process started
	client   *http.Client
}

func newAppliance(t *testing.T) *appliance {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "paraphe")
	build := exec.Command("go", "build", "-o", bin, "github.com/paraphe/paraphe/cmd/paraphe")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/paraphe: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	a := &appliance{t: t, bin: bin, dir: filepath.Join(tmp, "data"), addr: addr, base: "http://" + addr,
		key: "crash-test-bootstrap-key-0123456789abcdef", logPath: filepath.Join(tmp, "serve.log"),
		client: &http.Client{Timeout: 60 * time.Second}}
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			if b, err := os.ReadFile(a.logPath); err == nil {
				t.Logf("appliance log (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
	})
	return a
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// start runs `paraphe serve` and waits until /healthz answers.
func (a *appliance) start() {
	a.t.Helper()
	a.startWith()
}

// startWith starts the appliance with extra environment variables (such as the crash hold,
// ceremony.CrashHoldEnv) and notes where its log begins.
func (a *appliance) startWith(extra ...string) {
	a.t.Helper()
	if st, err := os.Stat(a.logPath); err == nil {
		a.logMark = st.Size()
	}
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		a.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(a.bin, "serve", "--data", a.dir, "--listen", a.addr, "--metrics-listen", "off")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARAPHE_") {
			env = append(env, kv)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, ceremony.CrashHoldEnv+"=") {
			a.t.Fatalf("%s is set in the test's environment", ceremony.CrashHoldEnv)
		}
	}
	cmd.Env = append(env, "PARAPHE_BOOTSTRAP_API_KEY="+a.key, "PARAPHE_PUBLIC_URL="+a.base, "PARAPHE_MODE=development")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("start paraphe serve: %v", err)
	}
	a.cmd = cmd
	a.exited = make(chan error, 1)
	go func() { a.exited <- cmd.Wait() }()
	for wait := time.Now().Add(90 * time.Second); ; {
		resp, err := a.client.Get(a.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-a.exited:
			a.cmd = nil
			a.t.Fatalf("paraphe serve exited before it was ready: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(wait) {
			a.t.Fatalf("paraphe serve not ready after 90 s: %v", err)
		}
	}
}

// kill SIGKILLs the process, as a crash or a power cut of the process would end it.
func (a *appliance) kill() {
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.exited // the process is gone: its files and Badger locks are released
	a.cmd = nil
}

func (a *appliance) do(c *http.Client, method, path string, hdr map[string]string, body io.Reader) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (a *appliance) api(method, path string, body any) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	return a.do(a.client, method, path, map[string]string{"Authorization": "Bearer " + a.key, "Content-Type": "application/json"}, rd)
}

func (a *appliance) create() string {
	a.t.Helper()
	manifest := map[string]any{
		"title":   "Crash test",
		"signers": []map[string]any{{"id": "s", "name": "Camille Durand", "email": "signer@example.org", "phone": "+33612345678", "locale": "fr", "order": 1}},
		"documents": []map[string]any{{"id": "d", "file": "d.pdf", "fields": []map[string]any{
			{"id": "city", "label": "Fait à", "signer": "s", "page": 1, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 20}, "required": true}}}},
	}
	return a.createWith(manifest, map[string][]byte{"d.pdf": ceremonytest.MinimalPDF(3, "Crash test")})
}

// createWith creates an envelope from a manifest and its files.
func (a *appliance) createWith(manifest map[string]any, files map[string][]byte) string {
	a.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mb, _ := json.Marshal(manifest)
	pw, _ := mw.CreateFormField("manifest")
	pw.Write(mb)
	for name, pdf := range files {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(pdf)
	}
	mw.Close()
	st, body := a.do(a.client, "POST", "/api/v1/envelopes", map[string]string{"Authorization": "Bearer " + a.key, "Content-Type": mw.FormDataContentType()}, &b)
	if st != http.StatusCreated {
		a.t.Fatalf("create: %d %s", st, body)
	}
	var v struct{ ID string }
	if err := json.Unmarshal(body, &v); err != nil {
		a.t.Fatal(err)
	}
	return v.ID
}

type outboxMessage struct {
	Kind  string
	Email *struct {
		To, Subject, Text string
		Attachments       []struct{ Name string }
	}
	SMS *struct{ To, Text string }
}

func (a *appliance) outbox() []outboxMessage {
	a.t.Helper()
	st, b := a.api("GET", "/api/v1/outbox", nil)
	if st != http.StatusOK {
		a.t.Fatalf("outbox: %d %s", st, b)
	}
	var v struct{ Messages []outboxMessage }
	if err := json.Unmarshal(b, &v); err != nil {
		a.t.Fatal(err)
	}
	return v.Messages
}

var (
	linkRE = regexp.MustCompile(`https?://[^\s"<>]+/s/[A-Za-z0-9_-]{43}`)
	codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)
)

func (a *appliance) outboxLink(to string) string {
	a.t.Helper()
	ms := a.outbox()
	for i := len(ms) - 1; i >= 0; i-- {
		if m := ms[i]; m.Email != nil && m.Email.To == to {
			if l := linkRE.FindString(m.Email.Text); l != "" {
				return strings.TrimPrefix(l, a.base)
			}
		}
	}
	a.t.Fatalf("no link emailed to %s", to)
	return ""
}

func (a *appliance) outboxCode(to string) string {
	a.t.Helper()
	ms := a.outbox()
	for i := len(ms) - 1; i >= 0; i-- {
		if m := ms[i]; m.SMS != nil && m.SMS.To == to {
			if c := codeRE.FindString(m.SMS.Text); c != "" {
				return c
			}
		}
	}
	a.t.Fatalf("no code sent to %s", to)
	return ""
}

// verifier fetches the ledger's verifier key (once, at the first start: a later answer must
// not be able to change what the checks trust).
func (a *appliance) verifier() note.Verifier {
	a.t.Helper()
	st, b := a.do(a.client, "GET", "/ledger/key", nil, nil)
	if st != http.StatusOK {
		a.t.Fatalf("ledger key: %d %s", st, b)
	}
	v, err := verify.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		a.t.Fatal(err)
	}
	return v
}

// signerClient is the signer's browser: a cookie jar and the CSRF token.
type signerClient struct {
	a    *appliance
	c    *http.Client
	csrf string
}

func (a *appliance) signer(link string) *signerClient {
	a.t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &signerClient{a: a, c: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	st, b := a.do(s.c, "GET", link, map[string]string{"Accept": "application/json"}, nil)
	if st != http.StatusOK {
		a.t.Fatalf("open link: %d %s", st, b)
	}
	var v struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.CSRF == "" {
		a.t.Fatalf("open link: no CSRF token in %s", b)
	}
	s.csrf = v.CSRF
	return s
}

// reply is an HTTP answer.
type reply struct {
	status int
	body   []byte
}

func (s *signerClient) post(path string, body any) reply {
	b := []byte("{}")
	if body != nil {
		b, _ = json.Marshal(body)
	}
	st, rb := s.a.do(s.c, "POST", path, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": s.csrf}, bytes.NewReader(b))
	return reply{st, rb}
}

type signerState struct {
	Signer    struct{ Status string }
	Documents []struct {
		Pages     int
		PagesRead []int `json:"pages_read"`
	}
	Consent *struct{ Digest string }
	Code    *struct{ Active bool }
}

func (s *signerClient) state() signerState {
	s.a.t.Helper()
	st, b := s.a.do(s.c, "GET", "/s/api/state", nil, nil)
	if st != http.StatusOK {
		s.a.t.Fatalf("signer state: %d %s", st, b)
	}
	var v struct{ State signerState }
	if err := json.Unmarshal(b, &v); err != nil {
		s.a.t.Fatal(err)
	}
	return v.State
}

func (s *signerClient) pagesRead() int { return len(s.state().Documents[0].PagesRead) }

func (s *signerClient) consentDigest() string {
	s.a.t.Helper()
	st := s.state()
	if st.Consent == nil {
		s.a.t.Fatalf("no consent text offered: %+v", st)
	}
	return st.Consent.Digest
}

// checker holds what was acknowledged and checks it after each restart.
type checker struct {
	a        *appliance
	id       string
	s        *signerClient
	verifier note.Verifier
	// Acknowledged state.
	envStatus, signerStatus string
	pages                   int
	signers                 []string // every signer's status, when set (expectAll)
}

func (c *checker) ok(r reply, what string) {
	c.a.t.Helper()
	if r.status != http.StatusOK {
		c.a.t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
}

func (c *checker) expect(env, signer string, pages int) {
	c.envStatus, c.signerStatus, c.pages = env, signer, pages
}

// expectAll records the acknowledged status of the envelope and of each of its signers.
func (c *checker) expectAll(env string, signers ...string) {
	c.envStatus, c.signers = env, signers
	c.signerStatus = signers[0]
}

// acknowledged returns how the envelope differs from its acknowledged state ("" if it does not).
func (c *checker) acknowledged(v envelopeView) string {
	want := c.signers
	if want == nil {
		want = []string{c.signerStatus}
	}
	if v.Status != c.envStatus {
		return fmt.Sprintf("the envelope is %s; acknowledged: %s", v.Status, c.envStatus)
	}
	for i, st := range want {
		if v.Signers[i].Status != st {
			return fmt.Sprintf("signer %s is %s; acknowledged: %s", v.Signers[i].ID, v.Signers[i].Status, st)
		}
	}
	return ""
}

type envelopeView struct {
	Status    string
	Signers   []struct{ ID, Status string }
	Documents []struct {
		ID      string
		Signed  bool
		Current string `json:"current_sha256"`
	}
	Timeline []struct {
		Seq   uint64
		Event struct {
			ID, Type string
			Data     map[string]any
		}
	}
}

func (c *checker) envelope() envelopeView {
	c.a.t.Helper()
	st, b := c.a.api("GET", "/api/v1/envelopes/"+c.id, nil)
	if st != http.StatusOK {
		c.a.t.Fatalf("get envelope: %d %s", st, b)
	}
	var v envelopeView
	if err := json.Unmarshal(b, &v); err != nil {
		c.a.t.Fatal(err)
	}
	return v
}

// crash runs inFlight (if any) and SIGKILLs the appliance while it runs (or right after the
// last acknowledged step), restarts it and checks the invariants.
func (c *checker) crash(step string, inFlight func()) {
	t := c.a.t
	t.Helper()
	before := c.checkpoint()
	if inFlight != nil {
		done := make(chan struct{})
		go func() { defer close(done); inFlight() }()
		// Let the request reach the server and get into its step; the exact moment differs from
		// run to run, which is the point: every outcome must be consistent.
		time.Sleep(map[bool]time.Duration{true: 150 * time.Millisecond, false: 3 * time.Millisecond}[strings.Contains(step, "sign")])
		c.a.kill()
		<-done
	} else {
		c.a.kill()
	}
	c.a.start()
	after := c.checkpoint()
	c.consistent(step, before, after)
	if inFlight == nil {
		if d := c.acknowledged(c.envelope()); d != "" {
			t.Fatalf("%s: after restart %s", step, d)
		}
		if c.s != nil {
			if n := c.s.pagesRead(); n != c.pages {
				t.Fatalf("%s: after restart %d pages read; acknowledged: %d", step, n, c.pages)
			}
		}
	}
	n := c.sameEvents(step)
	v := c.envelope()
	t.Logf("%s: killed at ledger size %d, restarted at %d; envelope %s, signer %s, %d events agree", step, before.Size, after.Size, v.Status, v.Signers[0].Status, n)
}

// checkpoint fetches and verifies the latest checkpoint.
func (c *checker) checkpoint() verify.Checkpoint {
	t := c.a.t
	t.Helper()
	st, b := c.a.do(c.a.client, "GET", "/ledger/checkpoint", nil, nil)
	if st != http.StatusOK {
		t.Fatalf("checkpoint: %d %s", st, b)
	}
	origin, _, _ := strings.Cut(string(b), "\n")
	cp, err := verify.OpenCheckpoint(b, c.verifier, origin)
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v", err)
	}
	return cp
}

// consistent checks that the ledger after the restart extends the one before the kill.
func (c *checker) consistent(step string, older, newer verify.Checkpoint) {
	t := c.a.t
	t.Helper()
	if newer.Size < older.Size {
		t.Fatalf("%s: the ledger shrank from %d to %d leaves", step, older.Size, newer.Size)
	}
	if older.Size == 0 {
		return
	}
	st, b := c.a.do(c.a.client, "GET", fmt.Sprintf("/ledger/proof/consistency?from=%d&to=%d", older.Size, newer.Size), nil, nil)
	if st != http.StatusOK {
		t.Fatalf("%s: consistency proof: %d %s", step, st, b)
	}
	var p struct{ Hashes [][]byte }
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if err := verify.Consistency(older, newer, p.Hashes); err != nil {
		t.Fatalf("%s: the ledger after the restart is not consistent with the checkpoint before the kill: %v", step, err)
	}
}

// ledgerEvents returns the envelope's events in the ledger, in leaf order, under a verified
// checkpoint whose root matches the leaves.
func (c *checker) ledgerEvents() []event.Event {
	t := c.a.t
	t.Helper()
	cp := c.checkpoint()
	var leaves [][]byte
	for start := uint64(0); start < cp.Size; {
		st, b := c.a.do(c.a.client, "GET", fmt.Sprintf("/ledger/entries?start=%d&end=%d", start, cp.Size), nil, nil)
		if st != http.StatusOK {
			t.Fatalf("entries: %d %s", st, b)
		}
		var v struct{ Entries []struct{ Leaf string } }
		if err := json.Unmarshal(b, &v); err != nil || len(v.Entries) == 0 {
			t.Fatalf("entries from %d: %v %s", start, err, b)
		}
		for _, e := range v.Entries {
			leaf, err := base64.StdEncoding.DecodeString(e.Leaf)
			if err != nil {
				t.Fatal(err)
			}
			leaves = append(leaves, leaf)
		}
		start += uint64(len(v.Entries))
	}
	if !bytes.Equal(verify.RootFromLeaves(leaves), cp.Hash) {
		t.Fatalf("the ledger's entries do not hash to its checkpoint")
	}
	var out []event.Event
	for _, leaf := range leaves {
		ev, err := event.Parse(leaf)
		if err != nil {
			t.Fatalf("a leaf is not a valid event: %v", err)
		}
		if ev.Envelope == c.id {
			out = append(out, ev)
		}
	}
	return out
}

// sameEvents checks that the envelope's timeline and the ledger hold the same events, each
// once, in the same order. A restarted appliance appends again the events of an interrupted
// step before serving, but sequencing follows: wait for it (bounded).
func (c *checker) sameEvents(step string) int {
	t := c.a.t
	t.Helper()
	var diff string
	for wait := time.Now().Add(20 * time.Second); ; {
		v := c.envelope()
		led := c.ledgerEvents()
		diff = compare(v, led)
		if diff == "" {
			if dup := duplicateStep(led); dup != "" {
				t.Fatalf("%s: %s", step, dup)
			}
			c.signedHaveEvents(step, v, led)
			return len(led)
		}
		if time.Now().After(wait) {
			t.Fatalf("%s: the envelope's timeline and the ledger differ: %s", step, diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func compare(v envelopeView, led []event.Event) string {
	seen := map[string]int{}
	for _, e := range led {
		seen[e.ID]++
		if seen[e.ID] > 1 {
			return fmt.Sprintf("event %s (%s) is twice in the ledger", e.ID, e.Type)
		}
	}
	if len(led) != len(v.Timeline) {
		return fmt.Sprintf("%d events in the timeline, %d in the ledger", len(v.Timeline), len(led))
	}
	for i, e := range v.Timeline {
		if e.Event.ID != led[i].ID || e.Event.Type != string(led[i].Type) {
			return fmt.Sprintf("event %d: %s (%s) in the timeline, %s (%s) in the ledger", i+1, e.Event.ID, e.Event.Type, led[i].ID, led[i].Type)
		}
	}
	return ""
}

// signedHaveEvents checks that every signed document has its document.signed event and
// downloads with the digest the envelope announces; a finalized one also envelope.completed.
func (c *checker) signedHaveEvents(step string, v envelopeView, led []event.Event) {
	t := c.a.t
	t.Helper()
	types := map[string]bool{}
	signedDocs := map[string]bool{}
	for _, e := range led {
		types[string(e.Type)] = true
		if e.Type == event.DocumentSigned {
			signedDocs[fmt.Sprint(e.Data["document"])] = true
		}
	}
	for _, d := range v.Documents {
		if !d.Signed {
			continue
		}
		if !signedDocs[d.ID] {
			t.Fatalf("%s: document %s is signed but the ledger has no document.signed for it", step, d.ID)
		}
		if v.Status == "completed" && !types[string(event.EnvelopeCompleted)] {
			t.Fatalf("%s: the envelope is completed but the ledger has no envelope.completed", step)
		}
		st, b := c.a.api("GET", "/api/v1/envelopes/"+c.id+"/documents/"+d.ID, nil)
		if st != http.StatusOK {
			t.Fatalf("%s: download %s: %d %s", step, d.ID, st, b)
		}
		if got := ceremony.Digest(b); got != d.Current && !c.advancedTo(d.ID, got) {
			t.Fatalf("%s: document %s downloads with digest %s, announced %s", step, d.ID, got, d.Current)
		}
	}
}

// advancedTo reports whether the envelope now announces digest for document id: a restarted
// appliance resuming the finalization (B-LT, B-LTA) may move a document on between the read
// of the envelope and the download, which is then of the newer version.
func (c *checker) advancedTo(id, digest string) bool {
	for _, d := range c.envelope().Documents {
		if d.ID == id {
			return d.Current == digest
		}
	}
	return false
}

// waitStatus waits (bounded) for the envelope to reach a status, as the scheduler resumes work.
func (c *checker) waitStatus(status string, deadline time.Time) {
	t := c.a.t
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	for {
		v := c.envelope()
		if v.Status == status {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the envelope is %s (signer %s), not %s", v.Status, v.Signers[0].Status, status)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
