// Package domain holds Keyledger's aggregates (Secret, Organization, User, Webhook), their
// events, the value objects they are made of (SecretName, Environment, Role), the
// permission policy and masking.
//
// It is pure: it imports the standard library only, performs no I/O, and never reads
// the clock or a random source. Time and identifiers are passed in by the caller, so
// that every decision can be replayed from the event log and tested as a table.
package domain
