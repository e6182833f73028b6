package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KeysBucket is the KV bucket where data keys lived before KeysetsStream. A keyring
// that finds it moves what it holds to KeysetsStream and KeyCountsBucket and deletes
// it (deleting a stream removes its files, and with them every purged or superseded
// revision that a KV bucket cannot erase), then leaves a sealed, empty stream of the
// same name behind as a fence: an older keyledger would otherwise create the bucket
// anew, find no data key for any organization and make new ones, sealing events that
// this version could never open. Against the fence it fails at start-up instead.
const KeysBucket = "KEYLEDGER_KEYS"

const (
	keysBucketStream = "KV_" + KeysBucket
	keysFenceNote    = "Keyledger: the data keys moved to " + KeysetsStream + "; this sealed stream keeps older versions from recreating " + KeysBucket
)

// errFenceTaken means that a stream named like the keys bucket exists and is not the
// fence: the bucket itself, which the migration must move first.
var errFenceTaken = errors.New("eventstore: the keys bucket exists beside the moved keys")

// migrateKeysBucket moves the keys bucket, if there is one, to KeysetsStream and
// KeyCountsBucket. Each step is idempotent and every crash between two steps leaves
// a state that the next start finishes: a key is copied only to a scope that has none
// in the stream (a later state is never overwritten), the bucket is deleted only after
// every key it holds is read back from the stream, and a bucket found beside the
// fence's place is moved again before anything else (never just deleted).
func migrateKeysBucket(ctx context.Context, js jetstream.JetStream, store keysetStore, counts jetstream.KeyValue, replicas int) error {
	for attempt := 0; ; attempt++ {
		if err := moveKeysBucket(ctx, js, store, counts); err != nil {
			return err
		}
		err := fenceKeysBucket(ctx, js, store, counts, replicas)
		if errors.Is(err, errFenceTaken) && attempt < 3 {
			continue // the bucket came back (or was not visible a moment ago): move it
		}
		return err
	}
}

// moveKeysBucket copies and then deletes the keys bucket; without one (or with the
// fence in its place) it does nothing.
func moveKeysBucket(ctx context.Context, js jetstream.JetStream, store keysetStore, counts jetstream.KeyValue) error {
	st, err := retrySetup(ctx, js.Conn(), func(ctx context.Context) (jetstream.Stream, error) {
		st, err := js.Stream(ctx, keysBucketStream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, nil
		}
		return st, err
	})
	if err != nil {
		return fmt.Errorf("keys bucket: %w", err)
	}
	if st == nil || st.CachedInfo().Config.Description == keysFenceNote {
		return nil
	}
	entries, err := bucketEntries(ctx, js, st)
	if err != nil {
		return err
	}
	if err := copyEntries(ctx, entries, store, counts); err != nil {
		return err
	}
	if err := js.DeleteStream(ctx, keysBucketStream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete the keys bucket: %w", err)
	}
	return nil
}

// bucketEntry is a live entry of the keys bucket.
type bucketEntry struct {
	value   []byte
	created time.Time
}

// bucketEntries reads the live entries of the keys bucket's stream (or of the fence
// with what it recovered): the last message of each key, unless that is a delete or
// purge marker. It reads the stream's messages one by one, from the leader, so that
// it works on the fence too, which is not a KV bucket.
//
// From the leader, not by the stream handle's GetMsg: the bucket's stream allows
// direct gets, which the handle then takes, and on a cluster a follower that is behind
// (one restarted a moment ago answers once it is 90 % synchronized) answers "no such
// message" for the newest keys, which the move would then leave out and delete with
// the bucket.
func bucketEntries(ctx context.Context, js jetstream.JetStream, st jetstream.Stream) (map[string]bucketEntry, error) {
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys bucket: %w", err)
	}
	prefix := "$KV." + KeysBucket + "."
	out := map[string]bucketEntry{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := rawFromLeader(ctx, js, info.Config.Name, MsgRequest{Seq: seq})
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the keys bucket at %d: %w", seq, err)
		}
		name := strings.TrimPrefix(m.Subject, prefix)
		if m.Header.Get(kvOperationHeader) != "" {
			delete(out, name)
			continue
		}
		out[name] = bucketEntry{value: m.Data, created: m.Time.UTC()}
	}
	return out, nil
}

// copyEntries copies every scope's state to the stream, unless the stream has one
// already, and every counter to the counts bucket, unless it has one; then it reads
// every scope back from the stream, and fails unless all are there.
func copyEntries(ctx context.Context, entries map[string]bucketEntry, store keysetStore, counts jetstream.KeyValue) error {
	type scopeEntries struct{ keyset, legacy, destroyed *bucketEntry }
	byScope := map[string]*scopeEntries{}
	for name, e := range entries {
		if scope, ok := strings.CutSuffix(name, ".count"); ok {
			if _, err := counts.Create(ctx, countName(scope), e.value); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("move key counters of %s: %w", scope, err)
			}
			continue
		}
		scope, kind, ok := bucketEntryScope(name)
		if !ok {
			continue
		}
		se := byScope[scope]
		if se == nil {
			se = &scopeEntries{}
			byScope[scope] = se
		}
		switch kind {
		case kindKeyset:
			se.keyset = &e
		case kindLegacy:
			se.legacy = &e
		case kindDestroyed:
			se.destroyed = &e
		}
	}
	for scope, se := range byScope {
		// An erased scope stays erased, whatever a racing command stored after it.
		e, kind := se.destroyed, kindDestroyed
		if e == nil {
			e, kind = se.keyset, kindKeyset
		}
		if e == nil {
			e, kind = se.legacy, kindLegacy
		}
		if _, err := store.put(ctx, scope, kind, e.value, 0, e.created); err != nil && !IsWrongLastSequence(err) {
			return fmt.Errorf("move data key of %s: %w", scope, err)
		}
	}
	for scope := range byScope {
		if _, ok, err := store.last(ctx, scope); err != nil || !ok {
			return fmt.Errorf("move data key of %s: not in %s after the copy (%w); the keys bucket is kept", scope, KeysetsStream, err)
		}
	}
	return nil
}

// bucketEntryScope splits a keys-bucket name into its scope and the kind it holds.
func bucketEntryScope(name string) (string, string, bool) {
	if scope, ok := strings.CutSuffix(name, ".keyset"); ok {
		return scope, kindKeyset, true
	}
	if scope, ok := strings.CutSuffix(name, ".destroyed"); ok {
		return scope, kindDestroyed, true
	}
	if scope, v, ok := parseKeyName(name); ok && v == 1 {
		return scope, kindLegacy, true
	}
	return "", "", false
}

// fenceKeysBucket makes sure the fence stands where the keys bucket was: a sealed
// stream, empty, on the bucket's subjects. Messages that the server recovers into it
// from a bucket deleted half-way (a kill between removing its metadata and its files)
// are moved like the bucket's, and then purged (their files removed) before the fence
// is sealed.
func fenceKeysBucket(ctx context.Context, js jetstream.JetStream, store keysetStore, counts jetstream.KeyValue, replicas int) error {
	cfg := jetstream.StreamConfig{
		Name:        keysBucketStream,
		Description: keysFenceNote,
		Subjects:    []string{"$KV." + KeysBucket + ".>"},
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      0,
	}
	// One step, retried as a whole like every set-up step: on a cluster that is still
	// placing its streams a request can go unanswered, and replicas starting together
	// fence at the same instant.
	_, err := retrySetup(ctx, js.Conn(), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fenceOnce(ctx, js, store, counts, cfg)
	})
	if err != nil {
		return fmt.Errorf("fence the keys bucket: %w", err)
	}
	return nil
}

func fenceOnce(ctx context.Context, js jetstream.JetStream, store keysetStore, counts jetstream.KeyValue, cfg jetstream.StreamConfig) error {
	st, err := js.CreateStream(ctx, cfg)
	if err != nil {
		// It exists: as the fence (a clustered server answers a create that meets the
		// sealed fence with an update error), or as something else.
		if again, ierr := js.Stream(ctx, keysBucketStream); ierr == nil {
			st, err = again, nil
		}
	}
	if err != nil {
		return err
	}
	info := st.CachedInfo()
	if info.Config.Description != keysFenceNote {
		return errFenceTaken
	}
	if info.Config.Sealed && info.State.Msgs == 0 {
		return nil
	}
	err = nil
	if info.State.Msgs > 0 {
		// Keys the server recovered into the fence: a bucket deleted half-way, or one
		// that a moment ago was not there. Whatever they are, they are moved before
		// the purge removes them.
		var entries map[string]bucketEntry
		if entries, err = bucketEntries(ctx, js, st); err == nil {
			err = copyEntries(ctx, entries, store, counts)
		}
		if err == nil {
			err = st.Purge(ctx)
		}
	}
	if err == nil {
		sealed := info.Config
		sealed.Sealed = true
		sealed.DenyDelete, sealed.DenyPurge = true, true // what sealing implies
		_, err = js.UpdateStream(ctx, sealed)
	}
	if err != nil && fenced(ctx, js) {
		return nil // another replica sealed it in between (its purge first)
	}
	return err
}

// fenced says whether the fence stands, sealed and empty.
func fenced(ctx context.Context, js jetstream.JetStream) bool {
	st, err := js.Stream(ctx, keysBucketStream)
	if err != nil {
		return false
	}
	info := st.CachedInfo()
	return info.Config.Description == keysFenceNote && info.Config.Sealed && info.State.Msgs == 0
}
