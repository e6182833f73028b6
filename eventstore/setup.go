package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SetupTimeout bounds how long one setup step (creating or updating the stream or a
// bucket) keeps retrying. A cluster that has just started elects its JetStream meta
// leader and places R3 assets within seconds; a minute covers a slow election and
// replicas that start together and create the same buckets at the same instant.
const SetupTimeout = 60 * time.Second

// setupAttemptTimeout bounds one attempt. A request that the cluster lost while it was
// electing a leader is never answered: waiting for the whole SetupTimeout on it would
// leave no time for the attempt that succeeds.
const setupAttemptTimeout = 3 * time.Second

// JetStream API error codes that mean "the cluster is not ready yet" rather than "this
// request is wrong". The server answers them while the meta leader is being elected or
// before the peers that an R3 asset needs have joined.
const (
	jsErrClusterIncomplete = 10004 // incomplete results
	jsErrClusterNoPeers    = 10005 // no suitable peers for placement (peers not known yet)
	jsErrClusterNotActive  = 10006 // JetStream not in clustered mode yet
	jsErrClusterNotAvail   = 10008 // JetStream system temporarily unavailable
	jsErrClusterNotLeader  = 10009 // not the cluster leader
)

// ErrJetStreamDisabled means the NATS server answers but runs without JetStream: no
// amount of waiting helps, so setup stops at once instead of retrying for a minute.
var ErrJetStreamDisabled = errors.New("eventstore: the NATS server has JetStream disabled")

// retrySetup runs one idempotent setup step until it succeeds, with backoff, while its
// errors say that NATS is not ready yet (timeouts, no responders, a cluster without a
// leader). A definitive answer (a 400 API error such as a conflicting configuration,
// JetStream disabled) ends it at once; so does ctx, or SetupTimeout. The error wraps
// the last reason (the caller names the step), so that start-up fails with it, never panics.
func retrySetup[T any](ctx context.Context, nc *nats.Conn, step func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, SetupTimeout)
	defer cancel()
	start := time.Now()
	var zero T
	var last error
	attempts := 0
	v, err := backoff.Retry(ctx, func() (T, error) {
		attempts++
		actx, acancel := context.WithTimeout(ctx, setupAttemptTimeout)
		v, err := step(actx)
		acancel()
		if err == nil {
			return v, nil
		}
		if definitive := setupDefinitive(nc, err); definitive != nil {
			return zero, backoff.Permanent(definitive)
		}
		last = err
		return zero, err
	}, backoff.WithBackOff(newSetupBackoff()), backoff.WithMaxElapsedTime(0))
	if err != nil && last != nil && ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
		return zero, fmt.Errorf("not ready after %d attempts in %s (%w): %w", attempts, time.Since(start).Round(time.Millisecond), context.Cause(ctx), last)
	}
	return v, err
}

// newSetupBackoff spaces the attempts of a setup step: 100 ms, doubling, at most 2 s;
// SetupTimeout (ctx), not the backoff, ends them.
func newSetupBackoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     100 * time.Millisecond,
		RandomizationFactor: 0,
		Multiplier:          2,
		MaxInterval:         2 * time.Second,
	}
}

// setupDefinitive returns the error to give up with when err is a definitive answer,
// and nil when the step is worth another try.
func setupDefinitive(nc *nats.Conn, err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		// Nobody answers the JetStream API. On a server whose INFO says it has no
		// JetStream that stays so; a cluster member that is still starting would
		// advertise JetStream and answers soon.
		if js, _ := nc.ConnectedServerJetStream(); !js && nc.IsConnected() {
			return fmt.Errorf("%w: %w", ErrJetStreamDisabled, err)
		}
		return nil
	case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return err
	case errors.Is(err, nats.ErrConnectionClosed):
		return err
	}
	if errors.Is(err, ErrUnavailable) {
		// The step said it is not ready yet, whatever answer it wraps: OpenBucket wraps
		// a "stream not found" (an API error, 404) for a bucket just created on a forming
		// cluster, which the API error's own check below would call definitive (a
		// replica exited at start with it in TestClusterFailover, twice).
		return nil
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jsErrClusterIncomplete, jsErrClusterNoPeers, jsErrClusterNotActive, jsErrClusterNotAvail, jsErrClusterNotLeader:
			return nil
		}
		if apiErr.Code == 503 {
			return nil
		}
		return err
	}
	if IsUnavailable(err) {
		return nil
	}
	return err
}
