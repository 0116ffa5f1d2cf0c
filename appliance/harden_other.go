//go:build !linux

package appliance

// HardenProcess does nothing outside Linux, the appliance's platform: there core dumps are
// disabled and the process made non-dumpable before keys are loaded.
func HardenProcess() error { return nil }
