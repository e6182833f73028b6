// Package commands holds one handler per command (CreateSecret, UpdateSecret,
// RevealSecret, AddMember, …). Each loads the aggregates it needs from the event log,
// lets the domain decide, and appends the resulting event with the version it loaded,
// retrying a bounded number of times when a concurrent write won.
//
// It imports domain, eventstore and eventstore/reservation only: no SQL, no HTTP. Log
// is the log as the handlers use it, exported so that the HTTP edge can hold it for the
// views (LoadUser, OrganizationAt, MemberAt) without naming the event store's types.
package commands
