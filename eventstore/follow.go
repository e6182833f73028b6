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
	Seq    uint64
	Record domain.Recorded
	Err    error
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
	cons, err := s.js.OrderedConsumer(ctx, StreamName, cfg)
	if err != nil {
		return nil, fmt.Errorf("follow from %d: %w", from, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(max(buffer, 64)))
	if err != nil {
		return nil, fmt.Errorf("follow from %d: %w", from, err)
	}
	out := make(chan Delivery, buffer)
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
			meta, err := msg.Metadata()
			if err != nil {
				return
			}
			d := Delivery{Seq: meta.Sequence.Stream}
			d.Record, d.Err = s.decode(ctx, d.Seq, msg.Data())
			select {
			case out <- d:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
