package ledger

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/trillian"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Handler returns the public, read-only HTTP API of the ledger (formats in docs/LEDGER.md):
//
//	GET /ledger/checkpoint                      latest checkpoint, a signed note (text/plain)
//	GET /ledger/checkpoint.tsr                  its RFC 3161 timestamp reply
//	GET /ledger/key                             the checkpoint verifier key (name+hash+base64)
//	GET /ledger/entries?start=A&end=B           leaves A ≤ index < B (at most MaxEntriesPage)
//	GET /ledger/proof/inclusion?index=N&size=M  inclusion proof (or ?hash=H&size=M)
//	GET /ledger/proof/consistency?from=A&to=B   consistency proof
//
// Every size is bounded by the latest published checkpoint. Bad input gets 400 and a message.
func (l *Log) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ledger/checkpoint", l.serveCheckpoint)
	mux.HandleFunc("GET /ledger/checkpoint.tsr", l.serveTimestamp)
	mux.HandleFunc("GET /ledger/key", l.serveKey)
	mux.HandleFunc("GET /ledger/entries", l.serveEntries)
	mux.HandleFunc("GET /ledger/proof/inclusion", l.serveInclusion)
	mux.HandleFunc("GET /ledger/proof/consistency", l.serveConsistency)
	return mux
}

// EntriesResponse is the body of GET /ledger/entries.
type EntriesResponse struct {
	Entries []Entry `json:"entries"`
}

// Entry is one leaf in EntriesResponse.
type Entry struct {
	Index uint64 `json:"index"`
	Leaf  []byte `json:"leaf"` // base64 in JSON
}

// InclusionResponse is the body of GET /ledger/proof/inclusion.
type InclusionResponse struct {
	Index  uint64   `json:"index"`
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"`
}

// ConsistencyResponse is the body of GET /ledger/proof/consistency.
type ConsistencyResponse struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes [][]byte `json:"hashes"`
}

func (l *Log) latestPublished() SignedCheckpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest
}

func (l *Log) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp := l.latestPublished()
	if cp.Note == nil {
		// Only before the first publication: the TSA has not timestamped one yet.
		w.Header().Set("Retry-After", "5")
		http.Error(w, "no checkpoint published yet: "+errorText(l.Status()), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(cp.Note)
}

func (l *Log) serveTimestamp(w http.ResponseWriter, r *http.Request) {
	cp := l.latestPublished()
	if cp.Note == nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "no checkpoint published yet: "+errorText(l.Status()), http.StatusServiceUnavailable)
		return
	}
	if len(cp.Token) == 0 {
		http.Error(w, "this checkpoint has no timestamp", http.StatusNotFound)
		return
	}
	reply, err := timestampReply(cp.Token)
	if err != nil {
		l.serveError(w, r, "timestamp", err)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(reply)
}

// timestampReply wraps a TimeStampToken in a granted TimeStampResp (RFC 3161 §2.4.2), the
// format of a .tsr file.
func timestampReply(token []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
		b.AddBytes(token)
	})
	reply, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding the timestamp reply: %w", err)
	}
	return reply, nil
}

func (l *Log) serveKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, l.opts.VerifierKey)
}

func (l *Log) serveEntries(w http.ResponseWriter, r *http.Request) {
	size := l.latestPublished().Size
	start, end, err := entriesQuery(r.URL.Query(), size)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := l.logServer.GetLeavesByRange(r.Context(), &trillian.GetLeavesByRangeRequest{
		LogId: l.tree.TreeId, StartIndex: int64(start), Count: int64(end - start),
	})
	if err != nil {
		l.serveError(w, r, "entries", err)
		return
	}
	out := EntriesResponse{Entries: make([]Entry, 0, len(resp.GetLeaves()))}
	for i, lf := range resp.GetLeaves() {
		if uint64(lf.LeafIndex) != start+uint64(i) {
			l.serveError(w, r, "entries", fmt.Errorf("storage returned leaf %d at position %d of a range from %d", lf.LeafIndex, i, start))
			return
		}
		out.Entries = append(out.Entries, Entry{Index: uint64(lf.LeafIndex), Leaf: lf.LeafValue})
	}
	writeJSON(w, out)
}

func (l *Log) serveInclusion(w http.ResponseWriter, r *http.Request) {
	size := l.latestPublished().Size
	index, hash, treeSize, err := inclusionQuery(r.URL.Query(), size)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if hash != nil {
		resp, err := l.logServer.GetInclusionProofByHash(r.Context(), &trillian.GetInclusionProofByHashRequest{
			LogId: l.tree.TreeId, LeafHash: hash, TreeSize: int64(treeSize), OrderBySequence: true,
		})
		if status.Code(err) == codes.NotFound || err == nil && len(resp.GetProof()) == 0 {
			http.Error(w, fmt.Sprintf("no leaf with that hash in the tree of size %d", treeSize), http.StatusNotFound)
			return
		}
		if err != nil {
			l.serveError(w, r, "inclusion", err)
			return
		}
		p := resp.GetProof()[0]
		writeJSON(w, InclusionResponse{Index: uint64(p.LeafIndex), Size: treeSize, Hashes: nonNil(p.Hashes)})
		return
	}
	hashes, err := l.inclusionProof(r.Context(), index, treeSize)
	if err != nil {
		l.serveError(w, r, "inclusion", err)
		return
	}
	writeJSON(w, InclusionResponse{Index: index, Size: treeSize, Hashes: nonNil(hashes)})
}

func (l *Log) serveConsistency(w http.ResponseWriter, r *http.Request) {
	size := l.latestPublished().Size
	from, to, err := consistencyQuery(r.URL.Query(), size)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	hashes := [][]byte{}
	if from > 0 && from < to {
		if hashes, err = l.consistencyProof(r.Context(), from, to); err != nil {
			l.serveError(w, r, "consistency", err)
			return
		}
	}
	writeJSON(w, ConsistencyResponse{From: from, To: to, Hashes: nonNil(hashes)})
}

func (l *Log) serveError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() != nil {
		http.Error(w, "request cancelled", http.StatusServiceUnavailable)
		return
	}
	l.logger.Error("ledger read API", "endpoint", what, "err", err)
	http.Error(w, "internal error reading the ledger", http.StatusInternalServerError)
}

func nonNil(h [][]byte) [][]byte {
	if h == nil {
		return [][]byte{}
	}
	return h
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error encoding the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// errorText is err's text, or "waiting" for nil.
func errorText(err error) string {
	if err == nil {
		return "waiting"
	}
	return err.Error()
}
