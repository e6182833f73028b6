// Package subscriber is what a downstream service needs to follow Keyledger's change
// feed from NATS: a durable JetStream consumer on KEYLEDGER_CHANGES, filtered to one
// organization (and optionally one environment), that survives the service's downtime
// and resumes where it left off. Notices never carry values: a service that needs the
// new value fetches it with a service token.
//
// Notices on NATS carry ids, not names: the stream stores each secret's name sealed with
// the organization's data key (wire.SealedChangeNotice.NameSealed), which only Keyledger
// itself can open, so a subscriber needs no master key and learns no names from NATS.
// Name is always empty here. The notice's shape is httpapi/wire's, the one the API's
// feed and the Go client use too. A service that wants names keys its work by SecretID, or follows
// the API's change feed (GET /api/v1/orgs/{org}/changes), which sends them to members.
package subscriber

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Options say what to follow.
type Options struct {
	// OrgID is the organization whose changes are followed.
	OrgID string
	// Env narrows to one environment ("" = every environment and description changes).
	Env string
	// Durable names the consumer; the server remembers its position under this name, so
	// a restarted service with the same name resumes after its last acknowledged notice.
	Durable string
	// AckWait is how long a notice may be in the handler before it is delivered again.
	AckWait time.Duration
}

// Handler handles one notice (ids only: Name is empty, NameSealed opaque). Returning an error asks for the notice again (after a
// short delay); returning nil acknowledges it for good.
type Handler func(ctx context.Context, n wire.SealedChangeNotice) error

// Run follows the feed until ctx ends, calling h for each notice in order. Notices are
// acknowledged only after h returns nil, and the acknowledgement is confirmed by the
// server, so a notice handled before a clean stop is not delivered again; after a crash
// between h and the acknowledgement it is, and h can drop it by its Seq.
func Run(ctx context.Context, js jetstream.JetStream, opts Options, h Handler) error {
	if opts.OrgID == "" || opts.Durable == "" {
		return errors.New("subscriber: OrgID and Durable are required")
	}
	env := opts.Env
	if env == "" {
		env = ">"
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, wire.ChangesStream, jetstream.ConsumerConfig{
		Durable:       opts.Durable,
		FilterSubject: wire.ChangesSubjectPrefix + "." + opts.OrgID + "." + env,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       max(opts.AckWait, 30*time.Second),
		MaxAckPending: 1, // one at a time: order is kept even when a notice is retried
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("subscriber: consumer %s: %w", opts.Durable, err)
	}
	for {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("subscriber: fetch: %w", err)
		}
		for msg := range batch.Messages() {
			if err := handle(ctx, msg, h); err != nil {
				return err
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func handle(ctx context.Context, msg jetstream.Msg, h Handler) error {
	var n wire.SealedChangeNotice
	if err := json.Unmarshal(msg.Data(), &n); err != nil {
		// Not a notice this version understands: take it off the queue.
		return msg.Term()
	}
	if err := h(ctx, n); err != nil {
		return msg.NakWithDelay(time.Second)
	}
	// The notice is handled: acknowledge it even when the service is stopping, or it
	// would come again after the restart.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		return fmt.Errorf("subscriber: ack %d: %w", n.Seq, err)
	}
	return nil
}
