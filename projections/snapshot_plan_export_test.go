package projections

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// RevealSnapshotSQL and SecretSnapshotSQL are the snapshot reads, for a test that
// reads their plans.
const (
	RevealSnapshotSQL = revealSnapshotSQL
	SecretSnapshotSQL = secretSnapshotSQL
)

// ExplainScoped is the plan of sql with args as the read models' queries run it: in
// orgID's scope, as the reader role, under row-level security.
func (db *Secrets) ExplainScoped(ctx context.Context, orgID, sql string, args ...any) (string, error) {
	var plan strings.Builder
	err := db.scopedQueries(ctx, orgID, "", scopedRead{sql: "EXPLAIN " + sql, args: args, read: func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan.WriteString(line + "\n")
		}
		return rows.Err()
	}})
	return plan.String(), err
}
