package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// historyLog reads an aggregate's events up to a stream sequence.
type historyLog interface {
	LoadUntil(ctx context.Context, agg eventstore.Aggregate, until uint64) (eventstore.Loaded, error)
}

// OrganizationAt is an organization as the log holds it up to stream sequence seq (0:
// all of it). The API answers a command on an organization from it, so that the
// answer is the command's own result whether or not the read models show it yet.
func OrganizationAt(ctx context.Context, log historyLog, orgID string, seq uint64) (*domain.Organization, []domain.Recorded, error) {
	if err := validID("organization", orgID); err != nil {
		return nil, nil, err
	}
	l, err := log.LoadUntil(ctx, orgAggregate(orgID), seq)
	if err != nil {
		return nil, nil, fmt.Errorf("load organization: %w", err)
	}
	o := domain.NewOrganization(orgID)
	for _, r := range l.Events {
		o.Apply(r)
	}
	if !o.Exists() {
		return nil, nil, domain.Errorf(domain.CodeNotFound, "The organization was not found.")
	}
	return o, l.Events, nil
}

// MemberView is one member of an organization as the log holds it.
type MemberView struct {
	UserID  string
	Email   string
	Name    string
	Role    domain.Role
	AddedAt time.Time
}

// MemberAt is userID's membership in an organization as the log holds it up to stream
// sequence seq (0: all of it); not_found when the user is not a member then.
func MemberAt(ctx context.Context, log interface {
	historyLog
	eventLog
}, orgID, userID string, seq uint64) (MemberView, error) {
	o, events, err := OrganizationAt(ctx, log, orgID, seq)
	if err != nil {
		return MemberView{}, err
	}
	role := o.Role(userID)
	if role == "" {
		return MemberView{}, domain.Errorf(domain.CodeNotFound, "The member was not found.")
	}
	mv := MemberView{UserID: userID, Role: role}
	for _, r := range events {
		if added, ok := r.Event.(domain.MemberAdded); ok && added.UserID == userID {
			mv.AddedAt = r.Time
		}
		if created, ok := r.Event.(domain.OrganizationCreated); ok && created.OwnerID == userID && mv.AddedAt.IsZero() {
			mv.AddedAt = r.Time
		}
	}
	if u, err := loadUserPatiently(ctx, log, userID); err == nil && u.Exists() {
		mv.Email, mv.Name = u.Email(), u.Name()
	}
	return mv, nil
}
