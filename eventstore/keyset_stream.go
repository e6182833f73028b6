package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// KeysetsStream holds every scope's data keys, encrypted by the master key: one
// subject per scope, kl.keysets.<scope>, whose last message is the scope's current
// state. It is a plain stream, not a KV bucket, because a KV bucket's stream denies
// deletes for good (DenyDelete cannot be cancelled), and only a message delete with
// erase (SecureDeleteMsg) overwrites a message's bytes in the block file: a KV purge
// or a superseded KV revision leaves them there until the block is compacted, for
// anyone who holds the master key and a copy of the files. So every write here is
// followed by a secure delete of the subject's older messages, and a shred ends with
// none of them left.
//
// Reads go to the stream leader (the stream has no direct get): a replica that lags
// must never make a data key look missing.
const KeysetsStream = "KEYLEDGER_KEYSETS"

// KeyCountsBucket holds the encryption counters per scope ("<scope>.count"); no key
// material, so a KV bucket with its usual semantics.
const KeyCountsBucket = "KEYLEDGER_KEY_COUNTS"

const keysetSubjectPrefix = "kl.keysets."

// keyKindHeader says what a message of KeysetsStream holds.
const keyKindHeader = "Keyledger-Key-Kind"

// keyCreatedHeader keeps a data key's creation time across the move from the keys
// bucket (a key from before keysets has no time of its own inside).
const keyCreatedHeader = "Keyledger-Key-Created"

// The kinds of keyset messages.
const (
	// kindKeyset is a storedKeyset: the Tink keyset encrypted by the master key.
	kindKeyset = "keyset"
	// kindLegacy is a wrappedKey: a data key from before keysets, version 1.
	kindLegacy = "legacy"
	// kindDestroyed is a destroyedRecord: the scope was shredded; no key material.
	kindDestroyed = "destroyed"
)

// keyEntry is the last message of a scope's subject.
type keyEntry struct {
	kind    string
	value   []byte
	seq     uint64
	created time.Time
}

// keysetStore reads and writes KeysetsStream.
type keysetStore struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

func keysetsStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              KeysetsStream,
		Description:       "Keyledger data keys, encrypted by the master key; older revisions are erased",
		Subjects:          []string{keysetSubjectPrefix + ">"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgsPerSubject: -1,
		Replicas:          max(replicas, 1),
	}
}

func openKeysetStore(ctx context.Context, js jetstream.JetStream, replicas int) (keysetStore, error) {
	st, err := createStream(ctx, js, keysetsStreamConfig(replicas))
	if err != nil {
		return keysetStore{}, fmt.Errorf("create stream %s: %w", KeysetsStream, err)
	}
	return keysetStore{js: js, stream: st}, nil
}

func keysetSubject(scope string) (string, error) {
	if !subjectToken(scope) {
		return "", fmt.Errorf("eventstore: %q cannot name a data-key scope", scope)
	}
	return keysetSubjectPrefix + scope, nil
}

// last returns the last message of scope's subject, and false when it has none.
func (s keysetStore) last(ctx context.Context, scope string) (keyEntry, bool, error) {
	subj, err := keysetSubject(scope)
	if err != nil {
		return keyEntry{}, false, err
	}
	m, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return keyEntry{}, false, nil
	}
	if err != nil {
		return keyEntry{}, false, fmt.Errorf("data key %s: %w", scope, err)
	}
	return entryOf(m), true, nil
}

func entryOf(m *jetstream.RawStreamMsg) keyEntry {
	e := keyEntry{kind: m.Header.Get(keyKindHeader), value: m.Data, seq: m.Sequence, created: m.Time.UTC()}
	if t, err := time.Parse(time.RFC3339Nano, m.Header.Get(keyCreatedHeader)); err == nil {
		e.created = t.UTC()
	}
	return e
}

// put appends value as scope's new state, only while the subject's last message is
// expect (0: the subject has none). A conflict is ErrWrongSequence-like: see
// isWrongSequence. It returns the new message's sequence.
func (s keysetStore) put(ctx context.Context, scope, kind string, value []byte, expect uint64, created time.Time) (uint64, error) {
	subj, err := keysetSubject(scope)
	if err != nil {
		return 0, err
	}
	m := nats.NewMsg(subj)
	m.Data = value
	m.Header.Set(keyKindHeader, kind)
	if !created.IsZero() {
		m.Header.Set(keyCreatedHeader, created.UTC().Format(time.RFC3339Nano))
	}
	ack, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(expect), jetstream.WithExpectStream(KeysetsStream))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// eraseBefore erases (overwrites, then deletes) every message of scope's subject with
// a sequence below before: the revisions that a later message has replaced. It never
// touches the last message, so replicas that run it at once for different last
// messages can only erase what is superseded either way.
func (s keysetStore) eraseBefore(ctx context.Context, scope string, before uint64) error {
	subj, err := keysetSubject(scope)
	if err != nil {
		return err
	}
	for seq := uint64(1); seq < before; {
		m, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("erase old data keys of %s: %w", scope, err)
		}
		if m.Sequence >= before {
			return nil
		}
		if err := s.stream.SecureDeleteMsg(ctx, m.Sequence); err != nil && !s.gone(ctx, m.Sequence) {
			return fmt.Errorf("erase old data keys of %s at %d: %w", scope, m.Sequence, err)
		}
		seq = m.Sequence + 1
	}
	return nil
}

// gone says whether the message at seq no longer exists: another replica erased it
// first.
func (s keysetStore) gone(ctx context.Context, seq uint64) bool {
	_, err := s.stream.GetMsg(ctx, seq)
	return errors.Is(err, jetstream.ErrMsgNotFound)
}

// scopes lists every scope with its number of messages.
func (s keysetStore) scopes(ctx context.Context) (map[string]uint64, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(keysetSubjectPrefix+">"))
	if err != nil {
		return nil, fmt.Errorf("list data keys: %w", err)
	}
	out := make(map[string]uint64, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		out[strings.TrimPrefix(subj, keysetSubjectPrefix)] = n
	}
	return out, nil
}

// sweep erases every superseded message: what a rotation, a rewrap or a shred that
// was interrupted between its write and its erase left behind.
func (s keysetStore) sweep(ctx context.Context) error {
	scopes, err := s.scopes(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for scope, n := range scopes {
		if n < 2 {
			continue
		}
		e, ok, err := s.last(ctx, scope)
		if err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, s.eraseBefore(ctx, scope, e.seq))
	}
	return errors.Join(errs...)
}

// lastAfterConflict reads scope's last message after a write lost to another
// process's. On a replicated stream the leader refuses a conflicting write as soon as
// the first is proposed, which can be before the first is applied to its store: for a
// moment a read still finds nothing (TestClusterFailover once saw "data key not
// found" at bootstrap), so the read is retried for a few seconds.
func (s keysetStore) lastAfterConflict(ctx context.Context, scope string, after uint64) (keyEntry, error) {
	wait := 10 * time.Millisecond
	deadline := time.Now().Add(5 * time.Second)
	for {
		e, ok, err := s.last(ctx, scope)
		switch {
		case err != nil:
			return keyEntry{}, err
		case ok && e.seq > after:
			return e, nil
		case time.Now().After(deadline):
			return keyEntry{}, fmt.Errorf("data key %s: %w", scope, ErrNoKey)
		}
		select {
		case <-ctx.Done():
			return keyEntry{}, errors.Join(ctx.Err(), ErrNoKey)
		case <-time.After(wait):
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}
