package eventstore

import (
	"context"
	"errors"

	"github.com/keyledger/keyledger/eventstore/storeerr"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable means the log did not answer completely in time: a load that could
// not be read to its end, for example while the stream elects a new leader. It is not
// "no events": the caller may retry later, and must not act on a partial history.
// It is storeerr's, so that consumers without NATS match it too.
var ErrUnavailable = storeerr.ErrUnavailable

// IsUnavailable reports whether err says that NATS or JetStream could not be reached
// or did not answer in time, as opposed to refusing the request: a timeout, no
// responders, a publish nobody acknowledged, a connection that is closed or
// reconnecting, a JetStream API answer with status 503, or ErrUnavailable. Such a
// request may succeed when tried again later; the HTTP layer answers it with 503.
//
// A plain context.DeadlineExceeded counts: the jetstream client reports its own
// request timeout that way (a KV get while the bucket elects a leader, say). A
// cancelled context does not: that is the caller giving up, not the log.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range []error{
		ErrUnavailable,
		context.DeadlineExceeded,
		nats.ErrTimeout,
		nats.ErrNoResponders,
		nats.ErrConnectionClosed,
		nats.ErrConnectionReconnecting,
		nats.ErrConnectionDraining,
		nats.ErrDisconnected,
		nats.ErrStaleConnection,
		nats.ErrNoServers,
		jetstream.ErrNoStreamResponse,
		jetstream.ErrJetStreamNotEnabled,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}
