package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// HashSize is the size of every hash in the ledger (SHA-256).
const HashSize = 32

// MaxCheckpointSize bounds the size of a signed checkpoint note this package parses.
const MaxCheckpointSize = 16 << 10

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its size and its root.
type Checkpoint struct {
	Origin     string
	Size       uint64
	Hash       []byte   // RFC 6962 root hash of the first Size leaves
	Extensions []string // optional extension lines after the root hash, in order
}

// Text returns the checkpoint body as C2SP tlog-checkpoint specifies it: origin, decimal size
// and base64 root hash, one per line, then any extension lines.
func (c Checkpoint) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash))
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseCheckpointText parses a checkpoint body. It is strict: the size is a canonical decimal
// number, the hash a canonical base64 encoding of 32 bytes, the origin and every extension line
// non-empty, and the text ends with a newline.
func ParseCheckpointText(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, errors.New("checkpoint: text does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("checkpoint: %d lines, want at least origin, size and root hash", len(lines))
	}
	var c Checkpoint
	c.Origin = lines[0]
	if c.Origin == "" {
		return Checkpoint{}, errors.New("checkpoint: empty origin line")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("checkpoint: size line %q is not a canonical decimal number", lines[1])
	}
	c.Size = size
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != HashSize || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return Checkpoint{}, fmt.Errorf("checkpoint: root hash line %q is not the base64 of %d bytes", lines[2], HashSize)
	}
	c.Hash = h
	for i, e := range lines[3:] {
		if e == "" {
			return Checkpoint{}, fmt.Errorf("checkpoint: extension line %d is empty", i+1)
		}
		c.Extensions = append(c.Extensions, e)
	}
	return c, nil
}

// NewVerifier parses a note verifier key (name+hash+base64, as served at GET /ledger/key).
func NewVerifier(key string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: verifier key %q: %w", key, err)
	}
	return v, nil
}

// OpenCheckpoint verifies a signed checkpoint note with the log's verifier and returns its
// body. The note must carry a valid signature by v; signatures by other keys (witness
// cosignatures) are allowed and ignored. When origin is not empty the checkpoint's origin must
// equal it.
func OpenCheckpoint(signed []byte, v note.Verifier, origin string) (Checkpoint, error) {
	if len(signed) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("checkpoint: %d bytes, more than the limit of %d", len(signed), MaxCheckpointSize)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: signature by %s does not verify: %w", v.Name(), err)
	}
	ok := false
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			ok = true
		}
	}
	if !ok {
		return Checkpoint{}, fmt.Errorf("checkpoint: no signature by %s", v.Name())
	}
	c, err := ParseCheckpointText(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if origin != "" && c.Origin != origin {
		return Checkpoint{}, fmt.Errorf("checkpoint: origin %q, want %q", c.Origin, origin)
	}
	return c, nil
}

// SameCheckpoint reports whether a and b state the same origin, size and root hash.
func SameCheckpoint(a, b Checkpoint) bool {
	return a.Origin == b.Origin && a.Size == b.Size && bytes.Equal(a.Hash, b.Hash)
}
