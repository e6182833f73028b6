package eventstore

import (
	"context"
	"fmt"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go/jetstream"
)

// Delivery is one message of the log as a follower sees it. Err is set when the event
// could not be opened or decoded (for example after its org was crypto-shredded): the
// follower still has to move past Seq.
type Delivery struct {
	Seq uint64
	// Records are the events of the message at Seq: one, or several that one decision
	// made together.
	Records []domain.Recorded
	Err     error
}

// Follow delivers every event from stream sequence from (1 = the beginning) in order,
// then keeps delivering new ones until ctx ends or the consumer fails; the channel is
// closed then. It uses an ordered consumer, which recovers gaps by itself.
func (s *Store) Follow(ctx context.Context, from uint64, buffer int) (<-chan Delivery, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{SubjectPrefix + ".>"}}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	out, err := followOrdered(ctx, s.js, StreamName, cfg, buffer, func(msg jetstream.Msg) (Delivery, bool) {
		meta, err := msg.Metadata()
		if err != nil {
			return Delivery{}, false
		}
		d := Delivery{Seq: meta.Sequence.Stream}
		d.Records, d.Err = s.decode(ctx, d.Seq, msg.Data())
		return d, true
	})
	if err != nil {
		return nil, fmt.Errorf("follow from %d: %w", from, err)
	}
	return out, nil
}

// followOrdered runs an ordered consumer on stream and sends what convert makes of each
// message (those it declines are skipped) until ctx ends or the consumer fails; the
// channel is closed then.
func followOrdered[T any](ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig, buffer int, convert func(jetstream.Msg) (T, bool)) (<-chan T, error) {
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(max(buffer, 64)))
	if err != nil {
		return nil, err
	}
	out := make(chan T, buffer)
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	go func() {
		defer close(out)
		for {
			msg, err := it.Next()
			if err != nil {
				return
			}
			v, ok := convert(msg)
			if !ok {
				continue
			}
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
