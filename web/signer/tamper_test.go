package signer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paraphe/paraphe/ceremony"
)

// tamperLog keeps what the appliance logs, for the tamper test.
type tamperLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *tamperLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *tamperLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// damage flips one byte in the middle of a stored document, as disk corruption or an intruder
// would, and returns a function that puts the original bytes back.
func damage(t *testing.T, dir, digest string) (restore func()) {
	t.Helper()
	path := filepath.Join(dir, "documents", digest[:2], digest)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(orig)
	bad[len(bad)/2] ^= 0x20
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(path, orig, 0o400); err != nil {
			t.Fatal(err)
		}
	}
}

// storedFiles counts the documents in the store.
func storedFiles(t *testing.T, dir string) int {
	n := 0
	filepath.Walk(filepath.Join(dir, "documents"), func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}

type docView struct {
	ID      string
	Signed  bool
	Current string `json:"current_sha256"`
}

func (w *world) documents(id string) []docView {
	w.t.Helper()
	var v struct{ Documents []docView }
	w.api("GET", "/api/v1/envelopes/"+id, nil).json(w.t, &v)
	return v.Documents
}

// TestTamperedDocument damages the stored first document on disk after the envelope is sent.
// The signer's download of it fails (500, logged as a digest mismatch) without serving the
// damaged bytes; when her code is verified, signing fails (503 signing_delayed, logged) and
// signs nothing — no document.signed, no new file, the documents unchanged — and retries keep
// failing. With the bytes restored, the retry signs. A signed version damaged in turn fails the
// same way for the signer and the sender.
func TestTamperedDocument(t *testing.T) {
	w := newWorld(t)
	logs := &tamperLog{}
	w.base.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w.restart()
	id := w.sentEnvelope(seedManifest())
	alice := w.party("+33612345678")
	if r := alice.open(w.lastMailTo("alice@example.org").Link()); r.Status != http.StatusOK {
		t.Fatalf("open: %d %s", r.Status, r.Body)
	}
	docs := w.documents(id)
	first := docs[0].Current
	restore := damage(t, w.dir, first)
	if _, err := w.svc.Documents().Get(first); !errors.Is(err, ceremony.ErrCorrupt) {
		t.Fatalf("reading the damaged document: %v, want ErrCorrupt", err)
	}

	// The signer's download.
	r := alice.get("/s/api/documents/1")
	if r.Status != http.StatusInternalServerError || r.errCode() != ceremony.CodeDocumentDamaged || bytes.Contains(r.Body, []byte("%PDF")) {
		t.Fatalf("download of a damaged document: %d %.200s", r.Status, r.Body)
	}
	if !strings.Contains(logs.String(), ceremony.ErrCorrupt.Error()) || !strings.Contains(logs.String(), first) {
		t.Fatalf("the damaged document is not logged as such:\n%s", logs.String())
	}
	if r := alice.get("/s/api/documents/2"); r.Status != http.StatusConflict || r.errCode() != ceremony.CodeDocumentLocked {
		t.Fatalf("document 2: %d %s", r.Status, r.Body)
	}

	// Signing: reading pages does not open the file; the signature does, and fails.
	alice.readAll(map[string]string{"alice_city": "Lyon", "alice_iban": "FR123456789012"})
	if r := alice.consent(); r.Status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	files := storedFiles(t, w.dir)
	logged := len(logs.String())
	r = alice.post("/s/api/code/verify", map[string]string{"code": w.sms.LastCodeFor(alice.phone)})
	if r.Status != http.StatusServiceUnavailable || r.errCode() != "signing_delayed" {
		t.Fatalf("verify with a damaged document: %d %s", r.Status, r.Body)
	}
	if l := logs.String()[logged:]; !strings.Contains(l, "signing failed") || !strings.Contains(l, ceremony.ErrCorrupt.Error()) {
		t.Fatalf("the signing failure is not logged with its cause:\n%s", l)
	}
	signedNothing := func(when string) {
		t.Helper()
		tl, _ := w.svc.Timeline(context.Background(), id)
		for _, e := range tl {
			// No certificate either: the documents are checked before one is issued.
			if e.Event.Type == ceremony.EvDocumentSigned || e.Event.Type == ceremony.EvSignerCompleted || e.Event.Type == ceremony.EvCertificateIssued {
				t.Fatalf("%s: %s recorded", when, e.Event.Type)
			}
		}
		for i, d := range w.documents(id) {
			if d.Signed || d.Current != docs[i].Current {
				t.Fatalf("%s: document %s changed: %+v", when, d.ID, d)
			}
		}
		if n := storedFiles(t, w.dir); n != files {
			t.Fatalf("%s: %d files stored, %d before", when, n, files)
		}
		if st := alice.state(); st.Signer.Status != ceremony.SignerSigning {
			t.Fatalf("%s: alice is %s", when, st.Signer.Status)
		}
		if n := w.mailsTo("bob@example.org"); n != 0 {
			t.Fatalf("%s: bob was invited", when)
		}
	}
	signedNothing("after the code")
	// The scheduler's retry fails the same way.
	if err := w.svc.RunDue(context.Background()); !errors.Is(err, ceremony.ErrCorrupt) {
		t.Fatalf("retry over a damaged document: %v, want ErrCorrupt", err)
	}
	signedNothing("after a retry")

	// Restored, the retry signs both documents and invites Bob.
	restore()
	if err := w.svc.RunDue(context.Background()); err != nil {
		t.Fatalf("retry over the restored document: %v", err)
	}
	if st := alice.state(); st.Signer.Status != ceremony.SignerSigned {
		t.Fatalf("alice is %s after the restored retry", st.Signer.Status)
	}
	if n := w.mailsTo("bob@example.org"); n != 1 {
		t.Fatalf("bob got %d invitations", n)
	}

	// A signed version damaged in turn: the signer's and the sender's downloads fail.
	signed := w.documents(id)[0]
	if !signed.Signed || signed.Current == first {
		t.Fatalf("document 1 after signing: %+v", signed)
	}
	damage(t, w.dir, signed.Current)
	if r := alice.get("/s/api/documents/1"); r.Status != http.StatusInternalServerError || bytes.Contains(r.Body, []byte("%PDF")) {
		t.Fatalf("signer's download of a damaged signed document: %d %.200s", r.Status, r.Body)
	}
	if r := w.api("GET", "/api/v1/envelopes/"+id+"/documents/"+signed.ID, nil); r.Status != http.StatusInternalServerError || bytes.Contains(r.Body, []byte("%PDF")) {
		t.Fatalf("sender's download of a damaged signed document: %d %.200s", r.Status, r.Body)
	}
}
