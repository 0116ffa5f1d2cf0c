package appliance

import (
	"context"
	"os"
	"time"

	"github.com/paraphe/paraphe/ca/keys"
)

// rootCRLPoll is how often a serving appliance looks for a root CRL renewed by
// `paraphe ca renew-root-crl`, which runs in another process (the root key stays offline).
const rootCRLPoll = 30 * time.Second

// rootCRLStatus reports on the root CRL being published (keys.CheckRootCRL).
func (a *Appliance) rootCRLStatus() error {
	var next time.Time
	if crl := a.ca.RootCRL(); crl != nil {
		next = crl.NextUpdate
	}
	return keys.CheckRootCRL(next, a.now())
}

// reloadRootCRL publishes the key directory's root CRL if it is newer than the one served.
func (a *Appliance) reloadRootCRL() (bool, error) {
	crl, err := keys.ReadRootCRL(a.cfg.Path("keys"), a.keys.Root)
	if err != nil || crl == nil {
		return false, err
	}
	return a.ca.UpdateRootCRL(crl)
}

// watchRootCRL calls reloadRootCRL on its first tick and whenever the root CRL file changes
// (time or size), until ctx is done.
func (a *Appliance) watchRootCRL(ctx context.Context, every time.Duration) {
	file := keys.RootCRLFile(a.cfg.Path("keys"))
	// The first tick always reads the file: it may have been renewed since Open loaded it.
	var seen time.Time
	var size int64
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(file)
		if err != nil || (fi.ModTime().Equal(seen) && fi.Size() == size) {
			continue
		}
		seen, size = fi.ModTime(), fi.Size()
		if _, err := a.reloadRootCRL(); err != nil {
			a.log.Error("the root CRL in the key directory is not published", "file", file, "err", err)
		}
	}
}
