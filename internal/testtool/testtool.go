// Package testtool finds the external programs that tests run against what Paraphe produces
// (openssl, pdfsig, qpdf, softhsm2-util, chromium, …).
//
// Locally a test may skip when a tool is missing; under CI=true a missing tool fails the test,
// so that CI never passes by silently skipping the checks that matter.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the absolute path of the named program. When the program is not on PATH it
// skips the test, or fails it when the CI environment variable is "true".
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true but was not found: %v", name, err)
	}
	t.Skipf("%s not found; skipping (install it, or run under CI=true to make this a failure)", name)
	return ""
}

// RequireFile is Require for a file that must exist, such as a PKCS#11 module.
func RequireFile(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true but does not exist", path)
	}
	t.Skipf("%s does not exist; skipping", path)
	return ""
}
