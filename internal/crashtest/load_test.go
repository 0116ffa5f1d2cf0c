package crashtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

// TestKillUnderLoad runs the real binary with clients creating envelopes as fast as they can
// (each creation is acknowledged once its envelope.created event is durable) and SIGKILLs it at
// a random moment, 20 times. After each restart on the same data directory:
//   - every envelope whose creation was acknowledged exists, and its envelope.created event is
//     in the ledger (re-appended at start if the kill came before its sequencing), once;
//   - the ledger is consistent with every checkpoint published before the kill (the last one
//     the clients saw, and the one from before the load).
func TestKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and restarts the appliance many times")
	}
	const kills, clients = 20, 6
	a := newAppliance(t)
	// The front's per-address limits would turn the load into 429s.
	limits := []string{"PARAPHE_HTTP_RATE_LIMIT_API=100000", "PARAPHE_HTTP_RATE_LIMIT_CEREMONY=100000"}
	a.startWith(limits...)
	c := &checker{a: a}
	c.verifier = a.verifier()
	pdf := ceremonytest.MinimalPDF(1, "Load")
	acked := map[string]bool{}
	first := c.checkpoint()
	for k := 1; k <= kills; k++ {
		before := c.checkpoint()
		var mu sync.Mutex
		var last verify.Checkpoint // the latest checkpoint a client saw before the kill
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if id, ok := a.tryCreate(pdf); ok {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
					}
					if cp, ok := a.tryCheckpoint(c.verifier); ok {
						mu.Lock()
						if cp.Size > last.Size {
							last = cp
						}
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(50+rand.IntN(450)) * time.Millisecond)
		a.kill()
		close(stop)
		wg.Wait()
		a.startWith(limits...)
		step := fmt.Sprintf("kill %d", k)
		after := c.checkpoint()
		c.consistent(step+" (before the load)", before, after)
		c.consistent(step+" (last seen)", last, c.checkpoint())
		c.consistent(step+" (first)", first, c.checkpoint())
		a.allCreatedInLedger(t, c, step, acked)
		t.Logf("%s: %d envelopes acknowledged so far, ledger %d → %d leaves", step, len(acked), before.Size, after.Size)
	}
	if len(acked) < kills {
		t.Fatalf("only %d envelopes were acknowledged under load: the load did not run", len(acked))
	}
}

// tryCreate creates an envelope, reporting failure (the process may be dying) instead of
// failing the test.
func (a *appliance) tryCreate(pdf []byte) (string, bool) {
	manifest := map[string]any{
		"title":     "Load",
		"signers":   []map[string]any{{"id": "s", "name": "Camille Durand", "email": "signer@example.org", "phone": "+33612345678", "order": 1}},
		"documents": []map[string]any{{"id": "d", "file": "d.pdf"}},
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mb, _ := json.Marshal(manifest)
	pw, _ := mw.CreateFormField("manifest")
	pw.Write(mb)
	fw, _ := mw.CreateFormFile("file", "d.pdf")
	fw.Write(pdf)
	mw.Close()
	req, _ := http.NewRequest("POST", a.base+"/api/v1/envelopes", &b)
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := a.client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var v struct{ ID string }
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&v) != nil || v.ID == "" {
		return "", false
	}
	return v.ID, true
}

// tryCheckpoint fetches and verifies the latest checkpoint, reporting failure instead of
// failing the test.
func (a *appliance) tryCheckpoint(v note.Verifier) (verify.Checkpoint, bool) {
	resp, err := a.client.Get(a.base + "/ledger/checkpoint")
	if err != nil {
		return verify.Checkpoint{}, false
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		return verify.Checkpoint{}, false
	}
	origin, _, _ := bytes.Cut(b.Bytes(), []byte("\n"))
	cp, err := verify.OpenCheckpoint(b.Bytes(), v, string(origin))
	return cp, err == nil
}

// allCreatedInLedger waits (bounded) until the ledger holds one envelope.created event for
// every acknowledged envelope, and checks each envelope exists.
func (a *appliance) allCreatedInLedger(t *testing.T, c *checker, step string, acked map[string]bool) {
	t.Helper()
	for id := range acked {
		if st, b := a.api("GET", "/api/v1/envelopes/"+id, nil); st != http.StatusOK {
			t.Fatalf("%s: acknowledged envelope %s: %d %s", step, id, st, b)
		}
	}
	var missing []string
	for wait := time.Now().Add(30 * time.Second); ; {
		created := map[string]int{}
		for _, ev := range a.ledgerLeaves(t, c) {
			if ev.Type == event.EnvelopeCreated {
				created[ev.Envelope]++
			}
		}
		missing = missing[:0]
		for id := range acked {
			switch created[id] {
			case 0:
				missing = append(missing, id)
			case 1:
			default:
				t.Fatalf("%s: envelope %s has %d envelope.created events", step, id, created[id])
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(wait) {
			t.Fatalf("%s: %d acknowledged envelopes have no envelope.created event in the ledger, e.g. %s", step, len(missing), missing[0])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ledgerLeaves returns every event of the ledger under a verified checkpoint whose root the
// leaves hash to.
func (a *appliance) ledgerLeaves(t *testing.T, c *checker) []event.Event {
	t.Helper()
	cp := c.checkpoint()
	var leaves [][]byte
	for start := uint64(0); start < cp.Size; {
		st, b := a.do(a.client, "GET", fmt.Sprintf("/ledger/entries?start=%d&end=%d", start, cp.Size), nil, nil)
		var v struct{ Entries []struct{ Leaf string } }
		if st != http.StatusOK || json.Unmarshal(b, &v) != nil || len(v.Entries) == 0 {
			t.Fatalf("entries from %d: %d %s", start, st, b)
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
		t.Fatal("the ledger's entries do not hash to its checkpoint")
	}
	out := make([]event.Event, 0, len(leaves))
	for _, leaf := range leaves {
		ev, err := event.Parse(leaf)
		if err != nil {
			t.Fatalf("a leaf is not a valid event: %v", err)
		}
		out = append(out, ev)
	}
	return out
}
