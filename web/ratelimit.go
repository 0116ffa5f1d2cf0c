package web

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit bounds the requests one client address may make to the routes under Prefixes:
// PerSecond on average with bursts of Burst. Over the limit a request never reaches its
// handler: it gets Retry-After and the answer of Reject, or by default 429 (RateLimited).
// Every limit whose prefixes match a request applies to it.
type RateLimit struct {
	Prefixes  []string
	PerSecond float64
	Burst     int
	// Key, when set, counts the requests of what it returns instead of the client's address
	// (a session, a capability token); a request for which it returns "" is not counted.
	Key func(r *http.Request) string
	// Reject, when set, answers a request over the limit in the terms of its protocol (an
	// RFC 3161 rejection, an OCSP tryLater), with Retry-After already set on w. It returns
	// false to leave the request to the default 429.
	Reject func(w http.ResponseWriter, r *http.Request) bool
}

// RateLimited writes the default answer to a request over its rate limit: 429 with an
// ErrorBody, Retry-After being set on w.
func RateLimited(w http.ResponseWriter, r *http.Request) {
	Error(w, http.StatusTooManyRequests, "rate_limited", "too many requests from this address; retry after "+w.Header().Get("Retry-After")+" s")
}

// limiters holds one token bucket per client address and rate limit, forgetting addresses
// idle for longer than idleTTL so that the table stays bounded by the active clients.
type limiters struct {
	limits []RateLimit
	now    func() time.Time

	mu        sync.Mutex
	buckets   map[bucketKey]*bucket
	lastSweep time.Time
}

type bucketKey struct {
	limit int
	key   string // the client's address, or what RateLimit.Key returned
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

const idleTTL = 10 * time.Minute

func newLimiters(limits []RateLimit) *limiters {
	return &limiters{limits: limits, now: time.Now, buckets: map[bucketKey]*bucket{}}
}

// allow reports whether the request may proceed, and otherwise how long to wait and the
// limit it is over. A request over one of its limits takes no token from the others.
func (l *limiters) allow(r *http.Request) (bool, time.Duration, *RateLimit) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idleTTL {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	var held []*rate.Reservation
	for idx, lim := range l.limits {
		if lim.PerSecond <= 0 || !matches(r.URL.Path, lim.Prefixes) {
			continue
		}
		key := clientAddr(r)
		if lim.Key != nil {
			if key = lim.Key(r); key == "" {
				continue
			}
		}
		k := bucketKey{idx, key}
		b, ok := l.buckets[k]
		if !ok {
			b = &bucket{lim: rate.NewLimiter(rate.Limit(lim.PerSecond), max(lim.Burst, 1))}
			l.buckets[k] = b
		}
		b.seen = now
		res := b.lim.ReserveN(now, 1)
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now)
			for _, h := range held {
				h.CancelAt(now)
			}
			return false, d, &l.limits[idx]
		}
		held = append(held, res)
	}
	return true, 0, nil
}

func matches(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// clientAddr is the client's IP address; IPv6 clients are grouped by /64, since one host
// usually holds a whole /64.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String()
	}
	return ip.String()
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
