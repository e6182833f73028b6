package projections_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// Reveals coalesced into one log message each keep their own audit row (their own
// actor, their own id and cursor), and the chain verifies against the log.
func TestCoalescedRevealsKeepTheirOwnAuditRows(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	s := r.create(t, "API_KEY", map[domain.Environment]string{domain.Production: "prod-1"})

	const k = 8
	var calls atomic.Int32
	publishing, release := make(chan struct{}), make(chan struct{})
	r.env.Store.ObserveAppends(func(time.Duration, error) {
		if calls.Add(1) == 1 {
			close(publishing)
			<-release
		}
	})
	var wg sync.WaitGroup
	seqs := make([]uint64, k)
	errs := make([]error, k)
	reveal := func(i int) {
		defer wg.Done()
		m := r.owner
		m.Actor.UserAgent = fmt.Sprintf("client-%d", i)
		var got commands.Revealed
		got, errs[i] = r.h.RevealSecret.Handle(ctx, m, commands.RevealSecret{OrgID: r.orgID, SecretID: s.ID, Env: domain.Production})
		seqs[i] = got.Seq
	}
	wg.Add(1)
	go reveal(0)
	<-publishing
	wg.Add(k - 1)
	for i := 1; i < k; i++ {
		go reveal(i)
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.env.Store.QueuedAppends() < k-1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	r.env.Store.ObserveAppends(nil)
	var last uint64
	for i, err := range errs {
		if err != nil {
			t.Fatalf("reveal %d: %v", i, err)
		}
		last = max(last, seqs[i])
	}
	if seqs[1] == seqs[0] || seqs[2] != seqs[1] {
		t.Fatalf("reveals answered at sequences %v: the queued ones were not coalesced", seqs)
	}
	r.wait(t, last)

	entries, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Action: domain.AuditSecretRevealed})
	if err != nil {
		t.Fatal(err)
	}
	agents, ids := map[string]bool{}, map[string]bool{}
	for _, e := range entries {
		if e.ActorID != r.owner.UserID || e.SecretID != s.ID || e.Env != string(domain.Production) {
			t.Fatalf("entry %+v", e)
		}
		agents[e.UserAgent], ids[e.ID()] = true, true
	}
	if len(entries) != k || len(agents) != k || len(ids) != k {
		t.Fatalf("%d reveal entries, %d user agents, %d ids; want %d each", len(entries), len(agents), len(ids), k)
	}
	// Paging by cursor walks every row once.
	seen := 0
	cursor := ""
	for {
		page, next, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Action: domain.AuditSecretRevealed, Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page)
		if next == "" {
			break
		}
		cursor = next
	}
	if seen != k {
		t.Fatalf("paging saw %d entries, want %d", seen, k)
	}
	v, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK {
		t.Fatalf("verify = %+v", v)
	}
}
