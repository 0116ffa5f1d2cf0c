package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Stored values other than protos use a small versioned binary encoding: one version byte,
// then fixed-width big-endian integers and uvarint-length-prefixed byte strings. Decoding
// never panics and rejects trailing bytes, so a damaged or tampered value yields an error.

const recordV1 = 1

// maxFieldLen bounds one decoded byte string (a leaf value is at most Badger's transaction
// size, far below this).
const maxFieldLen = 1 << 30

var errTruncated = errors.New("truncated")

// leafRecord is the value of an L key: the leaf data written when the leaf is queued or added.
type leafRecord struct {
	queueNanos int64
	merkleHash []byte
	value      []byte
	extra      []byte
}

// queueRecord is the value of a Q key: what the sequencer needs from a queued leaf.
type queueRecord struct {
	queueNanos   int64
	identityHash []byte
	merkleHash   []byte
}

// seqRecord is the value of an S key: the leaf at a log index.
type seqRecord struct {
	integrateNanos int64
	identityHash   []byte
	merkleHash     []byte
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func (r *leafRecord) marshal() []byte {
	b := make([]byte, 0, 1+8+3*binary.MaxVarintLen32+len(r.merkleHash)+len(r.value)+len(r.extra))
	b = append(b, recordV1)
	b = binary.BigEndian.AppendUint64(b, uint64(r.queueNanos))
	b = appendBytes(b, r.merkleHash)
	b = appendBytes(b, r.value)
	return appendBytes(b, r.extra)
}

func (r *queueRecord) marshal() []byte {
	b := make([]byte, 0, 1+8+2*binary.MaxVarintLen32+len(r.identityHash)+len(r.merkleHash))
	b = append(b, recordV1)
	b = binary.BigEndian.AppendUint64(b, uint64(r.queueNanos))
	b = appendBytes(b, r.identityHash)
	return appendBytes(b, r.merkleHash)
}

func (r *seqRecord) marshal() []byte {
	b := make([]byte, 0, 1+8+2*binary.MaxVarintLen32+len(r.identityHash)+len(r.merkleHash))
	b = append(b, recordV1)
	b = binary.BigEndian.AppendUint64(b, uint64(r.integrateNanos))
	b = appendBytes(b, r.identityHash)
	return appendBytes(b, r.merkleHash)
}

// decoder reads one record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func newDecoder(b []byte) *decoder {
	d := &decoder{b: b}
	if len(b) == 0 {
		d.err = errTruncated
		return d
	}
	if b[0] != recordV1 {
		d.err = fmt.Errorf("unknown record version %d", b[0])
		return d
	}
	d.b = b[1:]
	return d
}

func (d *decoder) int64() int64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.err = errTruncated
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return int64(v)
}

// bytes returns a copy of the next length-prefixed string (Badger values must not be
// retained after the transaction, so decoded records never alias them).
func (d *decoder) bytes() []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = errTruncated
		return nil
	}
	if k != len(binary.AppendUvarint(nil, n)) {
		d.err = errors.New("non-minimal length prefix")
		return nil
	}
	if n > maxFieldLen || n > uint64(len(d.b)-k) {
		d.err = fmt.Errorf("field length %d exceeds the %d remaining bytes", n, len(d.b)-k)
		return nil
	}
	v := make([]byte, n)
	copy(v, d.b[k:k+int(n)])
	d.b = d.b[k+int(n):]
	return v
}

func (d *decoder) finish(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("badgerstore: decoding %s: %w", what, d.err)
	}
	return nil
}

func unmarshalLeafRecord(b []byte) (leafRecord, error) {
	d := newDecoder(b)
	r := leafRecord{queueNanos: d.int64(), merkleHash: d.bytes(), value: d.bytes(), extra: d.bytes()}
	return r, d.finish("leaf record")
}

func unmarshalQueueRecord(b []byte) (queueRecord, error) {
	d := newDecoder(b)
	r := queueRecord{queueNanos: d.int64(), identityHash: d.bytes(), merkleHash: d.bytes()}
	return r, d.finish("queue record")
}

func unmarshalSeqRecord(b []byte) (seqRecord, error) {
	d := newDecoder(b)
	r := seqRecord{integrateNanos: d.int64(), identityHash: d.bytes(), merkleHash: d.bytes()}
	return r, d.finish("sequenced leaf record")
}
