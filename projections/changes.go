package projections

import (
	"fmt"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// notices collects the change notices of a batch while it is applied.
type notices struct {
	list []wire.ChangeNotice
}

func (n *notices) add(r domain.Recorded, typ string, env domain.Environment, oldVersion, newVersion int) {
	if n == nil {
		return
	}
	actor := r.Actor.UserID
	if actor == "" {
		actor = r.Actor.TokenID
	}
	n.list = append(n.list, wire.ChangeNotice{
		Type: typ, OrgID: r.OrgID, SecretID: r.AggregateID, Env: string(env),
		OldVersion: oldVersion, NewVersion: newVersion, ActorID: actor, At: r.Time, Seq: r.Seq,
	})
}

// number sets Part and Parts on the notices of the event at seq.
func (n *notices) number(seq uint64) {
	if n == nil {
		return
	}
	first := len(n.list)
	for first > 0 && n.list[first-1].Seq == seq {
		first--
	}
	for i := first; i < len(n.list); i++ {
		n.list[i].Part, n.list[i].Parts = i-first, len(n.list)-first
	}
}

// resolveNames fills in each notice's secret name, inside the batch's transaction. The
// name stays in memory: the change stream's Publish seals it before it is stored.
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
