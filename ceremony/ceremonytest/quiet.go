package ceremonytest

import (
	"flag"
	"io"

	"k8s.io/klog/v2"
)

// QuietTrillian silences klog, through which Trillian's memory storage logs a warning at every
// sequencer pass. Call it from TestMain.
func QuietTrillian() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}
