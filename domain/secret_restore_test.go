package domain_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// A secret restored from its current state (RestoreSecret) decides updates, value
// removals and deletions as the replayed secret does, and refuses what needs the value
// history (a rollback) instead of answering that a version does not exist.
func TestRestoredSecretDecidesOnItsCurrentState(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	st := domain.SecretState{
		Name: "DB_PASSWORD", Description: "primary", OwnerID: creator.UserID, CreatedAt: at, UpdatedAt: at.Add(time.Hour), Version: 7,
		Values: map[domain.Environment]domain.EnvState{
			domain.Production: {Value: vv(4, "p4"), Set: true, UpdatedAt: at.Add(time.Hour)},
			// Removed after its third version: the next one is the fourth.
			domain.Staging: {Value: domain.ValueVersion{Version: 3}, Set: false, UpdatedAt: at.Add(time.Minute)},
		},
	}
	tests := []struct {
		name   string
		decide func(s *domain.Secret) ([]domain.Event, error)
		want   []domain.Event
		err    error
		code   domain.Code
	}{
		{"a new value takes the version after the last, a removed one's too", func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, creator, domain.SecretChange{Values: set(domain.Production, "p5", domain.Staging, "s4", domain.Development, "d1")}, sealer)
		}, []domain.Event{domain.SecretUpdated{Set: values(domain.Development, vv(1, "d1"), domain.Production, vv(5, "p5"), domain.Staging, vv(4, "s4"))}}, nil, ""},
		{"the current value again is no change", func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, creator, domain.SecretChange{Values: set(domain.Production, "p4"), Description: ptr("primary")}, sealer)
		}, nil, nil, ""},
		{"expected_version is the event count", func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, creator, domain.SecretChange{Values: set(domain.Production, "p5"), ExpectedVersion: ptr(6)}, sealer)
		}, nil, nil, domain.CodeVersionConflict},
		{"ownership still decides", func(s *domain.Secret) ([]domain.Event, error) {
			return s.Update(ctx, otherEditor, domain.SecretChange{Values: set(domain.Production, "p5")}, sealer)
		}, nil, nil, domain.CodeForbidden},
		{"removing a removed value is not found", func(s *domain.Secret) ([]domain.Event, error) {
			ev, err := s.DeleteValue(creator, domain.Staging)
			return []domain.Event{ev}, err
		}, nil, nil, domain.CodeNotFound},
		{"a deletion names the secret", func(s *domain.Secret) ([]domain.Event, error) {
			ev, err := s.Delete(orgAdmin)
			return []domain.Event{ev}, err
		}, []domain.Event{domain.SecretDeleted{Name: "DB_PASSWORD"}}, nil, ""},
		{"a rollback needs the history", func(s *domain.Secret) ([]domain.Event, error) {
			ev, err := s.Rollback(ctx, creator, domain.Production, 4, sealer)
			return []domain.Event{ev}, err
		}, nil, domain.ErrNoValueHistory, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := domain.RestoreSecret(orgID, secretID, st).Clone()
			if !s.Partial() || !s.Exists() || s.Version() != 7 || s.Name() != "DB_PASSWORD" {
				t.Fatalf("restored: partial %v exists %v version %d name %q", s.Partial(), s.Exists(), s.Version(), s.Name())
			}
			got, err := tt.decide(s)
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			case tt.code != "":
				if !domain.IsCode(err, tt.code) {
					t.Fatalf("err = %v, want %s", err, tt.code)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("events = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
