package ceremony

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// DocStore keeps PDFs content-addressed under a directory: a file's name is the SHA-256 of its
// bytes. Files are written once (to a temporary file, fsynced, renamed, directory fsynced) and
// never modified; every read checks the digest.
type DocStore struct {
	dir string
}

// ErrCorrupt means a stored document no longer matches its digest.
var ErrCorrupt = errors.New("stored document does not match its digest")

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// NewDocStore returns a store rooted at dir, creating it if needed.
func NewDocStore(dir string) (*DocStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("document store %s: %w", dir, err)
	}
	return &DocStore{dir: dir}, nil
}

// Digest returns the hex SHA-256 of b, the address of b in the store.
func Digest(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

func (s *DocStore) path(digest string) string {
	return filepath.Join(s.dir, digest[:2], digest)
}

// Put stores b durably and returns its digest. Storing the same bytes twice is a no-op.
func (s *DocStore) Put(b []byte) (string, error) {
	digest := Digest(b)
	p := s.path(digest)
	if _, err := s.Get(digest); err == nil {
		return digest, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store document %s: %w", digest, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("store document %s: %w", digest, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return "", fmt.Errorf("store document %s: %w", digest, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("store document %s: fsync: %w", digest, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("store document %s: %w", digest, err)
	}
	if err := os.Chmod(tmp, 0o400); err != nil {
		return "", fmt.Errorf("store document %s: %w", digest, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("store document %s: %w", digest, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", fmt.Errorf("store document %s: %w", digest, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return "", fmt.Errorf("store document %s: fsync directory: %w", digest, err)
	}
	return digest, nil
}

// Get returns the document with this digest, checking that its bytes still match. A missing
// document is an error wrapping os.ErrNotExist; a damaged one wraps ErrCorrupt.
func (s *DocStore) Get(digest string) ([]byte, error) {
	if !hexDigest.MatchString(digest) {
		return nil, fmt.Errorf("document %q: not a SHA-256 digest: %w", digest, os.ErrNotExist)
	}
	b, err := os.ReadFile(s.path(digest))
	if err != nil {
		return nil, fmt.Errorf("document %s: %w", digest, err)
	}
	if Digest(b) != digest {
		return nil, fmt.Errorf("document %s: %w", digest, ErrCorrupt)
	}
	return b, nil
}
