package projections

import (
	"time"

	"github.com/keyledger/keyledger/domain"
)

// liveRows are the rows of a batch's plain writes gathered since its last other
// statement: secrets created, secrets bumped by a change, values set, version rows,
// secret names and audit rows. queueRows sends each table's as one statement. A batch
// of creates queued five statements per secret before (its row, its name, a value and
// a version row per environment, its audit row), each a bind, an executor start and end
// for PostgreSQL and a statement for pgx to encode; a batch of grouped updates of one
// hot secret an UPDATE of its row per update. Only the audit rows went together
// (queueAudit).
//
// Putting the rows of different tables in an order of their own changes nothing a
// statement sees: the tables share no keys or triggers, a secret's row is inserted
// before it is bumped, and every other statement (a read, a delete, an UPDATE of its
// own) queues the rows gathered before it first (exec, sync). Within a table, rows
// that would write one key twice are merged the way running them in turn would leave
// it: an upsert's last row wins, bumps add up, and an insert that conflicts does
// nothing, as its single-row statement did.
type liveRows struct {
	secrets  []createdSecretRow
	bumps    []secretBump
	values   []setValueRow
	versions []versionRow
	names    []nameRow
	// audit are the audit rows (queueAudit).
	audit []liveAuditRow
	// bumpAt, valueAt and nameAt find a key's row in bumps, values and names.
	bumpAt  map[secretKey]int
	valueAt map[valueRowKey]int
	nameAt  map[secretKey]int
}

// reset empties the rows, what their slices held beyond their length included (the
// strings a queued row left behind), for another batch.
func (l *liveRows) reset() {
	emptied(&l.secrets)
	emptied(&l.bumps)
	emptied(&l.values)
	emptied(&l.versions)
	emptied(&l.names)
	emptied(&l.audit)
	clear(l.bumpAt)
	clear(l.valueAt)
	clear(l.nameAt)
}

// emptied makes *rows empty, keeping its room and no reference its rows held.
func emptied[R any](rows *[]R) {
	clear((*rows)[:cap(*rows)])
	*rows = (*rows)[:0]
}

type createdSecretRow struct {
	org, id, name, description, owner string
	at                                time.Time
	seq                               int64
}

type secretBump struct {
	org, id string
	n       int32
	at      time.Time
	seq     int64
}

type valueRowKey struct{ org, id, env string }

type setValueRow struct {
	key          valueRowKey
	version      int32
	mask, sealed string
	at           time.Time
}

type versionRow struct {
	org, id, env, action, actor string
	version, idx                int32
	at                          time.Time
	mask                        *string
	seq                         int64
}

type nameRow struct{ org, id, sealed string }

// createSecret gathers a created secret's row (INSERT … ON CONFLICT DO NOTHING).
func (r *batchTx) createSecret(rec domain.Recorded, name, description, owner string) {
	r.rows.secrets = append(r.rows.secrets, createdSecretRow{org: pgText(rec.OrgID), id: pgText(rec.AggregateID),
		name: pgText(name), description: pgText(description), owner: pgText(owner), at: rec.Time, seq: int64(rec.Seq)})
}

// bumpSecret gathers one more change of a secret's row: its version up by one, its
// time and sequence the change's.
func (r *batchTx) bumpSecret(rec domain.Recorded) {
	key := secretKey{rec.OrgID, rec.AggregateID}
	if i, ok := r.rows.bumpAt[key]; ok {
		b := &r.rows.bumps[i]
		b.n, b.at, b.seq = b.n+1, rec.Time, int64(rec.Seq)
		return
	}
	if r.rows.bumpAt == nil {
		r.rows.bumpAt = map[secretKey]int{}
	}
	r.rows.bumpAt[key] = len(r.rows.bumps)
	r.rows.bumps = append(r.rows.bumps, secretBump{org: pgText(rec.OrgID), id: pgText(rec.AggregateID), n: 1, at: rec.Time, seq: int64(rec.Seq)})
}

// setValue gathers an environment's value row (an upsert: the last one of a key wins).
func (r *batchTx) setValue(rec domain.Recorded, env domain.Environment, version int, mask, sealed string) {
	row := setValueRow{key: valueRowKey{pgText(rec.OrgID), pgText(rec.AggregateID), pgText(string(env))}, version: int32(version),
		mask: pgText(mask), sealed: pgText(sealed), at: rec.Time}
	putLast(&r.rows.valueAt, &r.rows.values, row.key, row)
}

// addVersion gathers a row of version history (INSERT … ON CONFLICT DO NOTHING).
func (r *batchTx) addVersion(rec domain.Recorded, env domain.Environment, version int, action, actor string, mask *string) {
	r.rows.versions = append(r.rows.versions, versionRow{org: pgText(rec.OrgID), id: pgText(rec.AggregateID), env: pgText(string(env)),
		action: pgText(action), actor: pgText(actor), version: int32(version), idx: int32(r.evIdx), at: rec.Time,
		mask: pgTextPtr(mask), seq: int64(rec.Seq)})
}

// nameSecret gathers a secret's sealed name (an upsert: the last one wins).
func (r *batchTx) nameSecret(org, id, sealed string) {
	putLast(&r.rows.nameAt, &r.rows.names, secretKey{org, id}, nameRow{org: pgText(org), id: pgText(id), sealed: pgText(sealed)})
}

// putLast puts row, an upsert's, among rows: in place of the row of the same key if
// one is there (the later upsert's values win), else at the end; at finds the rows.
func putLast[K comparable, R any](at *map[K]int, rows *[]R, key K, row R) {
	if i, ok := (*at)[key]; ok {
		(*rows)[i] = row
		return
	}
	if *at == nil {
		*at = map[K]int{}
	}
	(*at)[key] = len(*rows)
	*rows = append(*rows, row)
}

// The statements queueRows sends, one per table. Ids go as text and are cast, so that
// one that is not a UUID fails the batch as its single row's statement did. The
// bumps join the rows they change by key (the primary key's index, a few rows).
const (
	createdSecretsSQL = `INSERT INTO secrets (org_id, id, name_sealed, description_sealed, owner_id, created_at, updated_at, version, changed_seq)
		SELECT org_id::uuid, id::uuid, name_sealed, description_sealed, owner_id::uuid, at, at, 1, seq
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::int8[])
			AS r(org_id, id, name_sealed, description_sealed, owner_id, at, seq)
		ON CONFLICT DO NOTHING`
	bumpedSecretsSQL = `UPDATE secrets s SET version = s.version + b.n, updated_at = b.at, changed_seq = b.seq
		FROM (SELECT org_id::uuid AS org_id, id::uuid AS id, n, at, seq
			FROM unnest($1::text[], $2::text[], $3::int4[], $4::timestamptz[], $5::int8[]) AS r(org_id, id, n, at, seq)) b
		WHERE s.org_id = b.org_id AND s.id = b.id`
	setValuesSQL = `INSERT INTO secret_values (org_id, secret_id, env, is_set, version, mask, sealed, updated_at)
		SELECT org_id::uuid, secret_id::uuid, env, true, version, mask, sealed, at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], $7::timestamptz[])
			AS r(org_id, secret_id, env, version, mask, sealed, at)
		ON CONFLICT (org_id, secret_id, env) DO UPDATE SET is_set = true, version = EXCLUDED.version,
			mask = EXCLUDED.mask, sealed = EXCLUDED.sealed, updated_at = EXCLUDED.updated_at`
	versionRowsSQL = `INSERT INTO secret_versions (org_id, secret_id, env, version, action, actor_id, at, mask, seq, idx)
		SELECT org_id::uuid, secret_id::uuid, env, version, action, actor_id, at, mask, seq, idx
		FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::int8[], $10::int4[])
			AS r(org_id, secret_id, env, version, action, actor_id, at, mask, seq, idx)
		ON CONFLICT DO NOTHING`
	secretNamesSQL = `INSERT INTO secret_names (org_id, secret_id, name_sealed)
		SELECT org_id::uuid, secret_id::uuid, name_sealed FROM unnest($1::text[], $2::text[], $3::text[]) AS r(org_id, secret_id, name_sealed)
		ON CONFLICT (org_id, secret_id) DO UPDATE SET name_sealed = EXCLUDED.name_sealed`
)

// queueRows queues the rows gathered since the last statement, a statement per table
// (secrets created before any is bumped), then the audit rows (queueAudit). Every
// other write and every read queues them first, so that what it sees and does is what
// it would have after the rows' own statements.
func (r *batchTx) queueRows() {
	l := &r.rows
	r.queueSecrets(l)
	r.queueValues(l)
	r.queueNames(l)
	clear(l.bumpAt)
	clear(l.valueAt)
	clear(l.nameAt)
	r.queueAudit()
}

func (r *batchTx) queueSecrets(l *liveRows) {
	if n := len(l.secrets); n > 0 {
		orgs, ids, names, descs, owners, ats, seqs := make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]time.Time, n), make([]int64, n)
		for i, s := range l.secrets {
			orgs[i], ids[i], names[i], descs[i], owners[i], ats[i], seqs[i] = s.org, s.id, s.name, s.description, s.owner, s.at, s.seq
		}
		r.deferred.Queue(createdSecretsSQL, orgs, ids, names, descs, owners, ats, seqs)
		l.secrets = l.secrets[:0]
	}
	if n := len(l.bumps); n > 0 {
		orgs, ids, counts, ats, seqs := make([]string, n), make([]string, n), make([]int32, n), make([]time.Time, n), make([]int64, n)
		for i, b := range l.bumps {
			orgs[i], ids[i], counts[i], ats[i], seqs[i] = b.org, b.id, b.n, b.at, b.seq
		}
		r.deferred.Queue(bumpedSecretsSQL, orgs, ids, counts, ats, seqs)
		l.bumps = l.bumps[:0]
	}
}

func (r *batchTx) queueValues(l *liveRows) {
	if n := len(l.values); n > 0 {
		orgs, ids, envs, versions, masks, sealed, ats := make([]string, n), make([]string, n), make([]string, n),
			make([]int32, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, v := range l.values {
			orgs[i], ids[i], envs[i], versions[i], masks[i], sealed[i], ats[i] = v.key.org, v.key.id, v.key.env, v.version, v.mask, v.sealed, v.at
		}
		r.deferred.Queue(setValuesSQL, orgs, ids, envs, versions, masks, sealed, ats)
		l.values = l.values[:0]
	}
	if n := len(l.versions); n > 0 {
		orgs, ids, envs, versions, actions, actors := make([]string, n), make([]string, n), make([]string, n),
			make([]int32, n), make([]string, n), make([]string, n)
		ats, masks, seqs, idxs := make([]time.Time, n), make([]*string, n), make([]int64, n), make([]int32, n)
		for i, v := range l.versions {
			orgs[i], ids[i], envs[i], versions[i], actions[i], actors[i] = v.org, v.id, v.env, v.version, v.action, v.actor
			ats[i], masks[i], seqs[i], idxs[i] = v.at, v.mask, v.seq, v.idx
		}
		r.deferred.Queue(versionRowsSQL, orgs, ids, envs, versions, actions, actors, ats, masks, seqs, idxs)
		clear(l.versions) // the masks
		l.versions = l.versions[:0]
	}
}

func (r *batchTx) queueNames(l *liveRows) {
	if n := len(l.names); n > 0 {
		orgs, ids, sealed := make([]string, n), make([]string, n), make([]string, n)
		for i, s := range l.names {
			orgs[i], ids[i], sealed[i] = s.org, s.id, s.sealed
		}
		r.deferred.Queue(secretNamesSQL, orgs, ids, sealed)
		l.names = l.names[:0]
	}
}
