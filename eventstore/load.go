package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// loadBatch is how many events one direct-get request returns.
const loadBatch = 500

// Loaded is an aggregate's history.
type Loaded struct {
	Events []domain.Recorded
	// LastSeq is the stream sequence of the last event, the ExpectedSeq of the next append.
	LastSeq uint64
}

// Version is the aggregate's event count.
func (l Loaded) Version() int { return len(l.Events) }

// Load reads every event of one aggregate, in order, with direct-get batches.
func (s *Store) Load(ctx context.Context, agg Aggregate) (Loaded, error) {
	return s.LoadUntil(ctx, agg, 0)
}

// LoadUntil reads an aggregate's events up to and including stream sequence until
// (0 means all).
func (s *Store) LoadUntil(ctx context.Context, agg Aggregate, until uint64) (Loaded, error) {
	var out Loaded
	next := uint64(1)
	for {
		n, err := s.loadFrom(ctx, agg.Subject(), next, until, &out)
		if err != nil {
			return Loaded{}, err
		}
		if n < loadBatch {
			return out, nil
		}
		next = out.LastSeq + 1
	}
}

func (s *Store) loadFrom(ctx context.Context, subject string, from, until uint64, out *Loaded) (int, error) {
	msgs, err := jetstreamext.GetBatch(ctx, s.js, StreamName, loadBatch,
		jetstreamext.GetBatchSeq(from), jetstreamext.GetBatchSubject(subject))
	if errors.Is(err, jetstreamext.ErrBatchUnsupported) {
		return s.loadOneByOne(ctx, subject, from, until, out)
	}
	if err != nil {
		return 0, fmt.Errorf("load %s: %w", subject, err)
	}
	n := 0
	for raw, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if errors.Is(err, jetstreamext.ErrBatchUnsupported) && n == 0 {
			return s.loadOneByOne(ctx, subject, from, until, out)
		}
		if err != nil {
			return 0, fmt.Errorf("load %s: %w", subject, err)
		}
		n++
		if until > 0 && raw.Sequence > until {
			return 0, nil
		}
		recs, err := s.decode(ctx, raw.Sequence, raw.Data)
		if err != nil {
			return 0, err
		}
		out.Events = append(out.Events, recs...)
		out.LastSeq = raw.Sequence
	}
	return n, nil
}

// ScanScope calls fn with every event of one organization (or the platform scope), in
// stream order, up to and including sequence until (0 means all). Events are read in
// batches and not kept, so memory does not grow with the log. It is for replays: time
// travel, audit verification, offline state dumps. An error from fn stops the scan.
func (s *Store) ScanScope(ctx context.Context, scope string, until uint64, fn func(domain.Recorded) error) error {
	next := uint64(1)
	subject := SubjectPrefix + "." + scope + ".>"
	for {
		var batch Loaded
		n, err := s.loadFrom(ctx, subject, next, until, &batch)
		if err != nil {
			return err
		}
		for _, r := range batch.Events {
			if err := fn(r); err != nil {
				return err
			}
		}
		if n < loadBatch || batch.LastSeq == 0 {
			return nil
		}
		next = batch.LastSeq + 1
	}
}

// LoadScope reads every event of one scope into memory; see ScanScope.
func (s *Store) LoadScope(ctx context.Context, scope string, until uint64) ([]domain.Recorded, error) {
	var out []domain.Recorded
	err := s.ScanScope(ctx, scope, until, func(r domain.Recorded) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// loadOneByOne is loadFrom for servers older than 2.11, which have no batched direct
// get: one "next message on this subject" request per event. Slower, same result.
func (s *Store) loadOneByOne(ctx context.Context, subject string, from, until uint64, out *Loaded) (int, error) {
	n := 0
	for seq := from; n < loadBatch; n++ {
		raw, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("load %s: %w", subject, err)
		}
		if until > 0 && raw.Sequence > until {
			return 0, nil
		}
		recs, err := s.decode(ctx, raw.Sequence, raw.Data)
		if err != nil {
			return 0, err
		}
		out.Events = append(out.Events, recs...)
		out.LastSeq = raw.Sequence
		seq = raw.Sequence + 1
	}
	return n, nil
}
