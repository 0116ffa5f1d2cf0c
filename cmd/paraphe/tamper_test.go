package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/ledger/verify"
)

// buildParaphe builds the real paraphe binary. A missing go tool fails the test.
func buildParaphe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "paraphe")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/paraphe/paraphe/cmd/paraphe").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serving is "paraphe serve" running as a process on a data directory.
type serving struct {
	base string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func serveData(t *testing.T, bin, dir, addr string) *serving {
	t.Helper()
	s := &serving{base: "http://" + addr, logs: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, "serve", "--data", dir, "--listen", addr, "--metrics-listen", "off")
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("paraphe serve did not come up: %v\n%s", err, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit, so that Badger is closed.
func (s *serving) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("paraphe serve exited with %v\n%s", err, s.logs)
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

// checkpointSize waits until the published checkpoint covers at least size entries.
func checkpointSize(t *testing.T, s *serving, key string, size uint64) uint64 {
	t.Helper()
	v, err := verify.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		signed := httpGet(t, s.base+"/ledger/checkpoint")
		origin, _, _ := strings.Cut(string(signed), "\n")
		cp, err := verify.OpenCheckpoint(signed, v, origin)
		if err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		if cp.Size >= size {
			return cp.Size
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint stuck at %d, want %d", cp.Size, size)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ledgerLeaves(t *testing.T, s *serving, size uint64) [][]byte {
	t.Helper()
	var resp struct {
		Entries []struct {
			Leaf []byte `json:"leaf"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(httpGet(t, s.base+"/ledger/entries?start=0&end="+strconv.FormatUint(size, 10)), &resp); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range resp.Entries {
		out = append(out, e.Leaf)
	}
	return out
}

// editLedger rewrites, directly in the ledger's Badger database of an appliance data directory
// (the appliance stopped), every value under a key with the given tag that contains old,
// replacing old by forged; it returns how many records it rewrote.
func editLedger(t *testing.T, dataDir string, tag byte, old, forged []byte) int {
	t.Helper()
	db, err := badger.Open(badgerstore.BadgerOptions(filepath.Join(dataDir, "ledger"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	edited := 0
	err = db.Update(func(txn *badger.Txn) error {
		// The appliance uses badgerstore's default key prefix, "trillian/".
		it := txn.NewIterator(badger.IteratorOptions{Prefix: append([]byte("trillian/"), tag)})
		defer it.Close()
		type kv struct{ k, v []byte }
		var edits []kv
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if bytes.Contains(v, old) {
				edits = append(edits, kv{it.Item().KeyCopy(nil), bytes.Replace(v, old, forged, 1)})
			}
		}
		for _, e := range edits {
			if err := txn.Set(e.k, e.v); err != nil {
				return err
			}
		}
		edited = len(edits)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return edited
}

// paraphe runs the binary and returns its output and exit code.
func runParaphe(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// Issue 4, tamper evidence, with the real binaries: an appliance records events in its ledger
// (appliance.initialized, then appliance.started at each start) and stops; someone with the
// disk edits the ledger's Badger database directly; the appliance serves again (appending one
// more appliance.started) and the auditor's commands say what is true.
//
//   - leaf: the stored value of entry 1 (its L record) is backdated by a year. `ledger audit`
//     recomputes the root from the entries served and exits 1 saying that they do not match
//     the signed checkpoint; `ledger prove --index 1` exits 1 too.
//   - tile-node: the hash of entries 0–1 that Trillian's storage/cache keeps in the partial
//     Merkle tile (an internal node of the N record) is replaced. Trillian's sequencer checks
//     the tile against the signed root before extending the tree and refuses, so no root is
//     ever signed over the forged node: the checkpoint stays where it was, the entries still
//     match it and the audit passes; the forgery shows in the proofs served from the tile:
//     `ledger prove --index 2`, whose path is that node, exits 1.
//   - tile-leaf: the hash of entry 1 in the tile is replaced. No root is computed from it (the
//     tile's internal node above it is), so the tree grows, entries and signed roots agree and
//     the audit, which reads no tiles, passes; `ledger prove --index 0`, whose path holds
//     entry 1's hash, exits 1.
func TestLedgerAuditDetectsBadgerTampering(t *testing.T) {
	bin := buildParaphe(t)
	hashChildren := func(l, r []byte) []byte {
		h := sha256.Sum256(append(append([]byte{1}, l...), r...))
		return h[:]
	}
	flip := func(b []byte) []byte {
		b = bytes.Clone(b)
		b[0] ^= 0xff
		return b
	}
	for _, tc := range []struct {
		name       string
		tag        byte
		edit       func(leaves [][]byte) (old, forged []byte)
		auditFails bool   // else the audit passes: entries and signed roots still agree
		grows      bool   // the restarted appliance extends the tree
		prove      string // the index whose inclusion proof fails
	}{
		{"leaf", 'L', func(leaves [][]byte) ([]byte, []byte) {
			if !bytes.HasPrefix(leaves[1], []byte(`{"at":"2026`)) {
				t.Fatalf("test setup: leaf %s does not start with this year", leaves[1])
			}
			return leaves[1], bytes.Replace(leaves[1], []byte(`{"at":"2026`), []byte(`{"at":"2025`), 1)
		}, true, true, "1"},
		{"tile-node", 'N', func(leaves [][]byte) ([]byte, []byte) {
			h := hashChildren(verify.LeafHash(leaves[0]), verify.LeafHash(leaves[1]))
			return h, flip(h)
		}, false, false, "2"},
		{"tile-leaf", 'N', func(leaves [][]byte) ([]byte, []byte) {
			h := verify.LeafHash(leaves[1])
			return h, flip(h)
		}, false, true, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String() // the same address, hence the same ledger origin, throughout
			ln.Close()
			s := serveData(t, bin, dir, addr)
			key := strings.TrimSpace(string(httpGet(t, s.base+"/ledger/key")))
			checkpointSize(t, s, key, 2) // appliance.initialized, appliance.started
			s.stop(t)
			s = serveData(t, bin, dir, addr) // one more appliance.started
			size := checkpointSize(t, s, key, 3)
			if out, errOut, code := runParaphe(t, bin, "ledger", "audit", "--url", s.base, "--key", key); code != 0 || !strings.Contains(out, fmt.Sprintf("audit OK: %d entries", size)) {
				t.Fatalf("audit before tampering: exit %d\n%s%s", code, out, errOut)
			}
			for i := range size {
				if out, errOut, code := runParaphe(t, bin, "ledger", "prove", "--url", s.base, "--key", key, "--index", strconv.FormatUint(i, 10)); code != 0 {
					t.Fatalf("prove --index %d before tampering: exit %d\n%s%s", i, code, out, errOut)
				}
			}
			leaves := ledgerLeaves(t, s, size)
			s.stop(t)

			old, forged := tc.edit(leaves)
			if n := editLedger(t, dir, tc.tag, old, forged); n != 1 {
				t.Fatalf("tampering: %d %c records edited, want 1", n, tc.tag)
			}

			s = serveData(t, bin, dir, addr)
			defer s.stop(t)
			if tc.grows {
				checkpointSize(t, s, key, size+1) // the restart's appliance.started, signed
			}
			out, errOut, code := runParaphe(t, bin, "ledger", "audit", "--url", s.base, "--key", key)
			switch {
			case tc.auditFails && (code != 1 || !strings.Contains(errOut, "do not match the signed checkpoint")):
				t.Fatalf("audit after editing a %s in Badger: exit %d\n%s%s", tc.name, code, out, errOut)
			case !tc.auditFails && code != 0:
				t.Fatalf("audit after editing a %s in Badger: exit %d, yet no signed root covers the edit\n%s%s", tc.name, code, out, errOut)
			}
			out, errOut, code = runParaphe(t, bin, "ledger", "prove", "--url", s.base, "--key", key, "--index", tc.prove)
			if code != 1 || !strings.Contains(errOut, "inclusion of index "+tc.prove) {
				t.Fatalf("prove --index %s after editing a %s in Badger: exit %d\n%s%s", tc.prove, tc.name, code, out, errOut)
			}
			if !tc.grows {
				time.Sleep(2 * time.Second)
				if got := checkpointSize(t, s, key, 0); got != size {
					t.Fatalf("the appliance extended the tree from a forged tile: checkpoint size %d, was %d", got, size)
				}
			}
		})
	}
}

// TestServeDisablesCoreDumps: the running `paraphe serve` has a core-file size limit of zero,
// so its keys never land in a core dump.
func TestServeDisablesCoreDumps(t *testing.T) {
	bin := buildParaphe(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := serveData(t, bin, t.TempDir(), addr)
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", s.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the process limits: %v", err)
	}
	for _, line := range strings.Split(string(limits), "\n") {
		if strings.HasPrefix(line, "Max core file size") {
			if f := strings.Fields(line); len(f) < 6 || f[4] != "0" || f[5] != "0" {
				t.Fatalf("paraphe serve: %q, want a limit of 0", line)
			}
			s.stop(t)
			return
		}
	}
	t.Fatalf("no core-file limit in /proc/PID/limits:\n%s", limits)
}
