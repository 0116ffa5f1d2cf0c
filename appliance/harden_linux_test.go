//go:build linux

package appliance

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestHardenProcess: after HardenProcess no core file can be written and the process is not
// dumpable (so not attachable by an unprivileged debugger either).
func TestHardenProcess(t *testing.T) {
	if err := HardenProcess(); err != nil {
		t.Fatal(err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur != 0 || lim.Max != 0 {
		t.Fatalf("core-file size limit %d/%d, want 0/0", lim.Cur, lim.Max)
	}
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d != 0 {
		t.Fatalf("the process is dumpable (%d)", d)
	}
}
