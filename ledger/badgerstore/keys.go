package badgerstore

import (
	"encoding/binary"
	"fmt"
)

// Key tags. See the package documentation for the layout.
const (
	tagTree    = 'T'
	tagLeaf    = 'L'
	tagQueue   = 'Q'
	tagSeq     = 'S'
	tagMerkle  = 'M'
	tagTile    = 'N'
	tagRoot    = 'R'
	tagHead    = 'H'
	tagCounter = 'C'
)

// dataTags are the per-tree tags removed by HardDeleteTree, in addition to tagTree.
var dataTags = []byte{tagLeaf, tagQueue, tagSeq, tagMerkle, tagTile, tagRoot, tagHead}

// keys builds the keys of one store; it holds only the immutable prefix.
type keys struct {
	prefix []byte
}

// treePrefix returns prefix|tag|treeID, the common start of every key of that kind for a tree.
func (k keys) treePrefix(tag byte, treeID int64) []byte {
	b := make([]byte, 0, len(k.prefix)+1+8+40)
	b = append(b, k.prefix...)
	b = append(b, tag)
	return binary.BigEndian.AppendUint64(b, uint64(treeID))
}

func (k keys) tagPrefix(tag byte) []byte {
	b := make([]byte, 0, len(k.prefix)+1)
	b = append(b, k.prefix...)
	return append(b, tag)
}

func (k keys) tree(treeID int64) []byte { return k.treePrefix(tagTree, treeID) }

func (k keys) leaf(treeID int64, identityHash []byte) []byte {
	return append(k.treePrefix(tagLeaf, treeID), identityHash...)
}

func (k keys) queue(treeID int64, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(k.treePrefix(tagQueue, treeID), seq)
}

func (k keys) seq(treeID int64, index int64) []byte {
	return binary.BigEndian.AppendUint64(k.treePrefix(tagSeq, treeID), uint64(index))
}

func (k keys) merkle(treeID int64, merkleHash []byte, index int64) []byte {
	b := append(k.treePrefix(tagMerkle, treeID), merkleHash...)
	return binary.BigEndian.AppendUint64(b, uint64(index))
}

func (k keys) merklePrefix(treeID int64, merkleHash []byte) []byte {
	return append(k.treePrefix(tagMerkle, treeID), merkleHash...)
}

func (k keys) tile(treeID int64, tileID []byte) []byte {
	return append(k.treePrefix(tagTile, treeID), tileID...)
}

func (k keys) root(treeID int64, timestampNanos uint64) []byte {
	return binary.BigEndian.AppendUint64(k.treePrefix(tagRoot, treeID), timestampNanos)
}

func (k keys) head(treeID int64) []byte { return k.treePrefix(tagHead, treeID) }

func (k keys) counter() []byte { return k.tagPrefix(tagCounter) }

// trailingUint64 decodes the big-endian integer that ends key, after the given prefix length.
// It is used for the queue sequence, the leaf index of S and M keys and the root timestamp.
func trailingUint64(key []byte, prefixLen int) (uint64, error) {
	if len(key) != prefixLen+8 {
		return 0, fmt.Errorf("badgerstore: key %x has length %d, want %d", key, len(key), prefixLen+8)
	}
	return binary.BigEndian.Uint64(key[prefixLen:]), nil
}

// treeIDFromKey decodes the tree ID of a T key.
func (k keys) treeIDFromKey(key []byte) (int64, error) {
	v, err := trailingUint64(key, len(k.prefix)+1)
	if err != nil {
		return 0, err
	}
	return int64(v), nil
}
