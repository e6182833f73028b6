package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// AsOfLoader reads aggregates' events as they were at an instant; *eventstore.Store is one.
type AsOfLoader interface {
	LoadAsOf(ctx context.Context, agg eventstore.Aggregate, at time.Time) ([]domain.Recorded, error)
}

// AccessReview is who could do what to one secret at an instant.
type AccessReview struct {
	At         time.Time
	SecretID   string
	SecretName string
	OwnerID    string
	Subjects   []domain.AccessSubject
}

// AccessAt reviews access to secretID in orgID at instant at, from the log alone (no
// read model is consulted, so a row edited in Postgres cannot hide anyone). It reads
// the organization's aggregate (membership, roles, reveal policy), the secret's, the
// organization's service tokens and the platform's user registrations (emails, names,
// super-admins), each up to at: the cost is those histories, not the organization's
// whole log (its reveals, fetches and other secrets are never read). A secret that did
// not exist at at, or an id that is not a UUID, is not_found.
func AccessAt(ctx context.Context, log AsOfLoader, orgID, secretID string, at time.Time) (AccessReview, error) {
	if !isUUID(orgID) || !isUUID(secretID) {
		return AccessReview{}, notFound("secret")
	}
	review := domain.NewAccessReview(orgID, secretID, at)
	load := func(agg eventstore.Aggregate) error {
		events, err := log.LoadAsOf(ctx, agg, at)
		if err != nil {
			return fmt.Errorf("access review: load %s: %w", agg.Type, err)
		}
		for _, r := range events {
			review.Apply(r)
		}
		return nil
	}
	if err := load(eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateSecret, ID: secretID}); err != nil {
		return AccessReview{}, err
	}
	if err := review.SecretExisted(); err != nil {
		// Nothing to review: answer without reading the other histories.
		return AccessReview{}, err
	}
	for _, agg := range []eventstore.Aggregate{
		{OrgID: orgID, Type: domain.AggregateOrganization, ID: orgID},
		{OrgID: orgID, Type: domain.AggregateServiceToken, ID: eventstore.AnyID},
		{OrgID: domain.PlatformScope, Type: domain.AggregateUser, ID: eventstore.AnyID},
	} {
		if err := load(agg); err != nil {
			return AccessReview{}, err
		}
	}
	subjects, err := review.Subjects()
	if err != nil {
		return AccessReview{}, err
	}
	s := review.Secret()
	return AccessReview{At: at, SecretID: secretID, SecretName: string(s.Name()), OwnerID: s.OwnerID(), Subjects: subjects}, nil
}
