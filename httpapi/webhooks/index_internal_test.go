package webhooks

import (
	"testing"
	"time"
)

func pendingDelivery(webhook, secret string, seq uint64, due time.Time) *Delivery {
	return &Delivery{ID: secret + "-" + string(rune('a'+seq)), WebhookID: webhook, SecretID: secret, Seq: seq, Status: StatusPending, NextAttemptAt: &due}
}

// The index hands out one delivery per (webhook, secret) at a time, the earliest, and
// the next only after the watch has shown the first one's outcome.
func TestIndexKeepsOrderPerSecret(t *testing.T) {
	t.Parallel()
	now := time.Now()
	all := func(string) bool { return true }
	x := newIndex()
	x.apply("k2", 2, pendingDelivery("w", "s1", 2, now))
	x.apply("k1", 1, pendingDelivery("w", "s1", 1, now))
	x.apply("k3", 3, pendingDelivery("w", "s2", 3, now.Add(time.Hour)))
	x.apply("k4", 4, pendingDelivery("w2", "s1", 4, now))
	due := x.due(now, 10, all)
	keys := map[string]bool{}
	for _, e := range due {
		keys[e.key] = true
	}
	if len(due) != 2 || !keys["k1"] || !keys["k4"] {
		t.Fatalf("due %v, want k1 (s1's first) and k4 (another webhook); k3 is not due yet", keys)
	}
	if got := x.due(now, 10, func(w string) bool { return w == "w2" }); len(got) != 1 || got[0].key != "k4" {
		t.Fatalf("only known webhooks: %v", got)
	}
	x.start("k1")
	if got := x.due(now, 10, all); len(got) != 1 || got[0].key != "k4" {
		t.Fatalf("while k1 is in flight its secret waits: %v", got)
	}
	// The outcome is written at revision 5; until the watch shows it, s1 still waits.
	x.finish("k1", 5)
	if got := x.due(now, 10, all); len(got) != 1 {
		t.Fatalf("before the watch shows k1's outcome: %v", got)
	}
	delivered := *pendingDelivery("w", "s1", 1, now)
	delivered.Status = StatusDelivered
	x.apply("k1", 5, &delivered)
	got := x.due(now, 10, all)
	keys = map[string]bool{}
	for _, e := range got {
		keys[e.key] = true
	}
	if len(got) != 2 || !keys["k2"] {
		t.Fatalf("after k1 is delivered, k2 is next: %v", keys)
	}
	// A redelivery of k1 (written elsewhere) makes it s1's head again.
	x.apply("k1", 6, pendingDelivery("w", "s1", 1, now))
	for _, e := range x.due(now, 10, all) {
		if e.d.WebhookID == "w" && e.d.SecretID == "s1" && e.key != "k1" {
			t.Fatalf("s1's head is %s, want the redelivered k1", e.key)
		}
	}
	if got := x.due(now, 1, all); len(got) != 1 {
		t.Fatalf("limit 1: %d", len(got))
	}
}

func TestIndexForgetsARemovedWebhook(t *testing.T) {
	t.Parallel()
	now := time.Now()
	x := newIndex()
	x.apply("k1", 1, pendingDelivery("w", "s1", 1, now))
	x.apply("k2", 2, pendingDelivery("w", "s2", 2, now))
	x.apply("k3", 3, pendingDelivery("w2", "s1", 3, now))
	x.start("k1")
	x.dropWebhook("w")
	if x.size() != 1 {
		t.Fatalf("%d pending after dropping w, want 1", x.size())
	}
	x.finish("k1", 0)
	if got := x.due(now, 10, func(string) bool { return true }); len(got) != 1 || got[0].key != "k3" {
		t.Fatalf("due %v", got)
	}
}
