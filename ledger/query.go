package ledger

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"

	"github.com/paraphe/paraphe/ledger/verify"
)

// MaxEntriesPage is the most entries one GET /ledger/entries answers; a longer range is cut
// short and the client asks again from where the answer ended.
const MaxEntriesPage = 1000

// The query parsers below are pure: they check a request against the tree size of the latest
// published checkpoint and return a message fit for a 400 answer.

// entriesQuery parses start and end for GET /ledger/entries, returning start ≤ index < end with
// at most MaxEntriesPage entries.
func entriesQuery(q url.Values, size uint64) (start, end uint64, err error) {
	if err := onlyParams(q, "start", "end"); err != nil {
		return 0, 0, err
	}
	if start, err = uintParam(q, "start"); err != nil {
		return 0, 0, err
	}
	if end, err = uintParam(q, "end"); err != nil {
		return 0, 0, err
	}
	switch {
	case start >= end:
		return 0, 0, fmt.Errorf("start=%d must be below end=%d", start, end)
	case end > size:
		return 0, 0, fmt.Errorf("end=%d is beyond the tree size %d of the latest checkpoint", end, size)
	}
	if end-start > MaxEntriesPage {
		end = start + MaxEntriesPage
	}
	return start, end, nil
}

// inclusionQuery parses GET /ledger/proof/inclusion: either index and size, or hash and size.
func inclusionQuery(q url.Values, size uint64) (index uint64, hash []byte, treeSize uint64, err error) {
	if err := onlyParams(q, "index", "hash", "size"); err != nil {
		return 0, nil, 0, err
	}
	if treeSize, err = uintParam(q, "size"); err != nil {
		return 0, nil, 0, err
	}
	if treeSize == 0 || treeSize > size {
		return 0, nil, 0, fmt.Errorf("size=%d must be from 1 to the tree size %d of the latest checkpoint", treeSize, size)
	}
	_, hasIndex := q["index"]
	_, hasHash := q["hash"]
	switch {
	case hasIndex == hasHash:
		return 0, nil, 0, fmt.Errorf("give exactly one of index and hash")
	case hasHash:
		if hash, err = hashParam(q, "hash"); err != nil {
			return 0, nil, 0, err
		}
		return 0, hash, treeSize, nil
	}
	if index, err = uintParam(q, "index"); err != nil {
		return 0, nil, 0, err
	}
	if index >= treeSize {
		return 0, nil, 0, fmt.Errorf("index=%d must be below size=%d", index, treeSize)
	}
	return index, nil, treeSize, nil
}

// consistencyQuery parses GET /ledger/proof/consistency: 0 ≤ from ≤ to ≤ size.
func consistencyQuery(q url.Values, size uint64) (from, to uint64, err error) {
	if err := onlyParams(q, "from", "to"); err != nil {
		return 0, 0, err
	}
	if from, err = uintParam(q, "from"); err != nil {
		return 0, 0, err
	}
	if to, err = uintParam(q, "to"); err != nil {
		return 0, 0, err
	}
	switch {
	case from > to:
		return 0, 0, fmt.Errorf("from=%d must not be above to=%d", from, to)
	case to > size:
		return 0, 0, fmt.Errorf("to=%d is beyond the tree size %d of the latest checkpoint", to, size)
	}
	return from, to, nil
}

func onlyParams(q url.Values, names ...string) error {
	for k, vs := range q {
		known := false
		for _, n := range names {
			known = known || k == n
		}
		if !known {
			return fmt.Errorf("unknown parameter %q", k)
		}
		if len(vs) != 1 {
			return fmt.Errorf("parameter %q given %d times", k, len(vs))
		}
	}
	return nil
}

// uintParam parses a required canonical decimal number: digits only, no sign, no leading zero.
func uintParam(q url.Values, name string) (uint64, error) {
	vs, ok := q[name]
	if !ok || len(vs) != 1 {
		return 0, fmt.Errorf("parameter %q is required", name)
	}
	s := vs[0]
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != s || n > 1<<63-1 {
		return 0, fmt.Errorf("parameter %s=%.40q is not a decimal number from 0 to 2^63-1", name, s)
	}
	return n, nil
}

// hashParam parses a required leaf hash in base64, standard or URL-safe alphabet, padded.
func hashParam(q url.Values, name string) ([]byte, error) {
	s := q.Get(name)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		if h, err := enc.Strict().DecodeString(s); err == nil && len(h) == verify.HashSize {
			return h, nil
		}
	}
	return nil, fmt.Errorf("parameter %s=%.60q is not the base64 of a %d-byte hash (percent-encode + and /, or use the URL-safe alphabet)", name, s, verify.HashSize)
}
