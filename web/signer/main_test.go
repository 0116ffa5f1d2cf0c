package signer_test

import (
	"os"
	"testing"

	"github.com/paraphe/paraphe/ceremony/ceremonytest"
)

func TestMain(m *testing.M) {
	ceremonytest.QuietTrillian()
	os.Exit(m.Run())
}
