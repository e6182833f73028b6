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
	// pending counts the attempts under way per key (see begin).
	pending map[string]int
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

// begin reserves the check of one attempt for email from ip, and reports whether it
// may go ahead, and if not how long until one may. An attempt under way counts as a
// failure until end says how it went: checked only against the failures recorded,
// every guess sent at once passed before the first of them failed (20 wrong passwords
// sent together were all checked, against a limit of 5). end must follow every begin
// that returned true.
func (l *loginLimiter) begin(email, ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	account, address := accountKey(email, ip), addressKey(ip)
	if wait, over := l.over(account, l.max, now); over {
		return false, wait
	}
	if wait, over := l.over(address, l.max*perAddressFactor, now); over {
		return false, wait
	}
	if l.pending == nil {
		l.pending = map[string]int{}
	}
	l.pending[account]++
	l.pending[address]++
	return true, 0
}

// over reports whether key has used up max: its failures within the window and its
// attempts under way. An attempt under way alone waits for the window at most (it
// ends within a request's time).
func (l *loginLimiter) over(key string, max int, now time.Time) (time.Duration, bool) {
	count, wait := 0, l.window
	if f := l.entries[key]; f != nil && now.Sub(f.first) < l.window {
		count, wait = f.count, l.window-now.Sub(f.first)
	}
	if count+l.pending[key] < max {
		return 0, false
	}
	return wait, true
}

// loginOutcome is how an attempt ended.
type loginOutcome int

const (
	// loginUndecided: the password was not checked (the log was unavailable, say).
	loginUndecided loginOutcome = iota
	loginFailed
	loginSucceeded
)

// end ends an attempt begin let through: a failure is recorded against email from ip
// and ip; a success forgets the failures of email from ip; an undecided attempt
// leaves them as they were.
func (l *loginLimiter) end(email, ip string, outcome loginOutcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, key := range []string{accountKey(email, ip), addressKey(ip)} {
		if l.pending[key]--; l.pending[key] <= 0 {
			delete(l.pending, key)
		}
	}
	switch outcome {
	case loginSucceeded:
		delete(l.entries, accountKey(email, ip))
		return
	case loginUndecided:
		return
	}
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

func (l *loginLimiter) prune(now time.Time) {
	for k, f := range l.entries {
		if now.Sub(f.first) >= l.window {
			delete(l.entries, k)
		}
	}
}
