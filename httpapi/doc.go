// Package httpapi is Keyledger's HTTP edge: a Fiber app that serves the API of
// shared/API.md under /api/v1, the operations endpoints (/healthz, /readyz) and the
// embedded dashboard. It owns routing, authentication (sessions, bearer tokens, CSRF),
// the one table that maps errors to problem+json, strict request decoding, request
// limits, idempotent replays and security headers.
//
// Writes go through the command handlers (which decide against the log); reads come
// from the PostgreSQL read models through ReadModel's narrow ports (one per job), after
// waiting for the projection to reach the sequence a command produced. The package
// never writes to Postgres, never logs a request body, and opens a secret value only in
// the reveal handler, whose response is neither cached nor stored. Webhook delivery
// lives in httpapi/webhooks (the engine, its state in NATS, the address guard); this
// package serves its routes.
//
// It imports domain, commands, projections, httpapi/wire and eventstore/storeerr, but
// no NATS package and not eventstore: what it needs of the log and of the stores beside
// it is declared in ports.go (EventLog, SessionRecords, IdempotencyRecords,
// ChangeFeed), and cmd/keyledger/app (used by serve and by httpapi/apitest) opens the
// NATS-backed implementations and passes them in Config, with eventstore.IsUnavailable as
// Config.Unavailable. `make check-httpapi-imports` checks the direct imports; NATS still
// comes in transitively through commands and projections, which are NATS-bound. Nothing
// imports httpapi but cmd/keyledger (and its app package) and its own tests.
package httpapi
