package evidence

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paraphe/paraphe/ledger/verify"
)

// live compares the bundle's checkpoint with a live ledger's latest one: same key, a size no
// smaller, and a consistency proof between the two (the ledger was only appended to since).
func (v *verifier) live() {
	if v.opt.LedgerURL == "" {
		return
	}
	base := strings.TrimRight(v.opt.LedgerURL, "/")
	lr := &LiveReport{URL: base}
	v.r.Live = lr
	if v.cp.Size == 0 {
		v.fail("live.no_checkpoint", base)
		return
	}
	client := v.opt.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(v.ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
		}
		return body, nil
	}
	key, err := get("/ledger/key")
	if err != nil {
		v.fail("live.unreachable", base, err)
		return
	}
	if strings.TrimSpace(string(key)) != strings.TrimSpace(v.r.Checkpoint.Key) {
		v.fail("live.key_mismatch", base, strings.TrimSpace(string(key)), v.r.Checkpoint.Key)
		return
	}
	nv, err := verify.NewVerifier(v.r.Checkpoint.Key)
	if err != nil {
		v.fail("live.unreachable", base, err)
		return
	}
	signed, err := get("/ledger/checkpoint")
	if err != nil {
		v.fail("live.unreachable", base, err)
		return
	}
	cur, err := verify.OpenCheckpoint(signed, nv, v.cp.Origin)
	if err != nil {
		v.fail("live.checkpoint_invalid", base, err)
		return
	}
	lr.Size = cur.Size
	if cur.Size < v.cp.Size {
		v.fail("live.truncated", base, cur.Size, v.cp.Size)
		return
	}
	body, err := get(fmt.Sprintf("/ledger/proof/consistency?from=%s&to=%s", url.QueryEscape(fmt.Sprint(v.cp.Size)), url.QueryEscape(fmt.Sprint(cur.Size))))
	if err != nil {
		v.fail("live.unreachable", base, err)
		return
	}
	var cons struct {
		Hashes [][]byte `json:"hashes"`
	}
	if err := json.Unmarshal(body, &cons); err != nil {
		v.fail("live.consistency_proof", base, err)
		return
	}
	if err := verify.Consistency(v.cp, cur, cons.Hashes); err != nil {
		v.fail("live.inconsistent", base, v.cp.Size, cur.Size, err)
		return
	}
	lr.Consistent = true
}
