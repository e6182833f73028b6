package eventstore

import (
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
