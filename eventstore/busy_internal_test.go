package eventstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A write refused because its subject is busy (10164) is sent again until it gets
// another answer; a wrong expectation (10071) or any other error ends it at once, and
// a subject busy for busyTries tries ends it with the refusal, still a lost race.
func TestRetryBusy(t *testing.T) {
	t.Parallel()
	busy := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant, Description: "wrong last sequence"}
	wrong := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence: 7"}
	other := errors.New("nats: timeout")
	none := jetstream.ErrNoStreamResponse
	noneEvery := make([]error, busyTries)
	for i := range noneEvery {
		noneEvery[i] = none
	}
	for _, tc := range []struct {
		name    string
		answers []error // the write's answers in turn; nil is success
		tries   int
		want    error // nil: success
	}{
		{"stored at once", []error{nil}, 1, nil},
		{"busy, then stored", []error{busy, busy, nil}, 3, nil},
		{"busy, then a wrong expectation", []error{busy, wrong}, 2, wrong},
		{"a wrong expectation is not sent again", []error{wrong, nil}, 1, wrong},
		{"another error is not sent again", []error{other, nil}, 1, other},
		{"busy every time", nil, busyTries, busy},
		{"no stream answers, then stored", []error{none, none, nil}, 3, nil},
		{"no stream answers, then busy, then stored", []error{none, busy, none, nil}, 4, nil},
		{"no stream answers every time", noneEvery, noStreamTries, none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tries := 0
			v, err := retryBusy(context.Background(), func() (uint64, error) {
				tries++
				answer := error(busy)
				if tries <= len(tc.answers) {
					answer = tc.answers[tries-1]
				}
				if answer != nil {
					return 0, answer
				}
				return 42, nil
			})
			if tries != tc.tries {
				t.Errorf("%d tries, want %d", tries, tc.tries)
			}
			if tc.want == nil {
				if err != nil || v != 42 {
					t.Fatalf("got %d, %v; want 42", v, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			switch tc.want {
			case other:
			case none:
				if !IsUnavailable(err) || IsWrongLastSequence(err) {
					t.Errorf("%v is not unavailable, or is a lost race", err)
				}
			default:
				if !IsWrongLastSequence(err) {
					t.Errorf("%v is no lost race", err)
				}
			}
		})
	}
}

// A context that ends while the subject is busy ends the tries with its cause and the
// last refusal.
func TestRetryBusyKeepsToTheContext(t *testing.T) {
	t.Parallel()
	busy := &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant}
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	_, err := retryBusy(ctx, func() (struct{}, error) {
		tries++
		if tries == 2 {
			cancel()
		}
		return struct{}{}, busy
	})
	if !errors.Is(err, context.Canceled) || !isSubjectBusy(err) || tries != 2 {
		t.Fatalf("after %d tries: %v", tries, err)
	}
}

// busyKeyValue is a bucket whose conditional writes find their key busy the first
// times they are sent.
type busyKeyValue struct {
	jetstream.KeyValue
	busyFor int
	sent    map[string]int
}

func (b *busyKeyValue) answer(op string) error {
	b.sent[op]++
	if b.sent[op] <= b.busyFor {
		return &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant}
	}
	return nil
}

func (b *busyKeyValue) Create(context.Context, string, []byte, ...jetstream.KVCreateOpt) (uint64, error) {
	return 1, b.answer("create")
}

func (b *busyKeyValue) Update(context.Context, string, []byte, uint64) (uint64, error) {
	return 2, b.answer("update")
}

func (b *busyKeyValue) Delete(context.Context, string, ...jetstream.KVDeleteOpt) error {
	return b.answer("delete")
}

func (b *busyKeyValue) Purge(context.Context, string, ...jetstream.KVDeleteOpt) error {
	return b.answer("purge")
}

// Every bucket eventstore opens sends a conditional write again while its key is busy
// (the release of a reservation just taken was refused so on a cluster, in CI).
func TestBucketsRetryBusyKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fake := &busyKeyValue{busyFor: 2, sent: map[string]int{}}
	var kv jetstream.KeyValue = storeKV{KeyValue: fake}
	if _, err := kv.Create(ctx, "k", nil); err != nil {
		t.Error(err)
	}
	if _, err := kv.Update(ctx, "k", nil, 1); err != nil {
		t.Error(err)
	}
	if err := kv.Delete(ctx, "k", jetstream.LastRevision(2)); err != nil {
		t.Error(err)
	}
	if err := kv.Purge(ctx, "k", jetstream.LastRevision(2)); err != nil {
		t.Error(err)
	}
	for _, op := range []string{"create", "update", "delete", "purge"} {
		if fake.sent[op] != 3 {
			t.Errorf("%s sent %d times, want 3", op, fake.sent[op])
		}
	}

	s := newInternalStore(t)
	cfg := jetstream.KeyValueConfig{Bucket: "BUSY_WIRING", Storage: jetstream.MemoryStorage}
	created, err := CreateBucket(ctx, s.js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	opened, _, err := OpenBucket(ctx, s.js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, kv := range map[string]jetstream.KeyValue{"CreateBucket": created, "OpenBucket": opened} {
		if _, ok := kv.(storeKV); !ok {
			t.Errorf("%s gives a %T, which does not retry busy keys", name, kv)
		}
	}
}

// A write through the store's handle to a stream that has nobody listening yet (on a
// cluster, a stream created a moment ago or electing its leader) waits for it, beyond
// the 500 ms nats.go waits by itself: a cluster test's first write to a new stream
// failed so under load. It is stored once.
func TestTheHandleWaitsForAStreamToAnswer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := newInternalStore(t)
	created := make(chan error, 1)
	go func() {
		time.Sleep(time.Second)
		_, err := s.js.CreateStream(ctx, jetstream.StreamConfig{Name: "LATE", Subjects: []string{"late.>"}, Storage: jetstream.MemoryStorage})
		created <- err
	}()
	ack, err := s.js.Publish(ctx, "late.one", []byte("x"), jetstream.WithMsgID("late-1"))
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("a publish 1 s before its stream exists: %v", err)
	}
	st, err := s.js.Stream(ctx, "LATE")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != "LATE" || ack.Sequence != 1 || info.State.Msgs != 1 {
		t.Fatalf("ack %+v, %d messages stored", ack, info.State.Msgs)
	}
}
