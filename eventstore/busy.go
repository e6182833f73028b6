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

// noStreamTries bounds how often one write is sent while no stream answers it
// (jetstream.ErrNoStreamResponse): a stream created a moment ago on a cluster, or one
// whose leader is being elected, has nobody listening on its subjects yet. nats.go
// already waits 500 ms for one (two more sends, 250 ms apart) before it answers so;
// with this many sends a write waits about 2.5 s for a leader before it is given up as
// unavailable (a 503 to a client). Nothing is stored when nobody listens, so sending
// the write again can store it at most once.
const noStreamTries = 5

// retryBusy sends a write again while it is refused with isSubjectBusy, so that a busy
// subject is not mistaken for a lost race (every write through the store's handle goes
// through it, synced.go): the leader checks the expectation again on every try. It also
// sends it again, up to noStreamTries sends, while no stream answers it. Any other
// answer ends it at once; so do busyTries tries, with the last refusal, and ctx, with
// its cause and the last refusal.
func retryBusy[T any](ctx context.Context, write func() (T, error)) (T, error) {
	var last error
	noStream := 0
	v, err := backoff.Retry(ctx, func() (T, error) {
		v, err := write()
		switch {
		case err == nil:
			return v, nil
		case isSubjectBusy(err):
		case errors.Is(err, jetstream.ErrNoStreamResponse):
			if noStream++; noStream >= noStreamTries {
				return v, backoff.Permanent(err)
			}
		default:
			return v, backoff.Permanent(err)
		}
		last = err
		return v, err
	}, backoff.WithBackOff(newBusyBackoff()), backoff.WithMaxTries(busyTries), backoff.WithMaxElapsedTime(0))
	if err != nil && last != nil && !isSubjectBusy(err) && !errors.Is(err, last) && ctx.Err() != nil {
		return v, fmt.Errorf("%w: %w", err, last)
	}
	return v, err
}
