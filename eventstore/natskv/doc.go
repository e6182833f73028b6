// Package natskv is a small key-value store in a NATS JetStream KV bucket beside the
// event log, for state that is not history: the API's sessions and its remembered
// idempotent refusals. Every value is sealed with the platform data key of the log's
// keyring, bound to its bucket and key, so nothing readable lands in NATS.
//
// Open creates (or updates) a bucket with the log's replicas and set-up retries. A
// missing key is ErrNotFound, which is eventstore/storeerr's, so that a consumer without
// NATS (httpapi, through its SessionRecords and IdempotencyRecords interfaces) matches
// it. On a cluster Get asks the bucket stream's leader (eventstore.GetKV), so that what
// one replica wrote or deleted reads as such on every other at once. It imports eventstore, domain and the NATS client; it knows nothing of HTTP.
package natskv
