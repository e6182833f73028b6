package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// An erased organization's events stay in the log and can no longer be opened. The
// projector passes them over, and only them: it knows the erased organizations from
// the log's erasure records (listed when it starts, and each one it applies), and an
// event that does not open for any other reason stalls it, loudly, as any event it
// cannot apply does.

// erasureSource is what the projector asks the log about erased organizations. The
// event store implements it; a follower without it makes every unreadable event stall.
type erasureSource interface {
	Erasures(ctx context.Context) ([]eventstore.Erasure, error)
	ShredOrganization(ctx context.Context, er eventstore.Erasure) error
}

// loadErasures lists the erased organizations before an attempt follows the log, so
// that nothing of them is applied, even events that were readable when written.
func (p *Projector) loadErasures(ctx context.Context) error {
	src, ok := p.events.(erasureSource)
	if !ok {
		return nil
	}
	ers, err := src.Erasures(ctx)
	if err != nil {
		return err
	}
	p.erased = make(map[string]uint64, len(ers))
	for _, er := range ers {
		p.erased[er.OrgID] = er.Seq
	}
	return nil
}

// applyDelivery applies one message of the log, passing over what belongs to an
// erased organization.
func (p *Projector) applyDelivery(ctx context.Context, d eventstore.Delivery, notes *notices, res *batchTx) error {
	if d.Err != nil {
		var erased *eventstore.ErasedError
		if !errors.As(d.Err, &erased) {
			return fmt.Errorf("open event %d: %w", d.Seq, d.Err)
		}
		return p.passOver(ctx, erased.OrgID, erased.Seq, d.Seq)
	}
	for _, r := range d.Records {
		if at, ok := p.erased[r.OrgID]; ok {
			if err := p.passOver(ctx, r.OrgID, at, r.Seq); err != nil {
				return err
			}
			continue
		}
		if e, ok := r.Event.(domain.OrganizationErased); ok {
			if err := p.eraseOrganization(ctx, r, e, res); err != nil {
				return err
			}
			continue
		}
		if err := p.db.apply(ctx, r, notes, res); err != nil {
			return fmt.Errorf("apply event %d (%s): %w", d.Seq, r.Event.EventType(), err)
		}
	}
	return nil
}

// passOver skips an event of an organization erased at sequence at. An event after
// the erasure was written by a command that raced it, possibly under a key created
// after the shredding: the organization's keys are shredded again.
func (p *Projector) passOver(ctx context.Context, orgID string, at, seq uint64) error {
	if p.erased == nil {
		p.erased = map[string]uint64{}
	}
	p.erased[orgID] = at
	if seq <= at {
		return nil
	}
	src, ok := p.events.(erasureSource)
	if !ok {
		return nil
	}
	return src.ShredOrganization(ctx, eventstore.Erasure{OrgID: orgID, Seq: at})
}

// eraseOrganization applies an erasure record: it shreds the organization's keys
// (again: the command did it first, unless a crash came in between) and then drops
// every row of the organization, in every read-model schema, in the batch's
// transaction. The shredding comes first so that a checkpoint past the record
// always means the keys are gone.
func (p *Projector) eraseOrganization(ctx context.Context, r domain.Recorded, e domain.OrganizationErased, res *batchTx) error {
	if !isUUID(e.OrgID) {
		return nil
	}
	if src, ok := p.events.(erasureSource); ok {
		er := eventstore.Erasure{OrgID: e.OrgID, Seq: r.Seq, EventID: r.EventID, Time: r.Time, Actor: r.Actor}
		if err := src.ShredOrganization(ctx, er); err != nil {
			return fmt.Errorf("erase organization at %d: %w", r.Seq, err)
		}
	}
	if p.erased == nil {
		p.erased = map[string]uint64{}
	}
	p.erased[e.OrgID] = r.Seq
	if err := res.dropOrganization(e.OrgID); err != nil {
		return fmt.Errorf("erase organization at %d: %w", r.Seq, err)
	}
	p.db.names.forget(e.OrgID)
	return nil
}

// dropOrganization deletes an organization's rows from every table with an org_id in
// every read-model schema: the live one, a rebuild's, and the one a rebuild replaced
// (kept until the next rebuild), which still holds the organization's name.
func (r *batchTx) dropOrganization(orgID string) error {
	rows, err := r.query(`SELECT table_schema, table_name FROM information_schema.columns
		WHERE column_name = 'org_id' AND table_schema LIKE 'keyledger\_rm\_%'
		  AND (table_schema, table_name) IN (SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')
		ORDER BY table_schema, table_name`)
	if err != nil {
		return fmt.Errorf("list read-model tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pgx.Identifier, error) {
		var schema, table string
		err := row.Scan(&schema, &table)
		return pgx.Identifier{schema, table}, err
	})
	if err != nil {
		return fmt.Errorf("list read-model tables: %w", err)
	}
	for _, t := range tables {
		r.exec(`DELETE FROM `+t.Sanitize()+` WHERE org_id = $1`, orgID)
	}
	delete(r.heads, orgID)
	for key := range r.names {
		if key.org == orgID {
			delete(r.names, key)
		}
	}
	for key := range r.sealed {
		if key.org == orgID {
			delete(r.sealed, key)
		}
	}
	return r.sync()
}

// forget drops an organization's names from the grid's index, and the views kept of
// its rows.
func (ix *nameIndex) forget(orgID string) {
	ix.mu.Lock()
	on := ix.orgs[orgID]
	delete(ix.orgs, orgID)
	ix.mu.Unlock()
	if on != nil {
		ix.views.forget(on)
	}
}
