package ceremony_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
)

// TestDocStoreChecksEveryRead stores a document, then damages the stored file on disk in
// several ways: every read afterwards fails with ErrCorrupt (never returning the damaged bytes),
// a missing file is os.ErrNotExist, and storing the same bytes again does not hide the damage.
func TestDocStoreChecksEveryRead(t *testing.T) {
	dir := t.TempDir()
	s, err := ceremony.NewDocStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	pdf := ceremonytest.MinimalPDF(2, "Compromis")
	digest, err := s.Put(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if digest != ceremony.Digest(pdf) {
		t.Fatalf("digest %s, want %s", digest, ceremony.Digest(pdf))
	}
	path := filepath.Join(dir, digest[:2], digest)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stored file: %v", err)
	}
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("stored file mode %v, want read-only 0400", fi.Mode().Perm())
	}
	if b, err := s.Get(digest); err != nil || !bytes.Equal(b, pdf) {
		t.Fatalf("get: %v", err)
	}
	if again, err := s.Put(pdf); err != nil || again != digest {
		t.Fatalf("second put: %s %v", again, err)
	}

	damage := map[string][]byte{
		"one byte flipped": func() []byte { b := bytes.Clone(pdf); b[len(b)/2] ^= 1; return b }(),
		"truncated":        pdf[:len(pdf)-1],
		"appended":         append(bytes.Clone(pdf), '\n'),
		"emptied":          {},
		"another document": ceremonytest.MinimalPDF(2, "Autre"),
	}
	for name, bad := range damage {
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := s.Get(digest)
		if !errors.Is(err, ceremony.ErrCorrupt) || b != nil {
			t.Errorf("%s: get returned %d bytes, err %v; want ErrCorrupt", name, len(b), err)
		}
		if errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a damaged document reported as missing", name)
		}
		// Putting the right bytes again does not silently accept the damaged file.
		if _, err := s.Put(pdf); !errors.Is(err, ceremony.ErrCorrupt) {
			t.Errorf("%s: put over a damaged file: %v, want ErrCorrupt", name, err)
		}
	}

	// Restored bytes read again.
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := s.Get(digest); err != nil || !bytes.Equal(b, pdf) {
		t.Fatalf("restored: %v", err)
	}
	// Missing and malformed addresses.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(digest); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ceremony.ErrCorrupt) {
		t.Errorf("missing: %v, want os.ErrNotExist", err)
	}
	for _, bad := range []string{"", "../../etc/passwd", digest[:63], digest + "0", "G" + digest[1:], "AB" + digest[2:]} {
		if _, err := s.Get(bad); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("get %q: %v, want os.ErrNotExist", bad, err)
		}
	}
	// Put after the removal stores the document again, and no temporary file is left behind.
	if again, err := s.Put(pdf); err != nil || again != digest {
		t.Fatalf("put after removal: %s %v", again, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 || entries[0].Name() != digest {
		t.Errorf("directory holds %v", entries)
	}
}
