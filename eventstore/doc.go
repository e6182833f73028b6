// Package eventstore owns Keyledger's event log: the JetStream stream and its subject
// layout, appending with optimistic concurrency, loading one aggregate's events,
// following the log from a sequence, the embedded NATS server, and envelope encryption
// (the master key, per-organization data keys and sealing).
//
// Each organization's data keys are one Tink keyset (tink-go): its versions 1, 2, …,
// the active one sealing, the retired ones still opening, rotated on request or past
// an encryption limit, kept encrypted by the master key in KV KEYLEDGER_KEYS and
// watched there so that every replica follows a rotation or a shred (keyring.go).
//
// It imports domain, the NATS client libraries and tink-go; it knows nothing of Postgres or HTTP.
// Names, descriptions and values never leave this package unsealed towards NATS.
package eventstore
