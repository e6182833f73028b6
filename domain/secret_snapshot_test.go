package domain_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// snapshotOf is what a copy of the secret's current state holds (the read models'
// row): the replayed secret's current state, without earlier value versions.
func snapshotOf(s *domain.Secret) domain.SecretSnapshot {
	snap := domain.SecretSnapshot{Name: s.Name(), Description: s.Description(), OwnerID: s.OwnerID(),
		CreatedAt: s.CreatedAt(), UpdatedAt: s.UpdatedAt(), Version: s.Version(), Values: map[domain.Environment]domain.ValueSnapshot{}}
	for _, env := range []domain.Environment{domain.Development, domain.Staging, domain.Production} {
		if next := s.NextValueVersion(env); next > 1 {
			v, set := s.Value(env)
			if !set {
				v = domain.ValueVersion{Version: next - 1}
			}
			snap.Values[env] = domain.ValueSnapshot{Value: v, Set: set, UpdatedAt: s.ValueUpdatedAt(env)}
		}
	}
	return snap
}

// TestRestoredSecretDecidesAsTheReplayedOne: a secret restored from a snapshot of its
// current state decides every update, deletion and reveal as the secret replayed from
// its history does, and refuses to decide a rollback, which reads versions it does not
// hold, with ErrPartialHistory.
func TestRestoredSecretDecidesAsTheReplayedOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	history := []domain.Event{
		created(), // development and production v1
		domain.SecretUpdated{Set: values(domain.Production, vv(2, "prod-2"), domain.Staging, vv(1, "stg-1"))},
		domain.SecretValueDeleted{Env: domain.Development, Version: 1},
		domain.SecretRolledBack{Env: domain.Production, FromVersion: 1, Value: vv(3, "prod-1")},
	}
	decisions := map[string]func(*domain.Secret) ([]domain.Event, error){
		"same value": func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, creator, domain.SecretChange{Values: set(domain.Production, "prod-1")}, sealer)
		},
		"new values, a removal, a description": func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, creator, domain.SecretChange{Description: ptr("new"),
				Values: set(domain.Production, "prod-4", domain.Development, "dev-2", domain.Staging, nil)}, sealer)
		},
		"expected version": func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, creator, domain.SecretChange{ExpectedVersion: ptr(4), Values: set(domain.Staging, "stg-2")}, sealer)
		},
		"stale expected version": func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, creator, domain.SecretChange{ExpectedVersion: ptr(3), Values: set(domain.Staging, "stg-2")}, sealer)
		},
		"by a viewer": func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, viewer, domain.SecretChange{Values: set(domain.Staging, "stg-2")}, sealer)
		},
		"delete a removed value": func(s *domain.Secret) ([]domain.Event, error) {
			return one(s.DeleteValue(creator, domain.Development))
		},
		"delete": func(s *domain.Secret) ([]domain.Event, error) { return one(s.Delete(orgOwner)) },
		"reveal": func(s *domain.Secret) ([]domain.Event, error) {
			v, err := s.Reveal(otherEditor, domain.RevealAllowed, domain.Production)
			return []domain.Event{domain.SecretRevealed{Version: v.Version}}, err
		},
	}
	for name, decide := range decisions {
		replayed := given(t, freshSecret(), history...)
		restored := domain.RestoreSecret(orgID, secretID, snapshotOf(replayed))
		want, wantErr := decide(replayed)
		got, gotErr := decide(restored)
		if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) || domain.ErrorCode(gotErr) != domain.ErrorCode(wantErr) {
			t.Fatalf("%s: restored decided %#v, %v; replayed %#v, %v", name, got, gotErr, want, wantErr)
		}
	}
	restored := domain.RestoreSecret(orgID, secretID, snapshotOf(given(t, freshSecret(), history...)))
	if _, err := restored.Rollback(ctx, creator, domain.Production, 2, sealer); !errors.Is(err, domain.ErrPartialHistory) {
		t.Fatalf("a rollback of a restored secret: %v, want ErrPartialHistory", err)
	}
	// A rollback's authorization still comes first: a viewer learns nothing.
	if _, err := restored.Rollback(ctx, viewer, domain.Production, 2, sealer); !domain.IsCode(err, domain.CodeForbidden) {
		t.Fatalf("a viewer's rollback of a restored secret: %v, want forbidden", err)
	}
}
