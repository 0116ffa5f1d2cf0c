package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/paraphe/paraphe/appliance"
	"github.com/paraphe/paraphe/config"
)

// configFlags are the flags shared by serve and init; they override the file and environment.
type configFlags struct {
	fs                          *flag.FlagSet
	file, data, listen, metrics string
}

func newConfigFlags(name string, stderr io.Writer, withListen bool) *configFlags {
	f := &configFlags{fs: flag.NewFlagSet("paraphe "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.file, "config", "", "YAML configuration `file` (default: $PARAPHE_CONFIG, or none)")
	f.fs.StringVar(&f.data, "data", "", "data `directory` (overrides data_dir)")
	if withListen {
		f.fs.StringVar(&f.listen, "listen", "", "HTTP listen `address` (overrides listen)")
		f.fs.StringVar(&f.metrics, "metrics-listen", "", "metrics listen `address`; \"off\" disables (overrides metrics_listen)")
	}
	return f
}

// load parses args and returns the configuration: file, then environment, then flags.
func (f *configFlags) load(args []string, env []string) (config.Config, error) {
	if err := f.fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	if f.fs.NArg() > 0 {
		return config.Config{}, errUsage{fmt.Sprintf("unexpected argument %q", f.fs.Arg(0))}
	}
	file := f.file
	if file == "" {
		file = lookupEnv(env, "PARAPHE_CONFIG")
	}
	// Flags are applied as the last environment entries, so they win and go through the same
	// parsing and validation.
	env = append([]string(nil), env...)
	if f.data != "" {
		env = append(env, "PARAPHE_DATA_DIR="+f.data)
	}
	if f.listen != "" {
		env = append(env, "PARAPHE_LISTEN="+f.listen)
	}
	if f.metrics == "off" {
		env = append(env, "PARAPHE_METRICS_LISTEN=")
	} else if f.metrics != "" {
		env = append(env, "PARAPHE_METRICS_LISTEN="+f.metrics)
	}
	return config.Load(file, env)
}

func lookupEnv(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
			v = kv[len(name)+1:]
		}
	}
	return v
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	f := newConfigFlags("serve", stderr, true)
	cfg, err := f.load(args, env)
	if err != nil {
		return err
	}
	log := appliance.NewLogger(cfg.Log, stderr)
	if err := appliance.HardenProcess(); err != nil {
		return err
	}
	a, err := appliance.Open(ctx, cfg, log, version())
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx, nil)
}

func runInit(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	f := newConfigFlags("init", stderr, false)
	cfg, err := f.load(args, env)
	if err != nil {
		return err
	}
	log := appliance.NewLogger(cfg.Log, stderr)
	if err := appliance.HardenProcess(); err != nil {
		return err
	}
	s, err := appliance.Init(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "Key ceremony complete in %s.\n", cfg.Path("keys"))
	fmt.Fprintf(stdout, "Root CA:      %s\n", s.Root.Subject)
	fmt.Fprintf(stdout, "Ledger key:   %s\n", s.LedgerVerifierKey)
	fmt.Fprintln(stdout, "Certificate digests (SHA-256), to record in the ceremony minutes:")
	for _, name := range []string{"root", "issuing", "tsa", "ocsp", "seal", "ledger"} {
		d := s.Digests()[name]
		fmt.Fprintf(stdout, "  %-8s %x\n", name, d)
	}
	return nil
}

// version is the module version stamped by the Go toolchain, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
