//go:build tools

// Package deps pins the modules that DESIGN.md chose, so that go.mod and go.sum hold them
// while the packages that use them are being written.
package deps

import (
	_ "github.com/caddyserver/certmagic"
	_ "github.com/chromedp/chromedp"
	_ "github.com/dgraph-io/badger/v4"
	_ "github.com/digitorus/pkcs7"
	_ "github.com/digitorus/timestamp"
	_ "github.com/emersion/go-smtp"
	_ "github.com/google/trillian"
	_ "github.com/google/trillian/extension"
	_ "github.com/google/trillian/integration/storagetest"
	_ "github.com/google/trillian/log"
	_ "github.com/google/trillian/quota"
	_ "github.com/google/trillian/server"
	_ "github.com/google/trillian/server/admin"
	_ "github.com/google/trillian/storage/cache"
	_ "github.com/google/trillian/storage/memory"
	_ "github.com/google/trillian/storage/testonly"
	_ "github.com/google/trillian/testonly/integration"
	_ "github.com/google/trillian/util/election2"
	_ "github.com/pdfcpu/pdfcpu/pkg/api"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/transparency-dev/formats/log"
	_ "github.com/transparency-dev/merkle/proof"
	_ "github.com/transparency-dev/merkle/rfc6962"
	_ "github.com/wneessen/go-mail"
	_ "go.step.sm/crypto/kms"
	_ "go.step.sm/crypto/kms/pkcs11"
	_ "go.step.sm/crypto/kms/softkms"
	_ "go.step.sm/crypto/pemutil"
	_ "go.step.sm/crypto/x509util"
	_ "golang.org/x/crypto/cryptobyte"
	_ "golang.org/x/crypto/ocsp"
	_ "golang.org/x/mod/sumdb/note"
	_ "gopkg.in/yaml.v3"
)
