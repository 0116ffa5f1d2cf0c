// Package audit checks a running Paraphe appliance's ledger over its public read API, the way
// an independent auditor does: it verifies signed checkpoints, proves that given events are in
// the log, proves that the log only grew since a checkpoint the auditor kept, and downloads
// every entry to recompute the root.
//
// Every check runs the pure functions of package ledger/verify on what the appliance served;
// nothing the appliance says is trusted without a proof. A nil error means verified.
package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

// Limits on what the client reads from the appliance.
const (
	maxBody       = 32 << 20
	progressEvery = 1000
)

// Client talks to one appliance.
type Client struct {
	// BaseURL is the appliance's address, e.g. "https://sign.example.org"; the ledger API is
	// under BaseURL + "/ledger/".
	BaseURL string
	// Verifier checks checkpoint signatures (see verify.NewVerifier).
	Verifier note.Verifier
	// Origin, when set, is the checkpoint origin to insist on.
	Origin string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// SignedCheckpoint is a checkpoint as served, with its verified body.
type SignedCheckpoint struct {
	verify.Checkpoint
	Note []byte // the signed note as served
}

// Checkpoint fetches the latest checkpoint and verifies its signature.
func (c *Client) Checkpoint(ctx context.Context) (SignedCheckpoint, error) {
	b, err := c.get(ctx, "/ledger/checkpoint", nil)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	return c.OpenCheckpoint(b)
}

// OpenCheckpoint verifies a signed checkpoint note (one the auditor saved, for instance).
func (c *Client) OpenCheckpoint(signed []byte) (SignedCheckpoint, error) {
	cp, err := verify.OpenCheckpoint(signed, c.Verifier, c.Origin)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	return SignedCheckpoint{Checkpoint: cp, Note: signed}, nil
}

// Timestamp fetches the timestamp reply of the latest checkpoint.
func (c *Client) Timestamp(ctx context.Context) ([]byte, error) {
	return c.get(ctx, "/ledger/checkpoint.tsr", nil)
}

// Entries fetches leaves start ≤ index < end, following the server's paging, and checks
// that each comes at its index.
func (c *Client) Entries(ctx context.Context, start, end uint64, each func(index uint64, leaf []byte) error) error {
	for start < end {
		var page struct {
			Entries []struct {
				Index uint64 `json:"index"`
				Leaf  []byte `json:"leaf"`
			} `json:"entries"`
		}
		q := url.Values{"start": {fmt.Sprint(start)}, "end": {fmt.Sprint(end)}}
		if err := c.getJSON(ctx, "/ledger/entries", q, &page); err != nil {
			return err
		}
		if len(page.Entries) == 0 {
			return fmt.Errorf("the appliance returned no entries from index %d (end %d)", start, end)
		}
		for _, e := range page.Entries {
			if e.Index != start {
				return fmt.Errorf("the appliance returned entry %d where %d was expected", e.Index, start)
			}
			if err := each(e.Index, e.Leaf); err != nil {
				return err
			}
			start++
			if start > end {
				return fmt.Errorf("the appliance returned entries beyond the requested end %d", end)
			}
		}
	}
	return nil
}

// ProveIndex fetches the leaf at index and its inclusion proof in cp, verifies the proof, and
// returns the leaf.
func (c *Client) ProveIndex(ctx context.Context, cp verify.Checkpoint, index uint64) ([]byte, error) {
	if index >= cp.Size {
		return nil, fmt.Errorf("index %d is not below the checkpoint size %d", index, cp.Size)
	}
	var leaf []byte
	err := c.Entries(ctx, index, index+1, func(_ uint64, l []byte) error { leaf = l; return nil })
	if err != nil {
		return nil, err
	}
	var p proofResponse
	q := url.Values{"index": {fmt.Sprint(index)}, "size": {fmt.Sprint(cp.Size)}}
	if err := c.getJSON(ctx, "/ledger/proof/inclusion", q, &p); err != nil {
		return nil, err
	}
	if p.Index != index || p.Size != cp.Size {
		return nil, fmt.Errorf("the appliance answered a proof for index %d in size %d, not %d in %d", p.Index, p.Size, index, cp.Size)
	}
	if err := verify.Inclusion(cp, index, verify.LeafHash(leaf), p.Hashes); err != nil {
		return nil, err
	}
	return leaf, nil
}

// ProveLeaf finds leaf in the tree of cp by its hash, verifies the inclusion proof, and
// returns its index.
func (c *Client) ProveLeaf(ctx context.Context, cp verify.Checkpoint, leaf []byte) (uint64, error) {
	h := verify.LeafHash(leaf)
	var p proofResponse
	q := url.Values{"hash": {base64.URLEncoding.EncodeToString(h)}, "size": {fmt.Sprint(cp.Size)}}
	if err := c.getJSON(ctx, "/ledger/proof/inclusion", q, &p); err != nil {
		return 0, err
	}
	if p.Size != cp.Size {
		return 0, fmt.Errorf("the appliance answered a proof in size %d, not %d", p.Size, cp.Size)
	}
	if err := verify.Inclusion(cp, p.Index, h, p.Hashes); err != nil {
		return 0, err
	}
	return p.Index, nil
}

// Consistency fetches and verifies the proof that newer extends older.
func (c *Client) Consistency(ctx context.Context, older, newer verify.Checkpoint) error {
	var p struct {
		From   uint64   `json:"from"`
		To     uint64   `json:"to"`
		Hashes [][]byte `json:"hashes"`
	}
	if older.Size > newer.Size {
		return fmt.Errorf("the appliance's checkpoint (size %d) is smaller than the saved one (size %d): history was rolled back", newer.Size, older.Size)
	}
	q := url.Values{"from": {fmt.Sprint(older.Size)}, "to": {fmt.Sprint(newer.Size)}}
	if err := c.getJSON(ctx, "/ledger/proof/consistency", q, &p); err != nil {
		return err
	}
	if p.From != older.Size || p.To != newer.Size {
		return fmt.Errorf("the appliance answered a proof from %d to %d, not %d to %d", p.From, p.To, older.Size, newer.Size)
	}
	return verify.Consistency(older, newer, p.Hashes)
}

// Progress receives the number of entries checked so far and the total.
type Progress func(done, total uint64)

// Report is the result of a full audit.
type Report struct {
	Checkpoint SignedCheckpoint
	Types      map[event.Type]uint64 // number of entries of each event type
}

// Audit downloads every entry of the tree of the latest checkpoint, checks that each is a
// valid canonical event, recomputes the root and compares it with the signed checkpoint.
func (c *Client) Audit(ctx context.Context, progress Progress) (Report, error) {
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Checkpoint: cp, Types: map[event.Type]uint64{}}
	tree := verify.NewTree()
	var bad []string
	err = c.Entries(ctx, 0, cp.Size, func(i uint64, leaf []byte) error {
		tree.Append(leaf)
		if e, err := event.Parse(leaf); err != nil {
			if len(bad) < 10 {
				bad = append(bad, fmt.Sprintf("entry %d: %v", i, err))
			}
		} else {
			rep.Types[e.Type]++
		}
		if progress != nil && (tree.Size()%progressEvery == 0 || tree.Size() == cp.Size) {
			progress(tree.Size(), cp.Size)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if err := tree.MatchesCheckpoint(cp.Checkpoint); err != nil {
		return rep, fmt.Errorf("audit failed: the entries served do not match the signed checkpoint: %w", err)
	}
	if len(bad) > 0 {
		return rep, fmt.Errorf("audit failed: entries that are not valid events:\n  %s", strings.Join(bad, "\n  "))
	}
	return rep, nil
}

type proofResponse struct {
	Index  uint64   `json:"index"`
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"`
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	b, err := c.get(ctx, path, q)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: malformed answer: %w", path, err)
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	if c.Verifier == nil {
		return nil, errors.New("audit: no verifier key")
	}
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("audit: GET %s: %w", u, err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("audit: GET %s: answer larger than %d bytes", u, maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, fmt.Errorf("audit: GET %s: %s: %s", u, resp.Status, msg)
	}
	return b, nil
}
