package admin

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// limiter counts failures per key in a sliding window. It holds at most maxKeys keys: when
// full, keys whose failures have all left the window are dropped, then the oldest key.
type limiter struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	maxKeys int
	hits    map[string][]time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, maxKeys: 100_000, hits: map[string][]time.Time{}}
}

// blocked reports whether key has max failures in the window, and when the oldest leaves it.
func (l *limiter) blocked(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.prune(key, now)
	if len(h) < l.max {
		return false, 0
	}
	return true, h[0].Add(l.window).Sub(now)
}

// fail records a failure of key.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.prune(key, now)
	if _, ok := l.hits[key]; !ok && len(l.hits) >= l.maxKeys {
		l.evict(now)
	}
	l.hits[key] = append(h, now)
}

// reset forgets key's failures (after a successful sign-in).
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.hits, key)
}

func (l *limiter) prune(key string, now time.Time) []time.Time {
	h := l.hits[key]
	i := 0
	for i < len(h) && !h[i].After(now.Add(-l.window)) {
		i++
	}
	h = h[i:]
	if len(h) == 0 {
		delete(l.hits, key)
	} else {
		l.hits[key] = h
	}
	return h
}

func (l *limiter) evict(now time.Time) {
	var oldest string
	var at time.Time
	for k, h := range l.hits {
		if len(h) == 0 || !h[len(h)-1].After(now.Add(-l.window)) {
			delete(l.hits, k)
			continue
		}
		if oldest == "" || h[len(h)-1].Before(at) {
			oldest, at = k, h[len(h)-1]
		}
	}
	if len(l.hits) >= l.maxKeys && oldest != "" {
		delete(l.hits, oldest)
	}
}

// kLoginFail holds the sign-in failures of an account: + sha256(lower(email)) → loginFailures.
// The address is hashed so that the store keeps no list of the emails tried.
const kLoginFail = "admin/loginfail/"

type loginFailures struct {
	At []time.Time `json:"at"`
}

// storedLimiter is a limiter whose failures are kept in the admin Badger store, so that a
// restart does not unlock an account. The failures' times are stored and compared with the
// handler's clock; each record also gets a Badger TTL (the window and a margin, in real time)
// so that records of addresses never tried again are collected.
//
// Only the per-account counters are stored: client addresses churn (a record per address
// written on every failure would let a spray of addresses fill the store), the front's
// per-address rate limit (web.RateLimit) bounds the attempts anyway, and an attacker who waits
// for a restart gains at most one window's worth of attempts per address.
type storedLimiter struct {
	db     *badger.DB
	max    int
	window time.Duration
}

func (l *storedLimiter) key(k string) []byte { return []byte(kLoginFail + sha(k)) }

func (l *storedLimiter) load(txn *badger.Txn, k string, now time.Time) ([]time.Time, error) {
	var f loginFailures
	if err := get(txn, string(l.key(k)), &f); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	h := f.At
	i := 0
	for i < len(h) && !h[i].After(now.Add(-l.window)) {
		i++
	}
	return h[i:], nil
}

// blocked reports whether key has max failures in the window, and when the oldest leaves it.
func (l *storedLimiter) blocked(key string, now time.Time) (bool, time.Duration, error) {
	var h []time.Time
	err := l.db.View(func(txn *badger.Txn) (err error) {
		h, err = l.load(txn, key, now)
		return err
	})
	if err != nil || len(h) < l.max {
		return false, 0, err
	}
	return true, h[len(h)-l.max].Add(l.window).Sub(now), nil
}

// fail records a failure of key. At most max failures are kept: older ones no longer matter.
func (l *storedLimiter) fail(key string, now time.Time) error {
	return l.update(func(txn *badger.Txn) error {
		h, err := l.load(txn, key, now)
		if err != nil {
			return err
		}
		h = append(h, now)
		if len(h) > l.max {
			h = h[len(h)-l.max:]
		}
		b, err := json.Marshal(loginFailures{At: h})
		if err != nil {
			return err
		}
		return txn.SetEntry(badger.NewEntry(l.key(key), b).WithTTL(l.window + time.Hour))
	})
}

// reset forgets key's failures (after a successful sign-in).
func (l *storedLimiter) reset(key string) error {
	return l.update(func(txn *badger.Txn) error { return txn.Delete(l.key(key)) })
}

// update runs fn in a transaction, again when a concurrent failure of the same key conflicts.
func (l *storedLimiter) update(fn func(*badger.Txn) error) error {
	var err error
	for range 5 {
		if err = l.db.Update(fn); !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}
