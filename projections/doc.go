// Package projections builds Keyledger's PostgreSQL read models from the event log and
// answers queries from them: the projector follows the stream from its checkpoint and
// applies events in batches, writing rows and the new checkpoint in one transaction.
// It owns the SQL migrations, the read-model queries, and read-your-writes waiting.
//
// Open returns ReadModels, split by job so that each consumer takes only what it uses:
//
//   - Pool: the connection pool (Open migrates and prepares the reader role), Ping, Close.
//   - Progress: how far the read models are (Checkpoint, WaitFor for read-your-writes)
//     and the live projector's health (ProjectionStall, ProjectorLease).
//   - Secrets: the grid (SecretPageAt and ListSecrets, from the name index), GetSecret, SecretAccess,
//     ListVersions, SealedValues, GridCost.
//   - Directory: organizations, memberships, roles, members, users.
//   - AuditTrail: ListAudit, StreamAudit, VerifyAudit.
//   - Tokens: service and personal tokens.
//   - Webhooks: an organization's webhooks and the delivery engine's roster.
//
// The Projector (NewProjector) and ReadModels.Rebuild are the only writers; they write
// every read model through an unexported writer (the apply* methods, one file per
// projection: secrets_grid.go, audit.go, tokens.go, webhooks.go, writer.go for orgs,
// users and members). Every part embeds the unexported store (pool, keyring, scoped
// transactions), whose methods are unexported so that no part exposes another's job;
// methods keep the receiver name db from the single type they came from.
//
// The projector is total over what the log holds. The domain refuses NUL and control
// characters in names, but the log is never rewritten and may hold older events with
// them, so every text the projector writes passes one choke point (pgArgs) that
// replaces NUL and bytes that are not UTF-8 with U+FFFD, and masks are cleaned of
// control characters. What can still fail after that is infrastructure (Postgres
// down, a permission, a full disk). Then the projector never skips the event, which
// would make the read models lie: it retries with backoff, forever, one event per
// transaction so that it knows which one, and from the third failure in a row it is
// stalled: an ERROR log naming the sequence and the reason, Stall from
// Progress.ProjectionStall (so /readyz fails and /metrics shows keyledger_projection_stalled
// 1 and the sequence), until an attempt succeeds.
//
// Row-level security has no switch. Keyledger connects as the tables' owner (or a
// superuser): that role migrates, projects and rebuilds, and RLS exempts it. Every
// query runs as keyledger_reader (NOBYPASSRLS, not the owner), in a transaction
// scoped to one organization (keyledger.org_id) or one user (keyledger.user_id).
//
// Some questions are answered from the log alone, never from a read model, so that a row
// edited in Postgres cannot change the answer: an organization replayed to an instant
// (ReplayOrg, SecretsAsOf) and the access review of a secret (AccessAt).
//
// It imports domain, eventstore (and eventstore/lease), httpapi/wire for the change
// notices it publishes (the one Go shape of the change feed), and pgx; never HTTP.
// Secret values, names and descriptions are stored sealed,
// and so are webhook URLs and descriptions (a webhook's signing secret is never here:
// it stays sealed in the log).
package projections
