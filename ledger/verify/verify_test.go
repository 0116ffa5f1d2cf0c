package verify

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

func TestTreeMatchesReferenceRoots(t *testing.T) {
	// RFC 6962 test vectors shipped with transparency-dev/merkle.
	leaves := testonly.LeafInputs()
	roots := testonly.RootHashes()
	tr := NewTree()
	if !bytes.Equal(tr.Root(), testonly.EmptyRootHash()) {
		t.Fatalf("empty root %x", tr.Root())
	}
	for i, l := range leaves {
		tr.Append(l)
		if !bytes.Equal(tr.Root(), roots[i+1]) {
			t.Fatalf("root after %d leaves: %x, want %x", i+1, tr.Root(), roots[i+1])
		}
		if !bytes.Equal(RootFromLeaves(leaves[:i+1]), roots[i+1]) {
			t.Fatalf("RootFromLeaves(%d) differs", i+1)
		}
	}
}

func referenceTree(n int) (*testonly.Tree, [][]byte) {
	ref := testonly.New(rfc6962.DefaultHasher)
	var leaves [][]byte
	for i := 0; i < n; i++ {
		l := []byte(fmt.Sprintf("leaf %d", i))
		leaves = append(leaves, l)
		ref.AppendData(l)
	}
	return ref, leaves
}

func TestInclusionAndConsistency(t *testing.T) {
	ref, leaves := referenceTree(70)
	cp := func(size uint64) Checkpoint { return Checkpoint{Origin: "o", Size: size, Hash: ref.HashAt(size)} }
	for size := uint64(1); size <= 70; size += 7 {
		for idx := uint64(0); idx < size; idx += 3 {
			p, err := ref.InclusionProof(idx, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := Inclusion(cp(size), idx, LeafHash(leaves[idx]), p); err != nil {
				t.Fatalf("Inclusion(%d, %d): %v", idx, size, err)
			}
			if err := Inclusion(cp(size), idx, LeafHash([]byte("forged")), p); err == nil {
				t.Fatalf("Inclusion of a forged leaf at %d in %d verified", idx, size)
			}
			if size > 1 {
				if err := Inclusion(cp(size), (idx+1)%size, LeafHash(leaves[idx]), p); err == nil {
					t.Fatalf("Inclusion at the wrong index verified (%d in %d)", idx, size)
				}
			}
		}
		for older := uint64(0); older <= size; older += 5 {
			p, err := ref.ConsistencyProof(older, size)
			if err != nil {
				t.Fatal(err)
			}
			if older == 0 {
				p = nil
			}
			if err := Consistency(cp(older), cp(size), p); err != nil {
				t.Fatalf("Consistency(%d, %d): %v", older, size, err)
			}
			if older > 0 && older < size {
				forked := cp(older)
				forked.Hash = LeafHash([]byte("fork"))
				if err := Consistency(forked, cp(size), p); err == nil {
					t.Fatalf("Consistency from a forked %d to %d verified", older, size)
				}
			}
		}
	}
	if err := Consistency(cp(10), cp(5), nil); err == nil {
		t.Fatal("consistency from a bigger tree verified")
	}
	other := cp(10)
	other.Origin = "p"
	if err := Consistency(cp(10), other, nil); err == nil {
		t.Fatal("consistency across origins verified")
	}
	if err := Inclusion(cp(10), 10, LeafHash(leaves[0]), nil); err == nil {
		t.Fatal("inclusion at index = size verified")
	}
	if err := Inclusion(cp(10), 0, LeafHash(leaves[0]), [][]byte{{1, 2}}); err == nil {
		t.Fatal("a proof with a short hash verified")
	}
}

func TestTreeMatchesCheckpoint(t *testing.T) {
	ref, leaves := referenceTree(33)
	tr := NewTree()
	for _, l := range leaves {
		tr.Append(l)
	}
	good := Checkpoint{Origin: "o", Size: 33, Hash: ref.HashAt(33)}
	if err := tr.MatchesCheckpoint(good); err != nil {
		t.Fatal(err)
	}
	if err := tr.MatchesCheckpoint(Checkpoint{Origin: "o", Size: 32, Hash: ref.HashAt(32)}); err == nil {
		t.Fatal("a tree matched a checkpoint of another size")
	}
	leaves[7] = []byte("rewritten")
	if err := treeOf(leaves).MatchesCheckpoint(good); err == nil {
		t.Fatal("a rewritten leaf matched the checkpoint")
	}
}

func treeOf(leaves [][]byte) *Tree {
	tr := NewTree()
	for _, l := range leaves {
		tr.Append(l)
	}
	return tr
}

func keys(t testing.TB, name string) (note.Signer, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestOpenCheckpoint(t *testing.T) {
	s, v := keys(t, "example.org/log")
	ws, _ := keys(t, "witness.example")
	_, other := keys(t, "example.org/log")
	c := Checkpoint{Origin: "example.org/log", Size: 5, Hash: LeafHash([]byte("x"))}
	msg, err := note.Sign(&note.Note{Text: c.Text()}, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenCheckpoint(msg, v, "example.org/log")
	if err != nil || !SameCheckpoint(got, c) {
		t.Fatalf("OpenCheckpoint = %+v, %v", got, err)
	}
	cosigned, err := note.Sign(&note.Note{Text: c.Text()}, s, ws)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(cosigned, v, ""); err != nil {
		t.Fatalf("a witness cosignature broke verification: %v", err)
	}
	if _, err := OpenCheckpoint(msg, other, ""); err == nil {
		t.Fatal("verified with another key of the same name")
	}
	if _, err := OpenCheckpoint(msg, v, "other.org/log"); err == nil {
		t.Fatal("verified with the wrong origin")
	}
	tampered := bytes.Replace(msg, []byte("\n5\n"), []byte("\n6\n"), 1)
	if _, err := OpenCheckpoint(tampered, v, ""); err == nil {
		t.Fatal("verified a tampered size")
	}
}

func TestParseCheckpointText(t *testing.T) {
	h := LeafHash([]byte("x"))
	good := Checkpoint{Origin: "o", Size: 12, Hash: h, Extensions: []string{"ext one"}}
	c, err := ParseCheckpointText(good.Text())
	if err != nil || !SameCheckpoint(c, good) || len(c.Extensions) != 1 {
		t.Fatalf("ParseCheckpointText(%q) = %+v, %v", good.Text(), c, err)
	}
	hb := good.Text()[len("o\n12\n"):]
	hb = hb[:strings.IndexByte(hb, '\n')]
	for _, bad := range []string{
		"o\n12\n" + hb,
		"\n12\n" + hb + "\n",
		"o\n012\n" + hb + "\n",
		"o\n+12\n" + hb + "\n",
		"o\n-1\n" + hb + "\n",
		"o\n18446744073709551616\n" + hb + "\n",
		"o\n12\n" + hb[:len(hb)-1] + "\n",
		"o\n12\nAAAA\n",
		"o\n12\n" + hb + "\n\n",
		"o\n12\n",
	} {
		if _, err := ParseCheckpointText(bad); err == nil {
			t.Errorf("ParseCheckpointText(%q) succeeded", bad)
		}
	}
}

func FuzzParseCheckpointText(f *testing.F) {
	f.Add(Checkpoint{Origin: "o", Size: 12, Hash: make([]byte, 32)}.Text())
	f.Add("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nx\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCheckpointText(text)
		if err != nil {
			return
		}
		if c.Text() != text {
			t.Fatalf("ParseCheckpointText accepted %q, which re-encodes as %q", text, c.Text())
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "o")
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	msg, _ := note.Sign(&note.Note{Text: Checkpoint{Origin: "o", Size: 1, Hash: make([]byte, 32)}.Text()}, s)
	f.Add(msg)
	f.Add([]byte("o\n1\nAAAA\n\n— o abc\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := OpenCheckpoint(msg, v, "")
		if err != nil {
			return
		}
		if len(c.Hash) != HashSize || c.Origin == "" {
			t.Fatalf("accepted a malformed checkpoint %+v", c)
		}
	})
}
