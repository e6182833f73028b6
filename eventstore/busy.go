package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go/jetstream"
)

// isSubjectBusy reports whether err is a replicated stream's leader refusing a write
// with an expected sequence of its subject because an earlier write to that subject is
// still being applied (error code 10164). Nothing was stored, and the expectation may
// well be right: the leader answers so for a short while after it acknowledged a write,
// even to the writer that made it. Only once that write is applied does a wrong
// expectation get its own answer (code 10071, IsWrongLastSequence's other code).
func isSubjectBusy(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// busyTries bounds how often one conditional write is sent while its subject is busy.
// With newBusyBackoff's pauses the last try is sent about 370 ms after the first.
const busyTries = 10

// newBusyBackoff spaces the tries of a write whose subject is busy: 1 ms, doubling up to
// 64 ms, ±50 % so that writers refused together do not come back together.
func newBusyBackoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         64 * time.Millisecond,
	}
}

// retryBusy sends a conditional write again while it is refused with isSubjectBusy, so
// that a busy subject is not mistaken for a lost race (every write through the store's
// handle goes through it, synced.go): the leader checks the
// expectation again on every try. Any other answer ends it at once; so do busyTries
// tries, with the last refusal, and ctx, with its cause and the last refusal.
func retryBusy[T any](ctx context.Context, write func() (T, error)) (T, error) {
	var last error
	v, err := backoff.Retry(ctx, func() (T, error) {
		v, err := write()
		if err != nil && !isSubjectBusy(err) {
			return v, backoff.Permanent(err)
		}
		last = err
		return v, err
	}, backoff.WithBackOff(newBusyBackoff()), backoff.WithMaxTries(busyTries), backoff.WithMaxElapsedTime(0))
	if err != nil && last != nil && !isSubjectBusy(err) && ctx.Err() != nil {
		return v, fmt.Errorf("%w: %w", err, last)
	}
	return v, err
}
