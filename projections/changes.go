package projections

import (
	"context"
	"fmt"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// changePublisher publishes change notices; eventstore.Changes is one.
type changePublisher interface {
	Publish(ctx context.Context, n eventstore.ChangeNotice) error
}

// notices collects the change notices of a batch while it is applied.
type notices struct {
	list []eventstore.ChangeNotice
}

func (n *notices) add(r domain.Recorded, typ string, env domain.Environment, oldVersion, newVersion int) {
	if n == nil {
		return
	}
	actor := r.Actor.UserID
	if actor == "" {
		actor = r.Actor.TokenID
	}
	n.list = append(n.list, eventstore.ChangeNotice{
		Type: typ, OrgID: r.OrgID, SecretID: r.AggregateID, Env: string(env),
		OldVersion: oldVersion, NewVersion: newVersion, ActorID: actor, At: r.Time, Seq: r.Seq,
	})
}

// resolveNames fills in each notice's secret name, inside the batch's transaction.
func (n *notices) resolveNames(res *batchTx) error {
	for i := range n.list {
		c := &n.list[i]
		name, err := res.secretName(c.OrgID, c.SecretID)
		if err != nil {
			return fmt.Errorf("change notice: %w", err)
		}
		c.Name = name
	}
	return nil
}
