package admin

import (
	"sync"
	"time"
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
