package event

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// SaltSize is the size in bytes of the salts made by [NewSalt].
const SaltSize = 32

// NewSalt returns a fresh random salt for the commitments of one envelope.
func NewSalt() ([]byte, error) {
	s := make([]byte, SaltSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("event: reading random salt: %w", err)
	}
	return s, nil
}

// Commit returns the commitment to value under field name field: the lowercase hexadecimal
// HMAC-SHA256, keyed with salt, of field, one zero byte, and value. The zero byte keeps the
// split between field and value unambiguous (field names never contain it).
//
// Whoever holds the salt can check a claimed value with [OpenCommitment]; without the salt the
// commitment reveals nothing practical about the value. Deleting the salt erases the personal
// data while every leaf and every proof stays valid. Salts should come from [NewSalt].
func Commit(salt []byte, field, value string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(field))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// OpenCommitment reports whether commitment is the commitment made by [Commit] to value under
// field with salt. It runs in time independent of where the commitments differ, and returns
// false for a commitment that is not well-formed.
func OpenCommitment(salt []byte, field, value, commitment string) bool {
	if !isHex64(commitment) {
		return false
	}
	want := Commit(salt, field, value)
	return hmac.Equal([]byte(want), []byte(commitment))
}

// isHex64 reports whether s is 64 lowercase hexadecimal digits (a SHA-256 digest or an
// HMAC-SHA256 commitment).
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
