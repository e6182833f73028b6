package eventstore_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go/jetstream"
)

// The log and the change stream are stored in blocks of at most 4 MB, not the 8 MB
// nats-server gives a stream without limits: the block being written is held in
// memory whole, and an 8 MB one each was a tenth of the live heap at 100,000 secrets
// (the room the collector works in, issue 11). The size is the server's choice for a
// stream with a per-subject limit (the log's is one no subject reaches).
func TestStreamsAreStoredInBlocksOfAtMost4MB(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := eventstoretest.New(t)
	s, dir := env.Store, env.Dir
	if _, err := changefeed.Open(ctx, s); err != nil {
		t.Fatal(err)
	}
	// 10 MB into each stream: more than one block of either size.
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for i := range 160 {
		for _, subject := range []string{
			fmt.Sprintf("%s.probe.secret.s%d", eventstore.SubjectPrefix, i),
			fmt.Sprintf("%s.probe.production", changefeed.ChangesSubjectPrefix),
		} {
			if _, err := s.JetStream().Publish(ctx, subject, chunk); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, stream := range []string{eventstore.StreamName, changefeed.ChangesStream} {
		blocks, err := filepath.Glob(filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", stream, "msgs", "*.blk"))
		if err != nil {
			t.Fatal(err)
		}
		if len(blocks) < 3 {
			t.Fatalf("%s: %d blocks for 10 MB, want blocks of at most 4 MB", stream, len(blocks))
		}
		for _, b := range blocks {
			fi, err := os.Stat(b)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > int64(4<<20+len(chunk)+1024) {
				t.Errorf("%s: block %s holds %d bytes, more than 4 MB and a message", stream, filepath.Base(b), fi.Size())
			}
		}
	}
}

// A log made before the per-subject limit (by an earlier version) opens, and is
// updated to it in place, its events kept.
func TestLogWithoutThePerSubjectLimitIsUpdated(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := eventstoretest.New(t)
	js, err := jetstream.New(env.Conn)
	if err != nil {
		t.Fatal(err)
	}
	// The log as an earlier version configured it: no per-subject limit.
	old := jetstream.StreamConfig{
		Name: eventstore.StreamName, Subjects: []string{eventstore.SubjectPrefix + ".>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxMsgs: -1, MaxBytes: -1, MaxMsgsPerSubject: -1, Duplicates: eventstore.DuplicateWindow,
		DenyDelete: true, DenyPurge: true, AllowDirect: true,
	}
	if _, err := js.UpdateStream(ctx, old); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, fmt.Sprintf("%s.probe.secret.s%d", eventstore.SubjectPrefix, i%2), []byte("event")); err != nil {
			t.Fatal(err)
		}
	}
	key, _ := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	s, err := eventstore.Open(ctx, env.Conn, key, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, eventstore.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxMsgsPerSubject != math.MaxInt64 || info.State.Msgs != 3 {
		t.Fatalf("after Open: max per subject %d, %d messages; want %d and 3", info.Config.MaxMsgsPerSubject, info.State.Msgs, int64(math.MaxInt64))
	}
	if last, err := s.LastSeq(ctx); err != nil || last != 3 {
		t.Fatalf("last sequence %d, %v", last, err)
	}
}
