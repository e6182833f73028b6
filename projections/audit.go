package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keyledger/keyledger/domain"
)

// batchTx resolves names and emails inside the projector's transaction, caching
// them for the batch (names and emails never change once written).
type batchTx struct {
	ctx    context.Context
	tx     pgx.Tx
	db     *writer
	names  map[secretKey]string
	emails map[string]string
	// heads are the organizations' audit chain heads, locked and read once per batch;
	// deferred holds the audit inserts, sent in one round trip at the end.
	heads    map[string]string
	deferred *pgx.Batch
	// idx numbers the entries of the message being applied (entryIndex).
	idx entryIndex
	// evSeq and evIdx place the secret event being applied in its message (0 for
	// the first): a shared message may change one environment several times, and
	// each change keeps its own version row (recordVersion).
	evSeq uint64
	evIdx int
	// values are the value versions this batch has written, by valueKey: a message
	// of grouped updates changes one secret's values many times, and each change's
	// notice needs the version before it, which would otherwise cost a round trip to
	// Postgres per event (currentVersion).
	values map[string]valueState
	// auditRows are the audit rows a rebuild copies at the next sync (insertAudit);
	// versionRows its rows of version history (insertVersion), and versionsOfEvent
	// the environments of the event being applied that have one.
	auditRows       []auditCopyRow
	versionRows     []versionCopyRow
	versionsOfEvent versionsOfEvent
	// entries holds the audit entries of the event being applied, made once and
	// filled again for each event: insertAudit copies them into the batch's rows.
	entries []AuditEntry
	// rows are the live projector's plain writes to the grid, the version history and
	// the audit trail not queued yet: a table's go as one statement (queueRows).
	rows liveRows
	// sealed are the secret names sealed for grid, name and audit rows, given again
	// to the secret's later rows (sealSecretName): a rebuild's batches share one map,
	// a live batch makes its own when it first seals one.
	sealed map[secretKey]sealedName
	// behind, when set, is the end of the writes a rebuild's batch sends from another
	// goroutine while this one applies the next events (writeBehind); nothing else
	// uses the transaction until it is received (settle). behindErr is what it
	// ended with, which fails the batch.
	behind    chan error
	behindErr error
	// foldable, in a rebuild's batch, are the secrets whose grid rows it folds in
	// memory (prefetchFolds), each with its state once its first event is applied;
	// folded are those states in that order, until a sync copies them (takeFolds).
	foldable map[secretKey]*foldedSecret
	folded   []*foldedSecret
	// foldableNames are the secrets whose name row the batch copies (foldName), each
	// with its place in nameRows once written.
	foldableNames map[secretKey]int
	nameRows      []nameCopyRow
	// deletionRows are the secrets' tombstones a rebuild's batch copies (insertDeletion);
	// deletedOfSeq the secrets the message at deletedSeq deleted.
	deletionRows []deletionCopyRow
	deletedSeq   uint64
	deletedOfSeq []secretKey
	// start, when set, begins the batch's transaction (tx) when it is first needed,
	// on whichever goroutine sends first (a pipelined rebuild batch: rebuild_pipeline.go);
	// startErr is what it ended with. carried are the audit chain heads the batch
	// applies on until then.
	start    func() error
	startErr error
	carried  map[string]string
}

// nextSecretEvent moves the secret event's place on to the event at seq.
func (r *batchTx) nextSecretEvent(seq uint64) {
	if seq != r.evSeq {
		r.evSeq, r.evIdx = seq, 0
		return
	}
	r.evIdx++
}

func newBatchTx(ctx context.Context, tx pgx.Tx, db *writer) *batchTx {
	names, emails := map[secretKey]string{}, map[string]string{}
	var sealed map[secretKey]sealedName
	if db.kept != nil {
		names, emails, sealed = db.kept.maps()
	}
	return &batchTx{ctx: ctx, tx: tx, db: db, names: names, emails: emails, sealed: sealed,
		heads: map[string]string{}, deferred: &pgx.Batch{}, values: map[string]valueState{}, rows: db.takeRows()}
}

func (r *batchTx) secretName(orgID, secretID string) (string, error) {
	key := secretKey{orgID, secretID}
	if n, ok := r.names[key]; ok {
		return n, nil
	}
	if n, ok := r.indexedName(orgID, secretID); ok {
		r.names[key] = n
		return n, nil
	}
	var sealed string
	err := r.queryRow(`SELECT name_sealed FROM secret_names WHERE org_id = $1 AND secret_id = $2`, orgID, secretID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("secret name: %w", err)
	}
	r.db.countNameReads(1)
	name, err := r.db.keys.Open(r.ctx, orgID, sealed, nameAAD(orgID, secretID))
	if err != nil {
		return "", fmt.Errorf("open secret name: %w", err)
	}
	r.names[key] = string(name)
	return string(name), nil
}

// indexedName is a secret's name as the grid's name index holds it open, for the live
// projector only. The index reflects the read models, which only this projector (or,
// before a handover, another from the same log) wrote: it knows no secret the batch's
// events have not reached, so an audit row names what it would have named from the
// table. A rebuild's batches are behind the live index (an event of a secret created
// later in the log would get a name that the live projector, at that event, did not
// have), so they read their own schema's table.
func (r *batchTx) indexedName(orgID, secretID string) (string, bool) {
	if r.db.bulk {
		return "", false
	}
	return r.db.names.knownName(orgID, secretID)
}

// prefetchNames reads, in one round trip, the names of the secrets the batch's audit
// entries will name and that are not known yet (a batch of reveals names many
// secrets; one query each made the rebuild a round trip per event). A secret the
// batch creates is not in the table yet, and its SecretCreated names it first.
func (r *batchTx) prefetchNames(recs []domain.Recorded) error {
	var orgs, ids []string
	asked := map[secretKey]bool{}
	for _, rec := range recs {
		if domain.AuditAction(rec.Event) == "" || rec.OrgID == domain.PlatformScope {
			continue
		}
		id := auditSecretID(rec)
		if id == "" {
			continue
		}
		key := secretKey{rec.OrgID, id}
		// Known names first: in a rebuild's batches (kept names) nearly every one is.
		if _, ok := r.names[key]; ok || asked[key] || !isUUID(id) || !isUUID(rec.OrgID) {
			continue
		}
		asked[key] = true
		if _, created := rec.Event.(domain.SecretCreated); created {
			// Not in the table yet: its own event names it (and asking for it made a
			// batch of creates read the table for nothing).
			continue
		}
		if n, ok := r.indexedName(rec.OrgID, id); ok {
			r.names[key] = n
			continue
		}
		orgs, ids = append(orgs, rec.OrgID), append(ids, id)
	}
	if len(ids) < 2 {
		return nil
	}
	rows, err := r.query(`SELECT n.org_id::text, n.secret_id::text, n.name_sealed FROM secret_names n
		JOIN unnest($1::text[]::uuid[], $2::text[]::uuid[]) AS want(org_id, secret_id) ON n.org_id = want.org_id AND n.secret_id = want.secret_id`, orgs, ids)
	if err != nil {
		return fmt.Errorf("secret names: %w", err)
	}
	type storedName struct{ org, id, sealed string }
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storedName, error) {
		var n storedName
		err := row.Scan(&n.org, &n.id, &n.sealed)
		return n, err
	})
	if err != nil {
		return fmt.Errorf("secret names: %w", err)
	}
	r.db.countNameReads(len(found))
	for _, n := range found {
		name, err := r.db.keys.Open(r.ctx, n.org, n.sealed, nameAAD(n.org, n.id))
		if err != nil {
			return fmt.Errorf("open secret name: %w", err)
		}
		r.names[secretKey{n.org, n.id}] = string(name)
	}
	return nil
}

func (r *batchTx) email(userID string) (string, error) {
	if !isUUID(userID) {
		return "", nil
	}
	if e, ok := r.emails[userID]; ok {
		return e, nil
	}
	var email string
	err := r.queryRow(`SELECT email FROM users WHERE id = $1`, userID).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("user email: %w", err)
	}
	r.emails[userID] = email
	return email, nil
}

// head returns an organization's audit chain head, locking it for the batch.
func (r *batchTx) head(orgID string) (string, error) {
	if h, ok := r.heads[orgID]; ok {
		return h, nil
	}
	if h, ok := r.carried[orgID]; ok {
		r.heads[orgID] = h
		return h, nil
	}
	var h string
	err := r.queryRow(`SELECT hash FROM audit_heads WHERE org_id = $1 FOR UPDATE`, orgID).Scan(&h)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("audit head: %w", err)
	}
	r.heads[orgID] = h
	return h, nil
}

// exec queues a write; it runs, in order, before the next read or at the batch's end.
// Most events only write, so a batch of them costs one round trip to Postgres.
func (r *batchTx) exec(sql string, args ...any) {
	r.queueRows()
	r.deferred.Queue(sql, pgArgs(args)...)
}

// checkedWrite is a queued write whose result is read once it has run: how many
// rows it changed.
type checkedWrite struct {
	tag pgconn.CommandTag
}

// RowsAffected is how many rows the write changed (0 until it has run).
func (w *checkedWrite) RowsAffected() int64 { return w.tag.RowsAffected() }

// execChecked queues a write like exec and returns where its result will be.
func (r *batchTx) execChecked(sql string, args ...any) *checkedWrite {
	w := &checkedWrite{}
	r.queueRows()
	r.deferred.Queue(sql, pgArgs(args)...).Exec(func(ct pgconn.CommandTag) error {
		w.tag = ct
		return nil
	})
	return w
}

// auditColumnsIn are the columns of an audit row as insertAudit takes them: the live
// projector's INSERT and a rebuild's COPY both name them from here.
var auditColumnsIn = []string{"org_id", "seq", "idx", "event_id", "at", "action", "outcome", "actor_id", "actor_email", "secret_id",
	"secret_name_sealed", "env", "details", "ip", "user_agent", "prev_hash", "hash", "names_sealed"}

// insertAudit writes the audit row of entry e, with its sealed secret name and list
// of names. The live projector queues it with the other writes, consecutive rows in
// one INSERT (queueAudit). A rebuild's
// (db.bulk) keeps the rows (typed, auditCopyRow) and copies them into the table at
// the next sync, with COPY, which costs
// PostgreSQL a fraction of an INSERT per row; the rebuild's log is mostly reveals,
// one audit row each.
//
// COPY leaves the rows after the writes queued with them, which is the order the
// projector's statements need: nothing it queues reads or writes audit_log but these
// rows and an erasure's DELETE (dropOrganization), and that one queries first, which
// syncs, so the rows before it are in the table when it runs. Without ON CONFLICT: the
// rebuild's schema is fresh and its checkpoint (locked by the same transaction) lets
// no event be applied twice, so a conflict would be a bug to stop at, not to skip.
func (r *batchTx) insertAudit(e AuditEntry, nameSealed, namesSealed *string) {
	if !r.db.bulk {
		r.rows.audit = append(r.rows.audit, liveAuditRow{e: e, nameSealed: nameSealed, namesSealed: namesSealed})
		return
	}
	// The two uuid columns go as uuids (auditCopyRow): COPY's binary format has no
	// cast from text, and pgx, handed a string, first fails to encode it (an error
	// built and dropped per value) before it parses it.
	if r.auditRows == nil {
		// Sized for the rows writeBehind hands over at once: grown by append, the
		// rows (a few hundred bytes each) were copied again at every doubling.
		r.auditRows = make([]auditCopyRow, 0, writeBehindRows)
	}
	r.auditRows = append(r.auditRows, newAuditCopyRow(e, nameSealed, namesSealed))
	r.writeBehind()
}

// writeBehindRows is how many audit rows a rebuild's batch gathers before it hands
// them, and the writes queued before them, to a goroutine that sends them (writeBehind).
const writeBehindRows = 1_000

// writeBehind sends the queued writes and audit rows from another goroutine, once a
// rebuild's batch has gathered writeBehindRows rows and no earlier send is in flight,
// so that PostgreSQL stores them while this goroutine applies the next events. A
// rebuild's batch of reveals spent a third of its time waiting for its one send at
// the end, with PostgreSQL idle while the events before it were applied.
//
// The order of the writes is kept: the goroutine sends them as sync would have, and
// every later use of the transaction (sync, and so every read and the batch's end)
// first waits for it. The live projector (not bulk) sends its writes at its reads and
// its end, as before: its batches are small and its commit is what a write waits on.
func (r *batchTx) writeBehind() {
	if !r.db.bulk || len(r.auditRows) < writeBehindRows {
		return
	}
	if r.behind != nil {
		select {
		case err := <-r.behind:
			r.behind = nil
			r.behindErr = err
		default:
			return
		}
	}
	if r.behindErr != nil {
		// The next sync fails the batch with it; nothing more is sent.
		return
	}
	r.queueRows()
	writes, rows, versions := r.deferred, r.auditRows, r.versionRows
	r.deferred, r.auditRows, r.versionRows = &pgx.Batch{}, nil, nil
	done := make(chan error, 1)
	r.behind = done
	go func() { done <- r.send(writes, rows, versions) }()
}

// settle waits for the writes sent from another goroutine (writeBehind), if any: the
// transaction is this goroutine's again. Every path out of a batch's transaction
// settles first, or the rollback would race the goroutine on the connection.
func (r *batchTx) settle() error {
	if r.behind != nil {
		r.behindErr = <-r.behind
		r.behind = nil
	}
	return r.behindErr
}

// sync sends the queued writes, then copies the kept audit rows (insertAudit), after
// the writes in flight (writeBehind).
func (r *batchTx) sync() error {
	if err := r.settle(); err != nil {
		return err
	}
	r.queueRows()
	writes, rows, versions := r.deferred, r.auditRows, r.versionRows
	r.deferred, r.auditRows, r.versionRows = &pgx.Batch{}, nil, nil
	if err := r.send(writes, rows, versions); err != nil {
		return err
	}
	return r.copyFolds()
}

// copyFolds copies the folded secrets' rows (rebuild_fold.go) as they are now, and
// the tombstones kept, after every write queued before: nothing queued touches a
// folded secret's rows or the tombstones, and from here on a folded secret's events
// are statements, queued after this copy.
func (r *batchTx) copyFolds() error {
	secrets, values, names := r.takeFolds()
	deletions := r.deletionRows
	r.deletionRows = nil
	return r.copyIn(
		copyTo{"secret_names", nameColumnsIn, len(names), &nameCopySource{rows: names}},
		copyTo{"secret_deletions", deletionColumnsIn, len(deletions), &deletionCopySource{rows: deletions}},
		copyTo{"secrets", secretColumnsIn, len(secrets), &secretCopySource{rows: secrets}},
		copyTo{"secret_values", valueColumnsIn, len(values), &valueCopySource{rows: values}},
	)
}

// send sends writes, then copies rows into the audit trail and versions into the
// version history.
func (r *batchTx) send(writes *pgx.Batch, rows []auditCopyRow, versions []versionCopyRow) error {
	if err := r.begin(); err != nil {
		return err
	}
	if writes.Len() > 0 {
		r.db.statements.Add(int64(writes.Len()))
		if err := r.tx.SendBatch(r.ctx, writes).Close(); err != nil {
			return fmt.Errorf("apply writes: %w", err)
		}
	}
	return r.copyIn(
		copyTo{"audit_log", auditColumnsIn, len(rows), &auditCopySource{rows: rows}},
		copyTo{"secret_versions", versionColumnsIn, len(versions), &versionCopySource{rows: versions}},
	)
}

// copyTo is one COPY of a batch: n rows from source into table's columns.
type copyTo struct {
	table   string
	columns []string
	n       int
	source  pgx.CopyFromSource
}

// copyIn runs the copies that have rows, in order.
func (r *batchTx) copyIn(copies ...copyTo) error {
	for _, c := range copies {
		if c.n == 0 {
			continue
		}
		if _, err := r.tx.CopyFrom(r.ctx, pgx.Identifier{c.table}, c.columns, c.source); err != nil {
			return fmt.Errorf("copy %s rows: %w", c.table, err)
		}
	}
	return nil
}

// begin begins the batch's transaction if it begins late (start), once.
func (r *batchTx) begin() error {
	if r.start != nil {
		start := r.start
		r.start = nil
		r.startErr = start()
	}
	return r.startErr
}

// insertVersion keeps a row of a secret's version history for a rebuild's next sync,
// which copies it (COPY, as insertAudit's rows) after the writes queued before it.
// Nothing the projector queues reads or writes secret_versions but these rows and an
// erasure's DELETE, which queries first (dropOrganization), so the rows before it are
// in the table when it runs. Without ON CONFLICT, the event's second row for one
// environment is left out here, as the INSERT's DO NOTHING leaves it out (the rows of
// other events cannot conflict: the schema is fresh and its checkpoint lets no event
// be applied twice).
func (r *batchTx) insertVersion(rec domain.Recorded, env domain.Environment, version int, action, actor string, mask *string) {
	if !r.versionsOfEvent.first(rec.Seq, r.evIdx, env) {
		return
	}
	r.versionRows = append(r.versionRows, newVersionCopyRow(rec, env, version, action, actor, mask, r.evIdx))
}

// queryRow reads after sending the queued writes, so it sees them.
func (r *batchTx) queryRow(sql string, args ...any) pgx.Row {
	if err := r.sync(); err != nil {
		return errRow{err}
	}
	return r.tx.QueryRow(r.ctx, sql, pgArgs(args)...)
}

// query reads rows after sending the queued writes.
func (r *batchTx) query(sql string, args ...any) (pgx.Rows, error) {
	if err := r.sync(); err != nil {
		return nil, err
	}
	return r.tx.Query(r.ctx, sql, pgArgs(args)...)
}

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// flush sends the queued writes and the new audit chain heads.
func (r *batchTx) flush(lastSeq uint64) error {
	r.queueHeads(lastSeq, nil, nil)
	return r.sync()
}

// queueHeads queues the writes of the new audit chain heads. The head of an
// organization in was (a carried batch's: carried_batch.go) is written only where it
// is still was[org], and refused says why not; the others were read under their locks
// in this transaction.
func (r *batchTx) queueHeads(lastSeq uint64, was map[string]string, refused func(error) error) {
	for org, h := range r.heads {
		prev, carried := was[org]
		if !carried {
			r.exec(`INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, $2, $3)
			ON CONFLICT (org_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash`, org, int64(lastSeq), h)
			continue
		}
		r.queueRows()
		r.deferred.Queue(extendHeadSQL, org, int64(lastSeq), h, prev).QueryRow(func(row pgx.Row) error {
			var one int
			return refused(row.Scan(&one))
		})
	}
}

// applyAudit appends an event's audit entries to its organization's chain.
func (db *writer) applyAudit(ctx context.Context, r domain.Recorded, res *batchTx) error {
	if c, ok := r.Event.(domain.SecretCreated); ok {
		sealed, err := db.sealSecretName(ctx, res, r.OrgID, r.AggregateID, string(c.Name))
		if err != nil {
			return err
		}
		// A rebuild's batch copies the row of a secret without one (rebuild_fold.go).
		if !res.foldName(r.OrgID, r.AggregateID, sealed) {
			res.nameSecret(r.OrgID, r.AggregateID, sealed)
		}
		res.names[secretKey{r.OrgID, r.AggregateID}] = string(c.Name)
	}
	entries, err := auditEntries(r, res, res.entries)
	if entries != nil {
		res.entries = entries
	}
	if err != nil || len(entries) == 0 {
		return err
	}
	res.idx.number(r.Seq, entries)
	prev, err := res.head(r.OrgID)
	if err != nil {
		return err
	}
	for _, e := range entries {
		e.PrevHash = prev
		e.Hash = chainHash(prev, e)
		prev = e.Hash
		var nameSealed *string
		if e.SecretID != "" && e.SecretName != "" {
			s, err := db.sealSecretName(ctx, res, r.OrgID, e.SecretID, e.SecretName)
			if err != nil {
				return err
			}
			nameSealed = &s
		}
		namesSealed, err := db.sealNames(ctx, e)
		if err != nil {
			return err
		}
		res.insertAudit(e, nameSealed, namesSealed)
	}
	res.heads[r.OrgID] = prev
	return nil
}

// namesAAD binds an entry's sealed list of names to that entry.
func namesAAD(e AuditEntry) []byte {
	return []byte("keyledger/audit/" + e.OrgID + "/" + e.EventID + "/names")
}

// sealNames seals the entry's list of secret names, if it has one.
func (db *writer) sealNames(ctx context.Context, e AuditEntry) (*string, error) {
	if len(e.Names) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(e.Names)
	if err != nil {
		return nil, err
	}
	s, err := db.keys.Seal(ctx, e.OrgID, b, namesAAD(e))
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
