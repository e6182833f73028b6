// Package commands holds one handler per command (CreateSecret, UpdateSecret,
// RevealSecret, AddMember, …). Each loads the aggregates it needs from the event log,
// lets the domain decide, and appends the resulting event with the version it loaded,
// retrying (bounded in time) when a concurrent write won.
//
// Aggregates come through one in-memory cache shared by the handlers (cachedLog in
// aggregate_cache.go): a command reads only the events after the cached ones, so its
// cost does not grow with the aggregate's history, and commands on one secret take
// turns instead of racing to a version conflict.
//
// Access records (a reveal, a values fetch, a denied attempt) are appended unchecked to
// the organization's access subject (accessAggregate): concurrent ones share one log
// message and one fsync (eventstore coalesces unchecked appends per subject). Older
// records on per-secret access subjects stay where they are; readers go by the event.
//
// It imports domain, eventstore and eventstore/reservation only: no SQL, no HTTP. Log
// is the log as the handlers use it, exported so that the HTTP edge can hold it for the
// views (LoadUser, OrganizationAt, MemberAt) without naming the event store's types.
package commands
