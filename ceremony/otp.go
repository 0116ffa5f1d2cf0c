package ceremony

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// newCode returns a uniformly random 6-digit code.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("ceremony: generate code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}
