package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go"
)

// scanFiltered is ScanScope as it was before it could read unfiltered: every batch
// filtered by the scope's wildcard at the server. The reference the scans are
// compared with.
func (s *Store) scanFiltered(ctx context.Context, scope string, until uint64) ([]domain.Recorded, error) {
	var out []domain.Recorded
	q := batchQuery{subject: SubjectPrefix + "." + scope + ".>", from: 1, until: until}
	for {
		var batch Loaded
		r, err := s.loadFrom(ctx, q, &batch)
		if err != nil {
			return nil, err
		}
		out = append(out, batch.Events...)
		if r.read < loadBatch || r.last == 0 {
			return out, nil
		}
		q.from = r.last + 1
	}
}

// directGets counts the direct-get requests made to the events stream, by whether
// they named a subject: the server answers them, this subscription only listens.
type directGets struct {
	mu                   sync.Mutex
	filtered, unfiltered int
	// bare counts the unfiltered requests that asked for no headers (getBareBatch).
	bare int
}

func watchDirectGets(t *testing.T, nc *nats.Conn) *directGets {
	t.Helper()
	d := &directGets{}
	sub, err := nc.Subscribe("$JS.API.DIRECT.GET."+StreamName, func(m *nats.Msg) {
		var req struct {
			Batch     int    `json:"batch"`
			NextBy    string `json:"next_by_subj"`
			NoHeaders bool   `json:"no_hdr"`
		}
		if json.Unmarshal(m.Data, &req) != nil || req.Batch == 0 {
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if req.NextBy == "" {
			d.unfiltered++
			if req.NoHeaders {
				d.bare++
			}
		} else {
			d.filtered++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return d
}

func (d *directGets) take() (filtered, unfiltered int) {
	filtered, unfiltered, _ = d.takeAll()
	return filtered, unfiltered
}

// takeAll is take with the count of bare requests among the unfiltered ones.
func (d *directGets) takeAll() (filtered, unfiltered, bare int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	filtered, unfiltered, bare = d.filtered, d.unfiltered, d.bare
	d.filtered, d.unfiltered, d.bare = 0, 0, 0
	return filtered, unfiltered, bare
}

// A scan gives the events of its scope, in stream order, whichever way each batch
// is read: a dense scope (a log of one organization) is read unfiltered and the
// other scopes' messages passed over unopened, a sparse one (the platform's users
// among an organization's events, a small organization among a large one) filtered
// at the server, and a scope that is dense in one stretch of the log and sparse in
// another switches ways between batches. Every scan equals the filtered reference,
// with and without a limit.
func TestScanScopeReadsDenseScopesUnfiltered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	dense := "11111111-1111-1111-1111-111111111111"
	other := "22222222-2222-2222-2222-222222222222"
	secret := func(org string, i int) Aggregate {
		return Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: fmt.Sprintf("%08d-0000-0000-0000-000000000000", i%97)}
	}
	user := func(i int) Aggregate {
		return Aggregate{OrgID: domain.PlatformScope, Type: domain.AggregateUser, ID: fmt.Sprintf("%08d-0000-0000-0000-000000000001", i)}
	}
	appendTo := func(a Aggregate, i int) {
		desc := fmt.Sprint(i)
		if _, err := s.Append(ctx, Pending{Aggregate: a, Unchecked: true, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}); err != nil {
			t.Fatal(err)
		}
	}
	// 600 of the dense org alone; 1,200 of the other with one of the dense org in 50
	// and a user in 200; 600 of the dense org alone again.
	i := 0
	for range 600 {
		appendTo(secret(dense, i), i)
		i++
	}
	for j := range 1200 {
		switch {
		case j%50 == 0:
			appendTo(secret(dense, i), i)
		case j%200 == 1:
			appendTo(user(i), i)
		default:
			appendTo(secret(other, i), i)
		}
		i++
	}
	for range 600 {
		appendTo(secret(dense, i), i)
		i++
	}
	gets := watchDirectGets(t, s.nc)
	for _, tc := range []struct {
		scope          string
		until          uint64
		wantUnfiltered bool
	}{
		{dense, 0, true},
		{dense, 1500, true},
		{dense, 700, true},
		{other, 0, true},
		{domain.PlatformScope, 0, false},
		{domain.PlatformScope, 1000, false},
	} {
		want, err := s.scanFiltered(ctx, tc.scope, tc.until)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		gets.take()
		loadedBefore := s.EventsLoaded()
		var got []domain.Recorded
		if err := s.ScanScope(ctx, tc.scope, tc.until, func(r domain.Recorded) error {
			got = append(got, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		filtered, unfiltered, bare := gets.takeAll()
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("scan of %s until %d: %d events, the filtered reference %d (or they differ)", tc.scope, tc.until, len(got), len(want))
		}
		// Only the scope's messages are opened.
		if opened := s.EventsLoaded() - loadedBefore; opened != uint64(len(want)) {
			t.Fatalf("scan of %s until %d opened %d messages for %d events", tc.scope, tc.until, opened, len(want))
		}
		// A log without gaps is read unfiltered without headers only.
		if bare != unfiltered {
			t.Fatalf("scan of %s until %d: %d unfiltered requests, %d of them without headers", tc.scope, tc.until, unfiltered, bare)
		}
		if (unfiltered > 0) != tc.wantUnfiltered {
			t.Fatalf("scan of %s until %d: %d filtered and %d unfiltered requests; want unfiltered ones: %v", tc.scope, tc.until, filtered, unfiltered, tc.wantUnfiltered)
		}
		if tc.scope == dense && tc.until == 0 && filtered < 2 {
			// The dense org is sparse in the middle stretch: the scan goes back to
			// filtered reads there, after the first batch.
			t.Fatalf("scan of the dense org: %d filtered and %d unfiltered requests; want it to switch back to filtered reads", filtered, unfiltered)
		}
	}
}

// A bare batch counts its messages' sequences from where it starts, which only a log
// without gaps allows: where messages were deleted (the events stream denies it, a
// copy of it might not), the end marker's last sequence does not add up, nothing of
// the bare batch is kept, and the batch is read again with headers. The scan still
// equals the filtered reference, with the deleted sequences missing.
func TestBareScanReadsAGapWithHeaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	info, err := s.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.DenyDelete, cfg.DenyPurge = false, false
	if err := s.js.DeleteStream(ctx, StreamName); err != nil {
		t.Fatal(err)
	}
	if s.stream, err = s.js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	org := "33333333-3333-3333-3333-333333333333"
	for i := range 1200 {
		desc := fmt.Sprint(i)
		a := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: fmt.Sprintf("%08d-0000-0000-0000-000000000000", i%31)}
		if _, err := s.Append(ctx, Pending{Aggregate: a, Unchecked: true, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range []uint64{300, 301, 777} {
		if err := s.stream.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	want, err := s.scanFiltered(ctx, org, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	gets := watchDirectGets(t, s.nc)
	got, err := s.LoadScope(ctx, org, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	_, unfiltered, bare := gets.takeAll()
	if len(want) != 1197 || !reflect.DeepEqual(got, want) {
		t.Fatalf("scan over a log with gaps: %d events, the filtered reference %d (or they differ)", len(got), len(want))
	}
	for _, r := range got {
		if r.Seq == 300 || r.Seq == 301 || r.Seq == 777 {
			t.Fatalf("the scan has an event at deleted sequence %d", r.Seq)
		}
	}
	if bare == 0 || unfiltered == bare {
		t.Fatalf("%d unfiltered requests, %d of them without headers: want the batches with a gap read again with headers", unfiltered, bare)
	}
}

// A scan that opens some aggregate types only passes every other event to fn in its
// place, with what its envelope says in clear and no Event, and opens (decrypts and
// decodes) none of them: the replay of an organization opens its secrets, not its
// reveals. The log is read both ways (its first batch filtered, the rest unfiltered
// without headers), with messages of one event and of two.
func TestScanScopeOpensOnlyTheAggregatesAsked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	org := "33333333-3333-3333-3333-333333333333"
	secrets := 0
	for i := range 1300 {
		id := fmt.Sprintf("%08d-0000-0000-0000-000000000000", i%41)
		p := Pending{Aggregate: Aggregate{OrgID: org, Type: domain.AggregateAccess, ID: id}, Unchecked: true,
			Events: []domain.Event{domain.SecretRevealed{SecretID: id, Env: domain.Production, Version: 1}},
			Actor:  domain.Actor{UserID: "u", IP: "10.0.0.1"}}
		if i%3 == 0 {
			desc := fmt.Sprint(i)
			p.Aggregate.Type = domain.AggregateSecret
			p.Events = []domain.Event{domain.SecretUpdated{Description: &desc}, domain.SecretUpdated{Removed: []domain.Environment{domain.Staging}}}
			secrets++
		} else if i%7 == 1 {
			p.Events = append(p.Events, domain.SecretRevealed{SecretID: id, Env: domain.Staging, Version: 2})
		}
		if _, err := s.Append(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, until := range []uint64{0, 900} {
		var all []domain.Recorded
		if err := s.ScanScope(ctx, org, until, func(r domain.Recorded) error {
			all = append(all, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		gets := watchDirectGets(t, s.nc)
		loadedBefore := s.EventsLoaded()
		var got []domain.Recorded
		opened := 0
		err := s.ScanScopeWith(ctx, org, ScanOptions{Until: until, Open: func(aggType string) bool { return aggType == domain.AggregateSecret }},
			func(r domain.Recorded) error {
				got = append(got, r)
				if r.Event != nil {
					opened++
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(all) || len(all) == 0 {
			t.Fatalf("until %d: %d events passed, the full scan %d", until, len(got), len(all))
		}
		for i, r := range got {
			want := all[i]
			if r.AggregateType != domain.AggregateSecret {
				if r.Event != nil {
					t.Fatalf("until %d: event %d (%s) was opened", until, i, r.AggregateType)
				}
				want.Event = nil
			}
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("until %d: event %d is %+v, want %+v", until, i, r, want)
			}
		}
		wantSecrets := secrets
		if until > 0 {
			wantSecrets = (int(until) + 2) / 3
		}
		if opened != 2*wantSecrets {
			t.Fatalf("until %d: %d events opened, want the %d of %d secret messages", until, opened, 2*wantSecrets, wantSecrets)
		}
		if n := s.EventsLoaded() - loadedBefore; n != uint64(wantSecrets) {
			t.Fatalf("until %d: %d messages counted as loaded, want the %d opened", until, n, wantSecrets)
		}
		if filtered, unfiltered, bare := gets.takeAll(); filtered == 0 || bare == 0 || bare != unfiltered {
			t.Fatalf("until %d: %d filtered, %d unfiltered, %d bare requests; want both ways", until, filtered, unfiltered, bare)
		}
	}
}
