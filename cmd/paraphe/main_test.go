package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the testscripts in testdata/ run "paraphe" as a real command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"paraphe": func() {
			os.Exit(exitCode(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Environ()), os.Stderr))
		},
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata"})
}
