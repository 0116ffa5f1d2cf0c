package tsa

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Serial numbers are 160 bits: a 32-bit boot number, a 64-bit sequence number within that boot
// and 64 random bits. The boot number is taken from StateDir and persisted (fsynced) before the
// first token of the boot, under an exclusive lock, so (boot, sequence) never repeats across
// restarts or between TSAs sharing the directory; the random part keeps serials unpredictable
// and distinct even if the state directory were restored from an old backup.
const (
	serialLen     = 20
	bootFileName  = "serial-boot"
	lockFileName  = "serial-boot.lock"
	maxBootNumber = 1<<31 - 1 // keeps the serial's top bit clear: at most 160 bits on the wire
)

// serialSource hands out unique serial numbers for one boot.
type serialSource struct {
	boot uint32
	seq  atomic.Uint64
}

// newSerialSource takes the next boot number from dir (created if missing).
func newSerialSource(dir string) (*serialSource, error) {
	if dir == "" {
		return nil, errors.New("StateDir is required: serial-number state must persist across restarts")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating StateDir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the serial lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	path := filepath.Join(dir, bootFileName)
	var last uint64
	switch data, err := os.ReadFile(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("reading serial state: %w", err)
	default:
		last, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("serial state %s is corrupt (%q): refusing to guess a boot number: %w", path, data, err)
		}
	}
	if last >= maxBootNumber {
		return nil, fmt.Errorf("serial state %s: boot number %d is exhausted", path, last)
	}
	boot := uint32(last + 1)
	if err := writeFileSync(path, []byte(strconv.FormatUint(uint64(boot), 10)+"\n")); err != nil {
		return nil, fmt.Errorf("persisting serial state: %w", err)
	}
	return &serialSource{boot: boot}, nil
}

// next returns a fresh serial number, big-endian.
func (s *serialSource) next() ([serialLen]byte, error) {
	var out [serialLen]byte
	binary.BigEndian.PutUint32(out[0:4], s.boot)
	binary.BigEndian.PutUint64(out[4:12], s.seq.Add(1))
	if _, err := rand.Read(out[12:]); err != nil {
		return out, fmt.Errorf("reading randomness for a serial number: %w", err)
	}
	return out, nil
}

// writeFileSync replaces path with data durably: write a temporary file, fsync it, rename it
// over path, fsync the directory.
func writeFileSync(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
