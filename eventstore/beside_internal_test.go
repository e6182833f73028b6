package eventstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A bucket that was just created but is not found yet is retried, however nats.go
// says so: as a missing bucket, a missing stream (the update CreateKeyValue makes of
// a stream in use), or the API's own error. Anything else is an answer.
func TestBucketNotVisibleYet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{jetstream.ErrBucketNotFound, true},
		{fmt.Errorf("open: %w", jetstream.ErrStreamNotFound), true},
		{errors.Join(jetstream.ErrBucketExists, &jetstream.APIError{Code: 404, ErrorCode: jetstream.JSErrCodeStreamNotFound, Description: "stream not found"}), true},
		{&jetstream.APIError{Code: 404, ErrorCode: jetstream.JSErrCodeStreamNotFound, Description: "stream not found"}, true},
		{jetstream.ErrBucketExists, false},
		{&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamNameInUse, Description: "stream name already in use"}, false},
		{errors.New("permissions violation"), false},
		{nil, false},
	} {
		if got := bucketNotVisibleYet(tc.err); got != tc.want {
			t.Errorf("bucketNotVisibleYet(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// notFoundOnce is a bucket whose first status answer is the "stream not found" a
// forming cluster gives for a bucket just created (TestReplicasStartTogetherOnAFreshCluster
// failed with it in the reservations' look, round 25).
type notFoundOnce struct {
	jetstream.KeyValue
	asked int
}

func (kv *notFoundOnce) Status(ctx context.Context) (jetstream.KeyValueStatus, error) {
	kv.asked++
	if kv.asked == 1 {
		return nil, &jetstream.APIError{Code: 404, ErrorCode: jetstream.JSErrCodeStreamNotFound, Description: "stream not found"}
	}
	return kv.KeyValue.Status(ctx)
}

// A set-up step that reads a bucket's status through BucketStatus tries again when
// the bucket is not found yet, instead of failing the server's start.
func TestBucketStatusWaitsForABucketNotVisibleYet(t *testing.T) {
	t.Parallel()
	withEmbedded(t, t.TempDir(), func(js jetstream.JetStream) {
		ctx := context.Background()
		real, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "SEEN_LATE"})
		if err != nil {
			t.Fatal(err)
		}
		kv := &notFoundOnce{KeyValue: real}
		st, err := RetrySetup(ctx, js.Conn(), func(ctx context.Context) (jetstream.KeyValueStatus, error) {
			return BucketStatus(ctx, kv)
		})
		if err != nil {
			t.Fatalf("the step failed on a bucket not found once: %v", err)
		}
		if st.Bucket() != "SEEN_LATE" || kv.asked != 2 {
			t.Fatalf("status of %q after %d answers, want SEEN_LATE's after 2", st.Bucket(), kv.asked)
		}
	})
}
