// Package commands holds one handler per command (CreateSecret, UpdateSecret,
// RevealSecret, AddMember, …). Each loads the aggregates it needs from the event log,
// lets the domain decide, and appends the resulting event with the version it loaded,
// retrying a bounded number of times when a concurrent write won.
//
// It imports domain and eventstore only: no SQL, no HTTP.
package commands
