package ledger

import (
	"net/url"
	"testing"
)

// The fuzz targets check the parsers' contract for any query string: no panic, and what is
// accepted is within the tree.

func FuzzEntriesQuery(f *testing.F) {
	for _, s := range []string{"start=0&end=5", "start=3&end=2", "start=-1&end=1", "start=0&end=99999999999999999999", "start=0&end=5&end=6", "x=1"} {
		f.Add(s, uint64(5))
	}
	f.Fuzz(func(t *testing.T, raw string, size uint64) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		start, end, err := entriesQuery(q, size)
		if err != nil {
			return
		}
		if start >= end || end > size || end-start > MaxEntriesPage {
			t.Fatalf("entriesQuery(%q, %d) accepted [%d, %d)", raw, size, start, end)
		}
	})
}

func FuzzInclusionQuery(f *testing.F) {
	for _, s := range []string{"index=0&size=5", "index=5&size=5", "hash=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=&size=5", "hash=AAAA&size=1", "index=1&hash=x&size=2"} {
		f.Add(s, uint64(5))
	}
	f.Fuzz(func(t *testing.T, raw string, size uint64) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		index, hash, treeSize, err := inclusionQuery(q, size)
		if err != nil {
			return
		}
		if treeSize == 0 || treeSize > size || (hash == nil && index >= treeSize) || (hash != nil && len(hash) != 32) {
			t.Fatalf("inclusionQuery(%q, %d) accepted index %d, hash %x, size %d", raw, size, index, hash, treeSize)
		}
	})
}

func FuzzConsistencyQuery(f *testing.F) {
	for _, s := range []string{"from=0&to=5", "from=3&to=2", "from=1&to=6", "from=&to=1"} {
		f.Add(s, uint64(5))
	}
	f.Fuzz(func(t *testing.T, raw string, size uint64) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		from, to, err := consistencyQuery(q, size)
		if err != nil {
			return
		}
		if from > to || to > size {
			t.Fatalf("consistencyQuery(%q, %d) accepted %d → %d", raw, size, from, to)
		}
	})
}
