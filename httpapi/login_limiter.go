package httpapi

import (
	"sync"
	"time"
)

// loginLimiter counts failed logins per email and client address, and per address
// alone (with a larger allowance, against spraying many emails). It lives in the
// server, in memory: each replica limits on its own, which bounds guessing well enough
// behind a load balancer.
type loginLimiter struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	now     func() time.Time
	entries map[string]*failures
}

type failures struct {
	count int
	first time.Time
}

// perAddressFactor is how many more failures one address may have across emails.
const perAddressFactor = 10

// limiterPruneAt is the number of entries above which expired ones are dropped.
const limiterPruneAt = 10_000

func newLoginLimiter(max int, window time.Duration, now func() time.Time) *loginLimiter {
	return &loginLimiter{max: max, window: window, now: now, entries: map[string]*failures{}}
}

func accountKey(email, ip string) string { return "a\x00" + email + "\x00" + ip }
func addressKey(ip string) string        { return "i\x00" + ip }

// allowed reports whether another attempt for email from ip may be checked, and if not
// how long until it may.
func (l *loginLimiter) allowed(email, ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if wait, over := l.over(accountKey(email, ip), l.max, now); over {
		return false, wait
	}
	if wait, over := l.over(addressKey(ip), l.max*perAddressFactor, now); over {
		return false, wait
	}
	return true, 0
}

func (l *loginLimiter) over(key string, max int, now time.Time) (time.Duration, bool) {
	f := l.entries[key]
	if f == nil || now.Sub(f.first) >= l.window {
		return 0, false
	}
	if f.count < max {
		return 0, false
	}
	return l.window - now.Sub(f.first), true
}

// failed records a failed attempt.
func (l *loginLimiter) failed(email, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.entries) >= limiterPruneAt {
		l.prune(now)
	}
	for _, key := range []string{accountKey(email, ip), addressKey(ip)} {
		f := l.entries[key]
		if f == nil || now.Sub(f.first) >= l.window {
			f = &failures{first: now}
			l.entries[key] = f
		}
		f.count++
	}
}

// succeeded forgets the failures of email from ip.
func (l *loginLimiter) succeeded(email, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, accountKey(email, ip))
}

func (l *loginLimiter) prune(now time.Time) {
	for k, f := range l.entries {
		if now.Sub(f.first) >= l.window {
			delete(l.entries, k)
		}
	}
}
