package pades

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"net/http"

	"github.com/digitorus/timestamp"
)

// Timestamper obtains RFC 3161 timestamps. Timestamp returns the DER TimeStampToken (a CMS
// ContentInfo) over digest, which was computed with h.
type Timestamper interface {
	Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error)
}

// HTTPTimestamper is a Timestamper that asks an RFC 3161 server over HTTP.
type HTTPTimestamper struct {
	URL    string
	Client *http.Client // http.DefaultClient if nil; the context bounds each request
}

// Timestamp implements Timestamper.
func (t HTTPTimestamper) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	req := timestamp.Request{HashAlgorithm: h, HashedMessage: digest, Certificates: true}
	body, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("building the timestamp request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("timestamp request to %s: %w", t.URL, err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	c := t.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("timestamp request to %s: %w", t.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("timestamp server %s answered HTTP %d", t.URL, resp.StatusCode)
	}
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the timestamp response from %s: %w", t.URL, err)
	}
	ts, err := timestamp.ParseResponse(rb)
	if err != nil {
		return nil, fmt.Errorf("timestamp response from %s: %w", t.URL, err)
	}
	if !bytes.Equal(ts.HashedMessage, digest) {
		return nil, fmt.Errorf("timestamp response from %s is for another digest", t.URL)
	}
	return ts.RawToken, nil
}
