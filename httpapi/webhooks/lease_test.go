package webhooks_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/lease"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/webhooks"
)

// Two replicas' engines share one lease: one delivers; when it stops, the other takes
// over from the delivery state in NATS, and the receiver misses nothing.
func TestStandbyEngineTakesOverDeliveries(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.WebhookAllowPrivate = true })
	ctx := context.Background()
	feed, err := changefeed.Open(ctx, env.NATS.Store)
	if err != nil {
		t.Fatal(err)
	}
	start := func(holder string) func() {
		store, err := webhooks.OpenStore(ctx, env.NATS.Store, 0)
		if err != nil {
			t.Fatal(err)
		}
		lz, err := lease.Open(ctx, env.NATS.Store, webhooks.LeaseName, holder, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		engine, err := webhooks.NewEngine(webhooks.Config{
			Feed: feed, Log: env.NATS.Store, Roster: env.DB.Webhooks, Store: store, Guard: webhooks.Guard{AllowPrivate: true},
			Lease: lz, LeaseRenew: 250 * time.Millisecond, LeasePoll: 100 * time.Millisecond,
			RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, Tick: 20 * time.Millisecond, RosterEvery: 50 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ectx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = engine.Run(ectx) })
		var once sync.Once
		stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
		t.Cleanup(stop)
		return stop
	}
	// A alone at first, so that it holds the lease and delivers the first notice.
	stopA := start("replica-a")

	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	rc := newReceiver(t, nil)
	createWebhook(t, alice, org.ID, rc.URL)
	s := alice.CreateSecret(t, org.ID, "ROTATED", map[string]string{"production": "v1"})
	rc.waitFor(t, "the first notice", func(g []received) bool { return len(g) >= 1 })
	start("replica-b")
	stopA()
	stopped := time.Now()
	for i := range 3 {
		alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+s.ID, map[string]any{"values": map[string]string{"production": "v" + string(rune('2'+i))}}).Expect(t, http.StatusOK)
	}
	got := rc.waitFor(t, "the notices after the handover", func(g []received) bool {
		seen := map[string]bool{}
		for _, r := range g {
			seen[string(r.body)] = true
		}
		return len(seen) >= 4
	})
	last := map[string]uint64{}
	for _, g := range got {
		seq, secret, _ := seqOf(t, g.body)
		if seq < last[secret] {
			t.Fatalf("notice of event %d after %d", seq, last[secret])
		}
		last[secret] = seq
	}
	t.Logf("the standby delivered the 4th notice %s after the holder stopped", time.Since(stopped).Round(time.Millisecond))
}
