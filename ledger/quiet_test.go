package ledger

import (
	"flag"
	"io"

	"k8s.io/klog/v2"
)

// quietTrillian silences klog, through which Trillian's memory storage logs a warning at every
// sequencer pass.
func quietTrillian() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}
