package eventstore

import (
	"context"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// AnyID in an Aggregate's ID matches every aggregate of that type in its scope (the
// subject wildcard): LoadAsOf(ctx, Aggregate{OrgID: org, Type: "token", ID: AnyID}, at)
// reads every service token of an organization. Ids are UUIDs, so none is ">".
const AnyID = ">"

// LoadAsOf reads the events of agg (or, with AnyID, of every aggregate of its type in
// its scope), in stream order, up to the first event recorded after instant at, which
// ends the read: what those aggregates were at that instant. It reads only their
// subjects, so its cost is their histories up to at, never the rest of the log. A read
// that the log cut short is an error, never a shorter history.
func (s *Store) LoadAsOf(ctx context.Context, agg Aggregate, at time.Time) ([]domain.Recorded, error) {
	var out []domain.Recorded
	q := batchQuery{subject: agg.Subject(), from: 1}
	for {
		var batch Loaded
		r, err := s.loadFrom(ctx, q, &batch)
		if err != nil {
			return nil, err
		}
		for _, r := range batch.Events {
			if r.Time.After(at) {
				return out, nil
			}
			out = append(out, r)
		}
		if r.read < loadBatch || r.last == 0 {
			return out, nil
		}
		q.from = r.last + 1
	}
}
