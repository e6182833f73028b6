// Package projections builds Keyledger's PostgreSQL read models from the event log and
// answers queries from them: the projector follows the stream from its checkpoint and
// applies events in batches, writing rows and the new checkpoint in one transaction.
// It owns the SQL migrations, the read-model queries, and read-your-writes waiting.
//
// It imports domain, eventstore and pgx; never HTTP. Secret values, names and
// descriptions are stored sealed.
package projections
