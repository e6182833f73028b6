// Package app wires one Keyledger server, as `keyledger serve` runs it and as the
// tests run it (httpapi/apitest), so that both exercise the same wiring: the metrics
// the event store and the projector report into, the change feed, the projector (under
// a lease when replicas share the read models), the keyring's watch, the webhook
// delivery engine, the bootstrap admin, the buckets beside the log and the HTTP API on
// its listener. Start returns the running App; Close stops it in order.
//
// What the server stands on (NATS, the event store, PostgreSQL and the read models,
// the command handlers) is opened by the caller and passed in: serve opens it from its
// flags (cmd/keyledger's platform), a test from its fixtures. The package holds no
// state of its own beyond an App, and imports what cmd/keyledger may import.
package app
