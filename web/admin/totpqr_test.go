package admin

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paraphe/paraphe/internal/testtool"
)

// TestTOTPQRCode: enrolment returns the otpauth URI as a QR code that a real decoder (zbarimg,
// from Debian's zbar-tools) reads back to the same URI.
func TestTOTPQRCode(t *testing.T) {
	zbar := testtool.Require(t, "zbarimg")
	w := newWorld(t)
	c := w.user("Notaires Associés", "admin@notaires.test", RoleAdmin)
	r := c.post("/admin/api/totp/begin", nil)
	if r.status != 200 {
		t.Fatalf("begin: %d %s", r.status, r.body)
	}
	var begun struct{ URI, QR string }
	r.json(t, &begun)
	data, ok := strings.CutPrefix(begun.QR, "data:image/png;base64,")
	if !ok {
		t.Fatalf("qr is not a PNG data URL: %.40q", begun.QR)
	}
	png, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(f, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--quiet", "--raw", f).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != begun.URI || !strings.HasPrefix(got, "otpauth://totp/") {
		t.Fatalf("the QR code reads %q, want the URI %q", got, begun.URI)
	}
}
