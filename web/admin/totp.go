package admin

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"

	"github.com/skip2/go-qrcode"
)

// TOTPStep is the time step of the second factor's codes (RFC 6238).
const TOTPStep = 30 * time.Second

// TOTPCode is the 6-digit RFC 6238 code (HMAC-SHA-1) of secret for time step counter.
func TOTPCode(secret []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac := hmac.New(sha1.New, secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// VerifyTOTP checks a 6-digit code against secret at now, allowing one step of clock drift
// either way, and refuses a code whose step is not after last (the step of the last accepted
// code), so that a code is good once. It returns the step that matched.
func VerifyTOTP(secret []byte, code string, now time.Time, last int64) (int64, bool) {
	if len(secret) == 0 || len(code) != 6 {
		return 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	cur := now.Unix() / int64(TOTPStep/time.Second)
	matched, ok := int64(0), 0
	for step := cur - 1; step <= cur+1; step++ {
		// Every candidate is compared, so the time taken does not depend on which one matches.
		if subtle.ConstantTimeCompare([]byte(TOTPCode(secret, step)), []byte(code)) == 1 && step > last && ok == 0 {
			matched, ok = step, 1
		}
	}
	return matched, ok == 1
}

// TOTPURI is the otpauth:// URI that authenticator apps read (as text or a QR code).
func TOTPURI(secret []byte, issuer, account string) string {
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	q := url.Values{"secret": {s}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + url.PathEscape(issuer+":"+account) + "?" + q.Encode()
}

// TOTPSecretText is the secret as people type it into an authenticator app (base32 in groups).
func TOTPSecretText(secret []byte) string {
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	out := make([]byte, 0, len(s)+len(s)/4)
	for i := 0; i < len(s); i++ {
		if i > 0 && i%4 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// TOTPQR is uri as a QR code, a PNG data: URL that authenticator apps scan from the screen.
func TOTPQR(uri string) (string, error) {
	png, err := qrcode.Encode(uri, qrcode.Medium, 256)
	if err != nil {
		return "", fmt.Errorf("admin: QR code of the TOTP URI: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}
