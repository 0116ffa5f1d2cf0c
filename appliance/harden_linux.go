//go:build linux

package appliance

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// HardenProcess keeps key material out of core dumps and out of reach of debuggers running as
// the same user: it sets the core-file size limit to zero and makes the process non-dumpable
// (which also refuses ptrace attach from unprivileged processes). The commands that load keys
// call it before they do.
func HardenProcess() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("disabling core dumps: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("making the process non-dumpable: %w", err)
	}
	return nil
}
