package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// keysetChange is one message of the keysets stream, heard by Run.
type keysetChange struct {
	scope string
	entry keyEntry
}

// Run keeps the keyring in step with the other replicas until ctx ends: a rotation or a
// shred on any replica reaches this one's cache through an ordered consumer on the
// keysets stream (a shred appends a destroyed record), and the encryption counters
// are flushed every FlushInterval (and once more at the end, after the reports of
// automatic rotations under way).
func (k *Keyring) Run(ctx context.Context) error {
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	// The watch starts after the stream's last message, by sequence: an ordered
	// consumer that is reset (its server-side consumer lost, a missed heartbeat)
	// before it delivered anything is made again from its first configuration, and
	// "new messages only" would then skip every rotation and shred written meanwhile,
	// leaving this replica sealing with a retired key or opening a shredded one.
	info, err := k.store.stream.Info(wctx)
	if err != nil {
		return fmt.Errorf("watch keys: %w", err)
	}
	updates, err := followOrdered(wctx, k.store.js, KeysetsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{keysetSubjectPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    info.State.LastSeq + 1,
	}, 64, func(m jetstream.Msg) (keysetChange, bool) {
		meta, err := m.Metadata()
		if err != nil {
			return keysetChange{}, false
		}
		e := keyEntry{kind: m.Headers().Get(keyKindHeader), value: m.Data(), seq: meta.Sequence.Stream, created: meta.Timestamp.UTC()}
		if t, err := time.Parse(time.RFC3339Nano, m.Headers().Get(keyCreatedHeader)); err == nil {
			e.created = t.UTC()
		}
		return keysetChange{scope: strings.TrimPrefix(m.Subject(), keysetSubjectPrefix), entry: e}, true
	})
	if err != nil {
		return fmt.Errorf("watch keys: %w", err)
	}
	// What was cached before the watch began may have missed a change: read again.
	k.mu.Lock()
	k.cache = map[string]*scopeKeys{}
	k.mu.Unlock()
	tick := time.NewTicker(k.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			k.observing.Wait()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := k.Flush(fctx)
			cancel()
			return err
		case <-tick.C:
			if err := k.Flush(ctx); err != nil && ctx.Err() == nil {
				k.log.WarnContext(ctx, "flush data key counters", "err", err)
			}
		case c, ok := <-updates:
			if !ok {
				if ctx.Err() != nil {
					updates = nil // ends through ctx.Done, with the last flush
					continue
				}
				return errors.New("watch keys: the watch ended")
			}
			k.heard(ctx, c)
		}
	}
}

// heard applies one change of the keysets stream to the cache.
func (k *Keyring) heard(ctx context.Context, c keysetChange) {
	if c.entry.kind == kindDestroyed {
		k.evict(c.scope)
		return
	}
	k.mu.Lock()
	_, cached := k.cache[c.scope]
	k.mu.Unlock()
	if !cached {
		return
	}
	if c.entry.kind == kindKeyset {
		var s storedKeyset
		if err := json.Unmarshal(c.entry.value, &s); err == nil && s.KEK != k.master.id {
			// Rewrapped under a new master key (keys rotate): what is cached stays right
			// until this process restarts with the new key.
			return
		}
	}
	sk, err := k.decode(c.scope, c.entry)
	if err != nil {
		k.log.WarnContext(ctx, "keyset changed but does not open", "scope", c.scope, "err", err)
		k.evict(c.scope)
		return
	}
	k.remember(c.scope, sk)
}

func (k *Keyring) evict(scope string) {
	k.mu.Lock()
	delete(k.cache, scope)
	delete(k.counts, scope)
	delete(k.stored, scope)
	k.mu.Unlock()
}

// Shred destroys every version of scope's data key: all that was sealed for it becomes
// unreadable for good. It appends a destroyed record (which versions there were, no key
// material) and then erases every earlier message of the scope, so that no revision of
// its keyset is left in the stream's files; every replica running Run hears the record
// and drops the scope from its cache, and no process creates a key for the scope
// again. It is idempotent: run again (the projector does, after a crash), it finishes
// the erasure.
func (k *Keyring) Shred(ctx context.Context, scope string) error {
	for attempt := 0; ; attempt++ {
		e, ok, err := k.store.last(ctx, scope)
		if err != nil {
			return fmt.Errorf("shred %s: %w", scope, err)
		}
		seq := e.seq
		if !ok || e.kind != kindDestroyed {
			rec, err := k.destroyedRecordOf(scope, e, ok)
			if err != nil {
				return fmt.Errorf("shred %s: %w", scope, err)
			}
			seq, err = k.store.put(ctx, scope, kindDestroyed, rec, e.seq, time.Time{})
			if IsWrongLastSequence(err) && attempt < 5 {
				continue // a rotation wrote first: its versions go on the record too
			}
			if err != nil {
				return fmt.Errorf("shred %s: %w", scope, err)
			}
		}
		k.evict(scope)
		if err := k.store.eraseBefore(ctx, scope, seq); err != nil {
			return fmt.Errorf("shred %s: %w", scope, err)
		}
		if err := k.countKV.Purge(ctx, countName(scope)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("shred %s: %w", scope, err)
		}
		return nil
	}
}

// destroyedRecordOf lists the versions of the stored keys e (when ok) without their
// key material. A keyset that does not open (another master key) still names them.
func (k *Keyring) destroyedRecordOf(scope string, e keyEntry, ok bool) ([]byte, error) {
	var versions []storedVersion
	if ok {
		if sk, err := k.decode(scope, e); err == nil {
			versions = sk.versions
		} else if e.kind == kindKeyset {
			var s storedKeyset
			if json.Unmarshal(e.value, &s) == nil {
				versions = s.Versions
			}
		}
	}
	out := make([]storedVersion, 0, len(versions))
	for _, v := range versions {
		v.KeyID = 0
		out = append(out, v)
	}
	return json.Marshal(destroyedRecord{Versions: out, DestroyedAt: k.now().UTC()})
}

// Rewrap encrypts every stored keyset (and data key from before keysets) again under
// next, the new master key, and returns how many it rewrapped. Data keys themselves do
// not change, so nothing sealed with them needs rewriting; after it, only next opens
// them, and the revisions under the old master key are erased. Each scope is written
// only while its last message is the one read, so a concurrent writer is never
// overwritten.
func (k *Keyring) Rewrap(ctx context.Context, next MasterKey) (int, error) {
	scopes, err := k.store.scopes(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for scope := range scopes {
		e, ok, err := k.store.last(ctx, scope)
		if err != nil {
			return n, err
		}
		var rewrapped []byte
		switch {
		case !ok || e.kind == kindDestroyed:
			continue
		case e.kind == kindKeyset:
			rewrapped, err = k.rewrapKeyset(scope, e.value, next)
		case e.kind == kindLegacy:
			rewrapped, err = k.rewrapLegacy(scope, 1, e.value, next)
		}
		if err != nil {
			return n, err
		}
		if rewrapped == nil {
			continue // already under the new key (a rotation that was interrupted)
		}
		seq, err := k.store.put(ctx, scope, e.kind, rewrapped, e.seq, e.created)
		if err != nil {
			return n, fmt.Errorf("rewrap %s: %w", scope, err)
		}
		if err := k.store.eraseBefore(ctx, scope, seq); err != nil {
			return n, fmt.Errorf("rewrap %s: %w", scope, err)
		}
		n++
	}
	return n, nil
}

func (k *Keyring) rewrapKeyset(scope string, value []byte, next MasterKey) ([]byte, error) {
	var s storedKeyset
	if err := json.Unmarshal(value, &s); err != nil {
		return nil, fmt.Errorf("keyset %s: %w", scope, err)
	}
	if s.KEK == next.id {
		return nil, nil
	}
	if s.KEK != k.master.id {
		return nil, fmt.Errorf("keyset %s is encrypted by master key %s, not %s: %w", scope, s.KEK, k.master.id, ErrDecrypt)
	}
	h, err := k.decryptKeyset(scope, s.Keyset, k.master)
	if err != nil {
		return nil, err
	}
	return encodeKeyset(scope, h, s.Versions, next)
}

func (k *Keyring) rewrapLegacy(scope string, version int, value []byte, next MasterKey) ([]byte, error) {
	var w wrappedKey
	if err := json.Unmarshal(value, &w); err != nil {
		return nil, fmt.Errorf("data key %s/%d: %w", scope, version, err)
	}
	if w.KEK == next.id {
		return nil, nil
	}
	raw, err := k.unwrapLegacy(value, scope, version)
	if err != nil {
		return nil, err
	}
	return wrapLegacy(next, raw, scope, version)
}

// parseKeyName splits "<scope>.v<version>", the name of a data key from before keysets.
func parseKeyName(name string) (string, int, bool) {
	i := strings.LastIndex(name, ".v")
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.Atoi(name[i+2:])
	if err != nil || v < 1 {
		return "", 0, false
	}
	return name[:i], v, true
}
