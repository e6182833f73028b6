// Package eventstore owns Keyledger's event log, and only the log: the JetStream stream
// and its subject layout, appending with optimistic concurrency (and, for unchecked
// appends such as audit records, coalescing concurrent ones to one subject into one
// message: group.go), loading one
// aggregate's events, following the log from a sequence, envelope encryption (the
// master key, per-organization data keys and sealing, in the KEYLEDGER_KEYSETS stream),
// gets confirmed by a stream's leader, and telling an unavailable log (IsUnavailable)
// from a refusal.
//
// Each organization's data keys are one Tink keyset (tink-go): its versions 1, 2, …,
// the active one sealing, the retired ones still opening, rotated on request or past
// an encryption limit, kept encrypted by the master key in the stream
// KEYLEDGER_KEYSETS and followed there so that every replica hears a rotation or a
// shred (keyring.go, keyring_sync.go).
//
// Design note, crypto-shredding: the keysets are in a plain stream, not a KV bucket,
// because only a message delete with erase (SecureDeleteMsg) removes a key's bytes from
// the file store, and a KV bucket's stream denies deletes for good; a KV purge or a
// superseded KV revision stays in its block file until compaction, readable by whoever
// holds the master key and a copy of the files. The last message of kl.keysets.<scope>
// is the scope's state; each write (create, rotation, rewrap, shred) expects the last
// sequence it read, and is followed by erasing every earlier message of the subject,
// which a keyring start repeats for all subjects, so that a crash in between leaves
// nothing behind for long (keyset_stream.go). A shred writes a destroyed record, so
// that no key is ever made for the scope again and every replica evicts it. On a
// cluster the Raft WAL keeps appended entries until a snapshot compacts it: erased
// keysets can outlive the erase there for that long. The keys of an older version, in
// KV KEYLEDGER_KEYS, are moved at start-up, crash-safe and idempotent, and the bucket
// is replaced by a sealed fence (keys_migrate.go).
//
// What lives beside the log on the same JetStream has a package of its own, each on a
// *Store (CreateStream, CreateBucket, RetrySetup and FollowOrdered are exported for
// them, and GetKV and GetMsg: on a cluster a read that must see the newest write asks
// the stream's leader, since a KV get or a stream's single-message get is a direct
// get that a follower may answer from behind):
//
//   - eventstore/natskv: sealed key-value buckets (sessions, idempotency records);
//   - eventstore/reservation: unique-value reservations (secret names);
//   - eventstore/lease: the projector's lease, a fencing token;
//   - eventstore/changefeed: the change-notice stream, KEYLEDGER_CHANGES;
//   - eventstore/embedded: the in-process NATS server and its data-dir lock;
//   - eventstore/storeerr: the sentinel errors consumers without NATS match;
//   - eventstore/subscriber: what a downstream service follows the change stream with.
//
// Four numbers are named apart across the code (and the API's "version" is only the
// last two):
//
//   - a sequence (Seq, LastSeq, ExpectedSeq) is a message's place in the JetStream
//     stream, the log's clock and the optimistic-concurrency token;
//   - a position (Pending.Position, Loaded.EventCount) is an event's place in its
//     aggregate's own history, bound into the event's AAD;
//   - a secret's version (domain.Secret.Version, the API's version and
//     expected_version) counts the changes made to that secret;
//   - a value version (domain.ValueRef.ValueVersion, ValueVersion.Version, the API's
//     per-environment version) numbers one environment's values, 1, 2, …
//
// A data key's version (KeyVersion.Version) is a fifth, of the keyring, never mixed
// with these.
//
// It imports domain, the NATS client libraries and tink-go (never nats-server: the embedded
// server is eventstore/embedded's); it knows nothing of Postgres or HTTP. Names,
// descriptions and values never leave this package unsealed towards NATS.
package eventstore
