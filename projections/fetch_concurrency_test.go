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
)

// sealedValuesReader is what a values fetch reads of the read models.
type sealedValuesReader interface {
	SealedValues(ctx context.Context, orgID string, env domain.Environment) ([]domain.StoredValue, uint64, error)
}

// countingValues is the real read model, counting the fetches inside it at once.
type countingValues struct {
	sealedValuesReader
	now, most atomic.Int32
}

func (c *countingValues) SealedValues(ctx context.Context, orgID string, env domain.Environment) ([]domain.StoredValue, uint64, error) {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond) // long enough for the others to pile up
	return c.sealedValuesReader.SealedValues(ctx, orgID, env)
}

// Values fetches open values a few at a time: each holds its environment's values
// twice while it works, so 32 at once held 32 environments for no more throughput
// than the cores give. The others wait their turn (or until their caller gives up),
// and every one of them gets its values.
func TestValuesFetchesOpenValuesAFewAtATime(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	var last uint64
	for i := range 5 {
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: fmt.Sprintf("KEY_%d", i),
			Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext(fmt.Sprint("value-", i))}})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	r.wait(t, last)
	spy := &countingValues{sealedValuesReader: r.db.Secrets}
	h := commands.NewFetchValuesHandler(r.env.Store, r.env.Store.Keyring(), spy).WithConcurrentFetches(2)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			got, err := h.Handle(ctx, r.owner, commands.FetchValues{OrgID: r.orgID, Env: domain.Production})
			if err != nil {
				t.Error(err)
				return
			}
			if got.Values.Len() != 5 || len(got.Names) != 5 || got.Values.Reveal(0) != "value-0" {
				t.Errorf("fetched %d values", got.Values.Len())
			}
		})
	}
	wg.Wait()
	if most := spy.most.Load(); most != 2 {
		t.Fatalf("%d fetches read values at once, want 2", most)
	}

	// A caller who gives up while waiting leaves with its context's error.
	hold := make(chan struct{})
	blocked := &blockingValues{sealedValuesReader: r.db.Secrets, hold: hold, entered: make(chan struct{})}
	h2 := commands.NewFetchValuesHandler(r.env.Store, r.env.Store.Keyring(), blocked).WithConcurrentFetches(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h2.Handle(ctx, r.owner, commands.FetchValues{OrgID: r.orgID, Env: domain.Production})
	}()
	<-blocked.entered
	waiting, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := h2.Handle(waiting, r.owner, commands.FetchValues{OrgID: r.orgID, Env: domain.Production}); err == nil {
		t.Fatal("a fetch waiting past its deadline got values")
	}
	close(hold)
	<-done
}

// blockingValues holds the first fetch inside the read model until hold closes.
type blockingValues struct {
	sealedValuesReader
	hold    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (b *blockingValues) SealedValues(ctx context.Context, orgID string, env domain.Environment) ([]domain.StoredValue, uint64, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.hold
	return b.sealedValuesReader.SealedValues(ctx, orgID, env)
}

// A fetch reads the environment's values in name order (byte order), with no value of
// a deleted secret and none of a secret without a value there, whatever order the
// secrets were made in: the order comes from the name index, not from a sort.
func TestSealedValuesComeInNameOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	names := []string{"ZETA", "ALPHA", "BETA_2", "BETA_10", "_X", "A", "MIDDLE", "BETA_1", "GONE", "NO_PROD"}
	ids := map[string]string{}
	var last uint64
	for _, name := range names {
		env := domain.Production
		if name == "NO_PROD" {
			env = domain.Staging
		}
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: name,
			Values: map[domain.Environment]domain.Plaintext{env: domain.NewPlaintext("v-" + name)}})
		if err != nil {
			t.Fatal(err)
		}
		ids[name], last = res.ID, res.Seq
	}
	del, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: ids["GONE"]})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, max(last, del.Seq))
	got, asOf, err := r.db.Secrets.SealedValues(ctx, r.orgID, domain.Production)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A", "ALPHA", "BETA_1", "BETA_10", "BETA_2", "MIDDLE", "ZETA", "_X"}
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i, v := range got {
		if string(v.Name) != want[i] || v.SecretID != ids[want[i]] {
			t.Fatalf("value %d is %s, want %s", i, v.Name, want[i])
		}
	}
	// The values are as of the checkpoint the read models had reached, which the test
	// waited for.
	if asOf < max(last, del.Seq) {
		t.Fatalf("values as of %d, read after the read models reached %d", asOf, max(last, del.Seq))
	}
}
