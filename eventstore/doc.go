// Package eventstore owns Keyledger's event log: the JetStream stream and its subject
// layout, appending with optimistic concurrency, loading one aggregate's events,
// following the log from a sequence, the embedded NATS server, and envelope encryption
// (the master key, per-organization data keys and sealing).
//
// It imports domain and the NATS client libraries; it knows nothing of Postgres or HTTP.
// Names, descriptions and values never leave this package unsealed towards NATS.
package eventstore
