package projections

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// Looking for the names a batch of reveals will need costs no allocation per event
// when the batch knows them all (a rebuild's kept names): asking auditSubject for the
// secret made its environments' slice and its details' string for every event.
func TestPrefetchOfKnownNamesAllocatesNothingPerEvent(t *testing.T) {
	r := newBatchTx(context.Background(), &recordingTx{}, &writer{bulk: true, kept: &keptNames{}})
	const org = "6f1c2d3e-0000-4000-8000-000000000001"
	var recs []domain.Recorded
	for i := range 200 {
		id := fmt.Sprintf("6f1c2d3e-0000-4000-8000-%012d", i%20)
		r.names[secretKey{org, id}] = fmt.Sprint("NAME_", i%20)
		recs = append(recs, domain.Recorded{OrgID: org, AggregateID: id, Seq: uint64(i + 1),
			Event: domain.SecretRevealed{SecretID: id, Env: domain.Production, Version: 1}})
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := r.prefetchNames(recs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Fatalf("%.0f allocations to find 200 events' names known, want at most 2", allocs)
	}
}

// auditSecretID names the secret auditSubject names, for every event type it knows.
func TestAuditSecretIDIsAuditSubjects(t *testing.T) {
	t.Parallel()
	const agg, other = "6f1c2d3e-0000-4000-8000-000000000002", "6f1c2d3e-0000-4000-8000-000000000003"
	policy := domain.RevealAllowed
	for _, ev := range []domain.Event{
		domain.SecretCreated{Name: "N"}, domain.SecretUpdated{}, domain.SecretValueDeleted{Env: domain.Production},
		domain.SecretDeleted{}, domain.SecretRolledBack{Env: domain.Production},
		domain.SecretRevealed{SecretID: other, Env: domain.Production}, domain.AccessDenied{SecretID: other},
		domain.AccessDenied{SecretID: other, Env: domain.Staging}, domain.SecretsFetched{Env: domain.Production},
		domain.OrganizationUpdated{RevealPolicy: &policy}, domain.MemberAdded{}, domain.OrganizationCreated{},
	} {
		r := domain.Recorded{AggregateID: agg, Event: ev}
		if want, _, _ := auditSubject(r); auditSecretID(r) != want {
			t.Errorf("%T: auditSecretID %q, auditSubject %q", ev, auditSecretID(r), want)
		}
	}
}
