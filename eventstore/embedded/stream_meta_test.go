package embedded_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go/jetstream"
)

// streamDir is where the server keeps the files of the stream name.
func streamDir(dir, name string) string {
	return filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", name)
}

// A kill between the server's two metadata writes (meta.inf, then meta.sum: at a
// stream's creation and at each update of its configuration) used to make the stream
// vanish at every later start, with its messages: nats-server skips a stream whose
// checksum file is missing or does not match. The embedded server finishes the write
// before it starts, and the stream is there, with every message and its newest
// configuration, at every start after.
func TestStreamSurvivesAKillBetweenItsMetadataWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}
	seeded := func(t *testing.T) string {
		dir := t.TempDir()
		eventstoretest.WithEmbedded(t, dir, func(js jetstream.JetStream) {
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if _, err := js.Publish(ctx, "s.a", []byte("x")); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := js.CreateConsumer(ctx, "S", jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
				t.Fatal(err)
			}
		})
		return dir
	}
	expect := func(t *testing.T, dir, description string) {
		t.Helper()
		for start := range 2 {
			eventstoretest.WithEmbedded(t, dir, func(js jetstream.JetStream) {
				st, err := js.Stream(ctx, "S")
				if err != nil {
					t.Fatalf("start %d: the stream: %v", start+1, err)
				}
				info := st.CachedInfo()
				if info.State.Msgs != 5 || info.Config.Description != description {
					t.Fatalf("start %d: the stream holds %d messages and description %q, want 5 and %q",
						start+1, info.State.Msgs, info.Config.Description, description)
				}
				if _, err := st.Consumer(ctx, "C"); err != nil {
					t.Fatalf("start %d: the durable consumer: %v", start+1, err)
				}
			})
		}
	}

	t.Run("killed while created", func(t *testing.T) {
		t.Parallel()
		dir := seeded(t)
		if err := os.Remove(filepath.Join(streamDir(dir, "S"), "meta.sum")); err != nil {
			t.Fatal(err)
		}
		expect(t, dir, "")
	})
	t.Run("killed while updated", func(t *testing.T) {
		t.Parallel()
		dir := seeded(t)
		sumPath := filepath.Join(streamDir(dir, "S"), "meta.sum")
		old, err := os.ReadFile(sumPath)
		if err != nil {
			t.Fatal(err)
		}
		eventstoretest.WithEmbedded(t, dir, func(js jetstream.JetStream) {
			updated := cfg
			updated.Description = "updated"
			if _, err := js.UpdateStream(ctx, updated); err != nil {
				t.Fatal(err)
			}
		})
		// The update's meta.inf, the checksum of the configuration before it.
		if err := os.WriteFile(sumPath, old, 0o600); err != nil {
			t.Fatal(err)
		}
		expect(t, dir, "updated")
	})
	t.Run("consumer killed while created", func(t *testing.T) {
		t.Parallel()
		dir := seeded(t)
		if err := os.Remove(filepath.Join(streamDir(dir, "S"), "obs", "C", "meta.sum")); err != nil {
			t.Fatal(err)
		}
		expect(t, dir, "")
	})
}

// A meta.inf that is not a whole configuration of its stream (empty after a power
// cut, or damaged) gets no checksum: the server skips the stream as before, and a
// later create of it writes its metadata anew, instead of the server loading
// whatever that file holds.
func TestDamagedStreamMetadataIsNotBlessed(t *testing.T) {
	t.Parallel()
	for name, meta := range map[string]string{
		"empty":          "",
		"not json":       `{"name":"S","subj`,
		"another stream": `{"name":"T","subjects":["s.>"],"storage":"file"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			eventstoretest.WithEmbedded(t, dir, func(js jetstream.JetStream) {
				_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage})
				if err != nil {
					t.Fatal(err)
				}
			})
			sd := streamDir(dir, "S")
			if err := os.WriteFile(filepath.Join(sd, "meta.inf"), []byte(meta), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(sd, "meta.sum")); err != nil {
				t.Fatal(err)
			}
			eventstoretest.WithEmbedded(t, dir, func(js jetstream.JetStream) {})
			if _, err := os.Stat(filepath.Join(sd, "meta.sum")); err == nil {
				t.Fatalf("a meta.sum was written for a meta.inf of %q", meta)
			}
		})
	}
}
