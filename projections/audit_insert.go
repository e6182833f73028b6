package projections

import (
	"strconv"
	"strings"
	"time"
)

// liveAuditRow is an audit row the live projector has not queued yet: consecutive
// rows go to PostgreSQL as one INSERT (queueAudit).
type liveAuditRow struct {
	e                       AuditEntry
	nameSealed, namesSealed *string
}

// auditUnnestSQL is the live projector's INSERT of several audit rows at once: one
// array per column, unnested into rows. A batch of reveals is mostly audit rows, and
// an INSERT statement per row cost PostgreSQL its bind, executor start and end for
// each (about twice the CPU per row of one INSERT of ten, measured with pgbench on
// the audit table). The ids go as text and are cast here, so that one that is not a
// UUID fails the batch as the single row's INSERT did.
var auditUnnestSQL = func() string {
	types := []string{"text", "int8", "int4", "text", "timestamptz", "text", "text", "text", "text", "text",
		"text", "text", "text", "text", "text", "text", "text", "text"}
	params := make([]string, len(auditColumnsIn))
	cols := make([]string, len(auditColumnsIn))
	for i, c := range auditColumnsIn {
		params[i] = "$" + strconv.Itoa(i+1) + "::" + types[i] + "[]"
		cols[i] = c
		if c == "org_id" || c == "secret_id" {
			cols[i] = c + "::uuid"
		}
	}
	return `INSERT INTO audit_log (` + strings.Join(auditColumnsIn, ", ") + `) SELECT ` + strings.Join(cols, ", ") +
		` FROM unnest(` + strings.Join(params, ", ") + `) AS r(` + strings.Join(auditColumnsIn, ", ") + `) ON CONFLICT DO NOTHING`
}()

// queueAudit queues the audit rows gathered since the last write as one INSERT, in
// their place among the batch's writes: every other write (exec, execChecked) and
// every send (sync) queues them first, so the statements reach PostgreSQL in the
// order the projector made them, as when each row was an INSERT of its own.
func (r *batchTx) queueAudit() {
	rows := r.rows.audit
	if len(rows) == 0 {
		return
	}
	r.rows.audit = rows[:0]
	n := len(rows)
	var (
		orgs, eventIDs, actions, outcomes, actorIDs, actorEmails = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		details, ips, userAgents, prevHashes, hashes             = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		secretIDs, names, envs, lists                            = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		seqs                                                     = make([]int64, n)
		idxs                                                     = make([]int32, n)
		ats                                                      = make([]time.Time, n)
	)
	for i, row := range rows {
		e := row.e
		orgs[i], seqs[i], idxs[i], eventIDs[i], ats[i] = pgText(e.OrgID), int64(e.Seq), int32(e.Idx), pgText(e.EventID), e.At
		actions[i], outcomes[i], actorIDs[i], actorEmails[i] = pgText(e.Action), pgText(e.Outcome), pgText(e.ActorID), pgText(e.ActorEmail)
		secretIDs[i], names[i], envs[i] = pgTextPtr(nullable(e.SecretID)), pgTextPtr(row.nameSealed), pgTextPtr(nullable(e.Env))
		details[i], ips[i], userAgents[i] = pgText(e.Details), pgText(e.IP), pgText(e.UserAgent)
		prevHashes[i], hashes[i], lists[i] = pgText(e.PrevHash), pgText(e.Hash), pgTextPtr(row.namesSealed)
	}
	clear(rows)
	r.deferred.Queue(auditUnnestSQL, orgs, seqs, idxs, eventIDs, ats, actions, outcomes, actorIDs, actorEmails, secretIDs,
		names, envs, details, ips, userAgents, prevHashes, hashes, lists)
}
