package projections

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// SecretPage is what SecretPageAt read: the organization and the caller's role (or
// OrgErr, not_found), and one grid page.
type SecretPage struct {
	Org    Org
	Role   domain.Role
	OrgErr error
	Rows   []SecretRow
	Next   string
}

// SecretPageAt reads the caller's access to an organization and a page of its grid in
// one round trip: the page is picked from this process's name index, and its rows are
// read with the organization, the role and the read models' checkpoint in one snapshot.
// The page stands when that checkpoint is the one the index reflects; ok is false when
// it is not (the read models moved on, or the index was never loaded) or the filter
// is not valid, and the caller then takes OrgAccess and ListSecrets, which bring the
// index up to date and name a bad filter. A page used to cost five round trips: the
// access, then BEGIN, the checkpoint, the rows and COMMIT. The caller authorizes with
// the role before it shows the rows or the errors.
func (db *Secrets) SecretPageAt(ctx context.Context, orgID, userID string, f SecretFilter) (page SecretPage, ok bool, err error) {
	if !isUUID(orgID) {
		return SecretPage{}, false, nil
	}
	limit, after, err := pageBounds(f)
	if err != nil {
		return SecretPage{}, false, nil
	}
	on := db.names.org(orgID)
	on.mu.Lock()
	if !on.loaded {
		on.mu.Unlock()
		return SecretPage{}, false, nil
	}
	seq, schema := on.seq, on.schema
	picked, more := db.pickPage(on, f.Env, strings.ToUpper(f.Q), after, limit)
	on.mu.Unlock()

	ids := make([]string, len(picked))
	for i, e := range picked {
		ids[i] = e.id
	}
	var a orgAccessRow
	var found []*SecretRow
	var atSeq int64
	var atSchema string
	err = db.scopedQueriesIn(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, orgID, userID,
		a.query(orgID, userID),
		scopedRead{sql: checkpointSQL, args: []any{CheckpointName}, read: func(rows pgx.Rows) error {
			defer rows.Close()
			if rows.Next() {
				return rows.Scan(&atSeq, &atSchema)
			}
			return rows.Err()
		}},
		scopedRead{sql: pageRowsSQL, args: []any{orgID, ids}, read: func(rows pgx.Rows) error {
			var err error
			found, err = foldSecretRows(rows, orgID)
			return err
		}},
	)
	if err != nil {
		return SecretPage{}, false, err
	}
	if uint64(atSeq) != seq || atSchema != schema {
		return SecretPage{}, false, nil
	}
	db.names.rowsRead.Add(int64(len(found)))
	page.Org, page.Role, page.OrgErr = a.result()
	if page.OrgErr != nil {
		return page, true, nil
	}
	page.Rows = inPickedOrder(found, picked)
	if more && len(picked) > 0 {
		page.Next = encodeCursor(picked[len(picked)-1].name)
	}
	if err := db.openDescriptions(ctx, page.Rows); err != nil {
		return SecretPage{}, false, err
	}
	return page, true, nil
}

// checkpointSQL reads the read models' checkpoint and the schema that holds them.
const checkpointSQL = `SELECT COALESCE((SELECT seq FROM projection_checkpoints WHERE name = $1), 0), current_schema()`
