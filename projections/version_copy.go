package projections

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/keyledger/keyledger/domain"
)

// versionColumnsIn are the columns of a secret_versions row, as recordVersion writes
// them: the live projector's INSERT and a rebuild's COPY both name them from here.
var versionColumnsIn = []string{"org_id", "secret_id", "env", "version", "action", "actor_id", "at", "mask", "seq", "idx"}

// versionCopyRow is one row of a secret's version history as a rebuild copies it
// (recordVersion), typed, in versionColumnsIn's order. A rebuild's secret events were
// a row of history per value they set, each an INSERT of its own: with the audit
// rows already copied, those statements were a third of what PostgreSQL executed one
// by one for the log's creates and updates.
type versionCopyRow struct {
	orgID     pgtype.UUID
	orgText   string
	secretID  pgtype.UUID
	secretTxt string
	env       string
	version   int64
	action    string
	actorID   string
	at        time.Time
	mask      *string
	seq       int64
	idx       int64
}

// newVersionCopyRow makes the row, its text through pgText as the INSERT's arguments
// go through pgArgs.
func newVersionCopyRow(r domain.Recorded, env domain.Environment, version int, action, actor string, mask *string, idx int) versionCopyRow {
	row := versionCopyRow{env: pgText(string(env)), version: int64(version), action: pgText(action), actorID: pgText(actor),
		at: r.Time, mask: pgTextPtr(mask), seq: int64(r.Seq), idx: int64(idx)}
	row.orgID, row.orgText = copyUUIDText(pgText(r.OrgID))
	row.secretID, row.secretTxt = copyUUIDText(pgText(r.AggregateID))
	return row
}

// versionCopySource hands a rebuild's version rows to CopyFrom.
type versionCopySource = copySource[versionCopyRow, *versionCopyRow]

func (r *versionCopyRow) appendValues(dst []any) []any {
	return append(dst, uuidValue(&r.orgID, &r.orgText), uuidValue(&r.secretID, &r.secretTxt), textRef{&r.env},
		int8Ref{&r.version}, textRef{&r.action}, textRef{&r.actorID}, timeRef{&r.at}, sealedValue(r.mask), int8Ref{&r.seq}, int8Ref{&r.idx})
}

// versionsOfEvent remembers the environments whose version row the secret event being
// applied has written (recordVersion). The live INSERT does nothing on a second row
// of one event's environment (the table's key is org, secret, env, seq, idx), and a
// rebuild's COPY, which cannot skip a row, must keep the first one as it does.
type versionsOfEvent struct {
	seq  uint64
	idx  int
	envs []domain.Environment
}

// first says whether env's row is the event's first for env, and remembers it.
func (v *versionsOfEvent) first(seq uint64, idx int, env domain.Environment) bool {
	if seq != v.seq || idx != v.idx {
		v.seq, v.idx, v.envs = seq, idx, v.envs[:0]
	}
	for _, e := range v.envs {
		if e == env {
			return false
		}
	}
	v.envs = append(v.envs, env)
	return true
}
