package eventstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A set-up step that says it is not ready yet (ErrUnavailable) is tried again, also
// when what it wraps is an API error that alone would be a definitive answer: the
// "stream not found" of a bucket another replica has just created on a forming
// cluster (OpenBucket). A bare API error of that kind still ends the retries.
func TestSetupRetriesWhatTheStepCallsUnavailable(t *testing.T) {
	s := newInternalStore(t)
	notFound := &jetstream.APIError{Code: 404, ErrorCode: jetstream.JSErrCodeStreamNotFound, Description: "stream not found"}
	tries := 0
	got, err := retrySetup(context.Background(), s.nc, func(context.Context) (string, error) {
		tries++
		if tries < 3 {
			return "", fmt.Errorf("%w: %w", ErrUnavailable, notFound)
		}
		return "opened", nil
	})
	if err != nil || got != "opened" || tries != 3 {
		t.Fatalf("got %q after %d tries, %v; want opened after 3", got, tries, err)
	}
	tries = 0
	if _, err := retrySetup(context.Background(), s.nc, func(context.Context) (string, error) {
		tries++
		return "", notFound
	}); err == nil || tries != 1 {
		t.Fatalf("a bare stream-not-found: %d tries, %v; want one, and its error", tries, err)
	}
}
