package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/eventstore/storeerr"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the one stream that is Keyledger's source of truth.
const StreamName = "KEYLEDGER_EVENTS"

// SubjectPrefix starts every event subject: kl.events.<org>.<aggregate>.<id>.
const SubjectPrefix = "kl.events"

// DuplicateWindow is how long JetStream remembers message ids. The API promises that a
// retried Idempotency-Key is recognised for at least ten minutes.
const DuplicateWindow = 15 * time.Minute

// ErrVersionConflict means the aggregate changed since it was loaded. It is
// storeerr's, so that consumers without NATS match it too.
var ErrVersionConflict = storeerr.ErrVersionConflict

// Options configure a Store.
type Options struct {
	// Replicas of the stream and buckets: 1 embedded, 3 on a cluster.
	Replicas int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DataKeyMaxEncryptions rotates a data key past this many seals; 0 means
	// DefaultDataKeyMaxEncryptions.
	DataKeyMaxEncryptions uint64
	// Logger hears the keyring's automatic rotations; nil discards.
	Logger *slog.Logger
	// SyncWrites, when set, is called after every write the server acknowledges and
	// before the write counts, and returns once it is on disk: the embedded server's
	// group sync (embedded.Embedded.Sync with GroupSync), which concurrent writes share.
	// Every write through the store, and through the JetStream handle, buckets and
	// streams it hands out (synced.go), waits for it. Nil: the server syncs each write
	// itself (SyncAlways, or a cluster's own durability).
	SyncWrites func(context.Context) error
}

// Store appends to and reads from the event log.
type Store struct {
	nc *nats.Conn
	// js is the store's JetStream handle (synced.go): it holds Options.SyncWrites and
	// how far the log is known to be on disk.
	js     storeJetStream
	stream jetstream.Stream
	keys   *Keyring
	now    func() time.Time
	reps   int
	// appendObserver, when set, hears every append's wait for JetStream's ack. It is
	// atomic because it is set after Open, while other goroutines may append.
	appendObserver atomic.Pointer[AppendObserver]
	// erased holds the organizations known to be erased (crypto-shredded).
	erased erasedOrgs
	// loaded counts the messages loads have opened (EventsLoaded).
	loaded atomic.Uint64
	// headersOnly is set once the server answered a batch asked for without headers
	// with them (a version without no_hdr): unfiltered reads then ask with headers.
	headersOnly atomic.Bool
	// ids gives events their ULIDs (event_ids.go).
	ids eventIDs
	// groups coalesces concurrent unchecked appends per subject (group.go).
	groups                      appendGroups
	groupedMsgs, groupedAppends atomic.Uint64
	// sharedMsgs and sharedParts count AppendShared messages and their decisions.
	sharedMsgs, sharedParts atomic.Uint64
}

// AppendObserver hears how long one append waited for JetStream to acknowledge it, for
// metrics. The ack comes after the server has stored the message, which includes its
// fsync (the server's own, or with Options.SyncWrites the group sync after it) and, on
// a cluster, the replicas' agreement. err is nil, wraps ErrVersionConflict, or is why
// the append failed.
type AppendObserver func(took time.Duration, err error)

// ObserveAppends makes every later append report to o; nil stops the reports. It is
// a setter rather than an Option so that the process can wire its metrics after the
// store is open.
func (s *Store) ObserveAppends(o AppendObserver) {
	if o == nil {
		s.appendObserver.Store(nil)
		return
	}
	s.appendObserver.Store(&o)
}

func (s *Store) observeAppend(took time.Duration, err error) {
	if o := s.appendObserver.Load(); o != nil {
		(*o)(took, err)
	}
}

// Open makes sure the stream exists with the settings the design requires and returns
// a Store on it.
func Open(ctx context.Context, nc *nats.Conn, master MasterKey, opts Options) (*Store, error) {
	raw, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	js := storeJetStream{JetStream: raw, sync: opts.SyncWrites, logOnDisk: newDiskMark()}
	reps := max(opts.Replicas, 1)
	stream, err := createStream(ctx, js, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Keyledger event log: the only source of truth",
		Subjects:    []string{SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      0,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		// No subject holds 2^63 events: this limit never removes one. It is set for
		// its side effect: nats-server stores a stream with a per-subject limit in
		// blocks of 4 MB instead of 8 (autoTuneFileStorageBlockSize), and holds the
		// block being written in memory whole. At 100,000 secrets 8 MB blocks were a
		// tenth of the live heap, room the collector did not have (BENCHMARKS round 31).
		MaxMsgsPerSubject: math.MaxInt64,
		Duplicates:        DuplicateWindow,
		Replicas:          reps,
		DenyDelete:        true,
		DenyPurge:         true,
		AllowDirect:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	keys, err := NewKeyringWith(ctx, js, master, KeyringOptions{Replicas: reps, MaxEncryptions: opts.DataKeyMaxEncryptions, Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{nc: nc, js: js, stream: stream, keys: keys, now: now, reps: reps}, nil
}

// SharesSyncs says whether the store syncs its writes itself (Options.SyncWrites), so
// that writes made one after another and synced once (PublishInTurn) cost one wait for
// the disk. Where the servers sync (a cluster), each write is a round of replication
// instead, and a run of writes is cheaper as one atomic batch.
func (s *Store) SharesSyncs() bool { return s.js.sync != nil }

// Durable returns once the log is on disk up to sequence seq, which the caller read
// from it: what a reader calls before it passes on what it read (the projector, before
// it commits). Usually the writer's own sync after the message's acknowledgement has
// done it already, and Durable returns at once, or is doing it, and Durable waits for
// it (diskMark); otherwise (the writer crashed before it synced, or has not had its
// acknowledgement yet) it syncs. Where the server syncs each write before acknowledging
// it (no Options.SyncWrites), that is so already.
func (s *Store) Durable(ctx context.Context, seq uint64) error {
	if s.js.sync == nil {
		return nil
	}
	return s.js.logOnDisk.durable(ctx, seq, s.js.sync)
}

// createStream creates or updates a stream, retrying while a cluster that has just
// started has no JetStream meta leader yet (see retrySetup).
//
// It creates first and updates only a stream that exists with another configuration.
// jetstream's CreateOrUpdateStream does it the other way round, and two replicas doing
// that at the same instant on a fresh cluster (update: not found; create) are both
// left without an answer until their timeout (nats-server 2.15), attempt after attempt.
func createStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return retrySetup(ctx, js.Conn(), func(ctx context.Context) (jetstream.Stream, error) {
		st, err := js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return js.UpdateStream(ctx, cfg)
		}
		return st, err
	})
}

// createBucket creates or updates a KV bucket like createStream: replicas that start
// together on a fresh cluster create the same buckets at the same instant.
func createBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return retrySetup(ctx, js.Conn(), func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, err := js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.UpdateKeyValue(ctx, cfg)
		}
		return kv, err
	})
}

// Keyring returns the store's keyring, for sealing and opening secret values.
func (s *Store) Keyring() *Keyring { return s.keys }

// JetStream returns the JetStream handle, for the packages that keep their own
// buckets or streams beside the log (sessions, the change feed).
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Replicas is the replication factor the store was opened with.
func (s *Store) Replicas() int { return s.reps }

// LastSeq is the stream's last sequence: how far the log goes.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// Ping checks that NATS answers.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.LastSeq(ctx)
	return err
}

// Subject is an aggregate's subject in the log.
func Subject(orgID, aggregateType, aggregateID string) string {
	return SubjectPrefix + "." + orgID + "." + aggregateType + "." + aggregateID
}
