package httpapi

import (
	"testing"
	"time"
)

// An attempt under way counts against the limit until it ends: of 20 begun at once,
// 5 go ahead (the limit), whatever their outcome later.
func TestLoginLimiterCountsAttemptsUnderWay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLoginLimiter(5, time.Minute, func() time.Time { return now })
	let := 0
	for range 20 {
		if ok, _ := l.begin("a@example.com", "10.0.0.1"); ok {
			let++
		}
	}
	if let != 5 {
		t.Fatalf("%d of 20 attempts begun together went ahead, want 5", let)
	}
	// Undecided attempts (the password was not checked) give their places back and
	// record nothing.
	for range 5 {
		l.end("a@example.com", "10.0.0.1", loginUndecided)
	}
	for range 5 {
		if ok, _ := l.begin("a@example.com", "10.0.0.1"); !ok {
			t.Fatal("an attempt after undecided ones was refused")
		}
	}
	for range 5 {
		l.end("a@example.com", "10.0.0.1", loginFailed)
	}
	ok, wait := l.begin("a@example.com", "10.0.0.1")
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("after 5 failures: allowed %v, wait %v", ok, wait)
	}
	// Another email from the address, and the email from another address, go on.
	if ok, _ := l.begin("b@example.com", "10.0.0.1"); !ok {
		t.Fatal("another email from the same address was refused")
	}
	l.end("b@example.com", "10.0.0.1", loginSucceeded)
	if ok, _ := l.begin("a@example.com", "10.0.0.2"); !ok {
		t.Fatal("the email from another address was refused")
	}
	l.end("a@example.com", "10.0.0.2", loginSucceeded)
	// The window ends the lockout.
	now = now.Add(time.Minute)
	if ok, _ := l.begin("a@example.com", "10.0.0.1"); !ok {
		t.Fatal("refused after the window")
	}
	l.end("a@example.com", "10.0.0.1", loginSucceeded)
	if len(l.pending) != 0 {
		t.Fatalf("attempts still under way after every one ended: %v", l.pending)
	}
}
