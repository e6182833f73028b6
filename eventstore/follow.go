package eventstore

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

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
//
// Messages are opened (AES-GCM, then the envelope's and the event's JSON) by as many
// goroutines as there are processors, and delivered in stream order: opening them one
// at a time made the follower the slower half of a rebuild, which applies what it
// delivers on one goroutine.
func (s *Store) Follow(ctx context.Context, from uint64, buffer int) (<-chan Delivery, error) {
	filter, err := s.followFilter(ctx)
	if err != nil {
		return nil, fmt.Errorf("follow from %d: %w", from, err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filter}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	raw, err := followOrdered(ctx, s.js, StreamName, cfg, buffer, func(msg jetstream.Msg) (rawDelivery, bool) {
		meta, err := msg.Metadata()
		if err != nil {
			return rawDelivery{}, false
		}
		// Read unfiltered, a subject given to the stream after this follower started
		// would reach it: such a message is no event of the log, and is passed over
		// (delivered with no records, so that the follower's reader moves past it)
		// rather than taken for an event that does not open, which stops projection.
		if !strings.HasPrefix(msg.Subject(), SubjectPrefix+".") {
			return rawDelivery{seq: meta.Sequence.Stream, foreign: true}, true
		}
		return rawDelivery{seq: meta.Sequence.Stream, data: msg.Data()}, true
	})
	if err != nil {
		return nil, fmt.Errorf("follow from %d: %w", from, err)
	}
	return decodeInOrder(ctx, raw, buffer, runtime.GOMAXPROCS(0), func(r rawDelivery) Delivery {
		d := Delivery{Seq: r.seq}
		if !r.foreign {
			d.Records, d.Err = s.decode(ctx, r.seq, r.data)
		}
		return d
	}), nil
}

// followFilter is the subjects a follower's consumer asks for: none (every message of
// the stream) when the stream holds the log's subjects only, as the stream this store
// creates does; the log's otherwise. A consumer filtered by the log's wildcard had the
// server match it against the subject of every message it delivered (firstMatching),
// a twentieth of a rebuild's CPU, for the very messages an unfiltered one delivers.
func (s *Store) followFilter(ctx context.Context) ([]string, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	if subjects := info.Config.Subjects; len(subjects) == 1 && subjects[0] == SubjectPrefix+".>" {
		return nil, nil
	}
	return []string{SubjectPrefix + ".>"}, nil
}

// rawDelivery is a message of the log as the consumer gave it, not opened yet.
type rawDelivery struct {
	seq  uint64
	data []byte
	// foreign is a message on a subject outside the log (see Follow).
	foreign bool
}

// decodeChunk bounds how many messages one decoding goroutine takes at a time: those
// already waiting, so that a live event goes alone, at once, and a replay's backlog
// in chunks that cost a few channel operations each rather than per message.
const decodeChunk = 64

// decodeInOrder decodes what arrives on in with workers goroutines and delivers the
// results in the order of in. It reads ahead by at most a few chunks per worker, and
// closes its channel when in is closed and everything before is delivered, or when
// ctx ends.
func decodeInOrder(ctx context.Context, in <-chan rawDelivery, buffer, workers int, decode func(rawDelivery) Delivery) <-chan Delivery {
	out := make(chan Delivery, buffer)
	type job struct {
		raws []rawDelivery
		out  []Delivery
		done chan struct{}
	}
	workers = max(workers, 1)
	jobs := make(chan *job, 2*workers)
	// order holds the jobs in the order of in; the emitter waits for each in turn.
	order := make(chan *job, 4*workers)
	go func() {
		defer close(jobs)
		defer close(order)
		for {
			var first rawDelivery
			var ok bool
			select {
			case first, ok = <-in:
			case <-ctx.Done():
				return
			}
			if !ok {
				return
			}
			j := &job{raws: []rawDelivery{first}, done: make(chan struct{})}
		gather:
			for len(j.raws) < decodeChunk {
				select {
				case r, ok := <-in:
					if !ok {
						break gather
					}
					j.raws = append(j.raws, r)
				default:
					break gather
				}
			}
			select {
			case order <- j:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		go func() {
			for j := range jobs {
				j.out = make([]Delivery, len(j.raws))
				for i, r := range j.raws {
					j.out[i] = decode(r)
				}
				close(j.done)
			}
		}()
	}
	go func() {
		defer close(out)
		for j := range order {
			select {
			case <-j.done:
			case <-ctx.Done():
				return
			}
			for _, d := range j.out {
				select {
				case out <- d:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// followHeartbeat is how often an idle ordered consumer's server says it is still
// there; two missed ones make the client make the consumer anew. On a cluster the
// consumer lives on one node, and when that node dies nothing else tells the client:
// with the jetstream package's default (5 s) a follower (the projector, the keyring's
// watch, a change feed) stood still for 10 s after a node died.
const followHeartbeat = time.Second

// followOrdered runs an ordered consumer on stream and sends what convert makes of each
// message (those it declines are skipped) until ctx ends or the consumer fails; the
// channel is closed then.
func followOrdered[T any](ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig, buffer int, convert func(jetstream.Msg) (T, bool)) (<-chan T, error) {
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(max(buffer, 64)), jetstream.PullHeartbeat(followHeartbeat))
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
