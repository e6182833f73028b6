package projections

import (
	"errors"
	"maps"

	"github.com/keyledger/keyledger/eventstore"
)

// A live batch carries on from the batch before it. Every batch of the live projector
// began with a round trip of its own: BEGIN, the search path, and the locks and reads
// of the checkpoint and of the audit chain heads it extends. Their answers are almost
// always what this projector's own last commit left, and that round trip was a
// quarter of a batch's time at 100,000 secrets (0.8 of 3.2 ms), which every write's
// answer waits for.
//
// So a batch that follows one this projector committed applies on what that commit
// left (carried): the checkpoint and the chain heads. Its transaction begins in the
// round trip of its writes and COMMIT (liveTx's late beginning), and the statements
// that write the checkpoint and the heads check what it applied on, in the same
// transaction:
//   - the checkpoint's advance runs only where the checkpoint is still the one the
//     batch follows and no newer lease revision claimed it (advanceCarriedSQL);
//   - each head is written only where it is still the one the batch chained its
//     entries to (extendHeadSQL).
//
// Either failing fails the statement (a division by zero), which stops the round trip
// before its COMMIT: nothing the batch wrote is kept. An event applied twice fails
// too (the audit trail's key). The batch is then applied again as every batch was
// before, under the locks, which skip what another projector applied and refuse a
// fenced one. Only batches commit a checkpoint or a head, and each commits both, so a
// checkpoint that did not move means heads that did not move either; the heads'
// check is kept all the same, as the lock's read was.

// carry is what the live projector's last commit left: the checkpoint and the audit
// chain heads of the organizations its batches audited since the checkpoint last moved
// under it (Projector.carry, which only runLoop's goroutine uses). A carried batch
// applies on a copy holding the heads of the organizations it audits, which its last
// writes check.
type carry struct {
	checkpoint uint64
	heads      map[string]string
}

// maxCarriedHeads bounds the chain heads a carry keeps; past it, it starts again with
// the last batch's (the next batch of another organization takes the locks once).
const maxCarriedHeads = 1 << 14

// errCarryMoved means a carried batch found the checkpoint or a chain head it applied
// on moved (another projector committed, or claimed the read models), or an event of
// it already applied: it is applied again under the locks.
var errCarryMoved = errors.New("read models moved under a carried batch")

// carryFor is what batch may apply on without the locks, or nil: a live batch, in a
// run without failures (after one, events go one per transaction under the locks),
// right after the last commit, without an erasure, auditing only organizations whose
// chain head that commit left.
func (p *Projector) carryFor(batch []eventstore.Delivery) *carry {
	if p.schema != "" || p.carry == nil || p.failures > 0 || batch[0].Seq != p.carry.checkpoint+1 || erases(batch) {
		return nil
	}
	orgs := auditedOrgs(batch)
	start := &carry{checkpoint: p.carry.checkpoint, heads: make(map[string]string, len(orgs))}
	for _, org := range orgs {
		h, ok := p.carry.heads[org]
		if !ok {
			return nil
		}
		start.heads[org] = h
	}
	return start
}

// keepCarry remembers what a live batch committed up to last left: heads, the chain
// heads it wrote. A batch that took the locks keeps the heads carried before only if
// the checkpoint it locked (locked) was the carried one: nobody committed in between.
// An erasure drops heads: the next batch takes the locks.
func (p *Projector) keepCarry(carried bool, locked uint64, heads map[string]string, last uint64, batch []eventstore.Delivery) {
	if p.schema != "" {
		return
	}
	if erases(batch) {
		p.carry = nil
		return
	}
	if p.carry == nil || (!carried && locked != p.carry.checkpoint) || len(p.carry.heads)+len(heads) > maxCarriedHeads {
		p.carry = &carry{heads: make(map[string]string, len(heads))}
	}
	maps.Copy(p.carry.heads, heads)
	p.carry.checkpoint = last
}

// advanceCarriedSQL is advanceCheckpointSQL for a carried batch: the checkpoint must
// also still be the one the batch follows ($4).
const advanceCarriedSQL = `WITH advanced AS (
		UPDATE projection_checkpoints SET seq = $2 WHERE name = $1 AND fence <= $3 AND seq = $4 RETURNING 1)
	SELECT 1 / count(*)::int FROM advanced`

// extendHeadSQL writes an organization's chain head ($3 at $2) where it is still the
// one the batch chained its entries to ($4, ” for an organization with none yet),
// and fails otherwise.
const extendHeadSQL = `WITH extended AS (
		INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, $2, $3)
		ON CONFLICT (org_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash WHERE audit_heads.hash = $4
		RETURNING 1)
	SELECT 1 / count(*)::int FROM extended`
