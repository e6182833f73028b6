package eventstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Bounds of one coalesced message: well under NATS's default 1 MiB payload, so that a
// few large audit events (a values fetch lists up to 1,000 names) still fit.
const (
	maxGroupBytes  = 512 << 10
	maxGroupEvents = 256
)

// appendGroups coalesces unchecked appends (audit records: no expected sequence, no
// caller's message id) per subject: while one message is being stored (and fsynced),
// the appends to the same subject that arrive queue up, and the next message holds
// them all. The first caller to find no message in flight leads: it publishes what is
// queued, hands every caller its own events as recorded (its event ids, the message's
// sequence), and passes the lead to the first caller that queued meanwhile, so that no
// caller publishes for others longer than one message. Each caller's events keep
// their own actor, time and idempotency mark (envelopeEvent.Own).
//
// The zero value is ready to use.
type appendGroups struct {
	mu       sync.Mutex
	subjects map[string]*appendQueue
}

type appendQueue struct {
	waiting []*groupedAppend
}

type groupedAppend struct {
	prep *prepared
	// wake gets one value: the result is in, or lead is set.
	wake chan struct{}
	lead bool
	out  Appended
	err  error
}

// GroupedMessages counts the coalesced messages this store has published, and the
// appends they held, for tests and diagnostics.
func (s *Store) GroupedMessages() (messages, appends uint64) {
	return s.groupedMsgs.Load(), s.groupedAppends.Load()
}

// QueuedAppends is how many unchecked appends are waiting for a coalesced message
// (not counting those being published): a gauge for diagnostics and tests.
func (s *Store) QueuedAppends() int {
	g := &s.groups
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, q := range g.subjects {
		n += len(q.waiting)
	}
	return n
}

func (g *appendGroups) append(ctx context.Context, s *Store, prep *prepared) (Appended, error) {
	subject := prep.p.Aggregate.Subject()
	me := &groupedAppend{prep: prep, wake: make(chan struct{}, 1)}
	g.mu.Lock()
	if g.subjects == nil {
		g.subjects = map[string]*appendQueue{}
	}
	q, busy := g.subjects[subject]
	if !busy {
		q = &appendQueue{}
		g.subjects[subject] = q
	}
	q.waiting = append(q.waiting, me)
	if busy {
		g.mu.Unlock()
		// Once queued, the append is someone's to publish: waiting for it does not
		// follow ctx, or a cancelled caller would strand the lead. The publish itself
		// is bounded (jetstream's publish timeout).
		<-me.wake
		if !me.lead {
			return me.out, me.err
		}
		g.mu.Lock()
	}
	g.lead(context.WithoutCancel(ctx), s, subject, q)
	return me.out, me.err
}

// lead publishes the queue's head as one message, with g.mu held on entry; it
// returns with g.mu released, the lead passed on or the queue gone.
func (g *appendGroups) lead(ctx context.Context, s *Store, subject string, q *appendQueue) {
	n, size, events := 0, 0, 0
	for n < len(q.waiting) {
		a := q.waiting[n].prep
		if n > 0 && (size+a.size() > maxGroupBytes || events+len(a.p.Events) > maxGroupEvents) {
			break
		}
		size, events = size+a.size(), events+len(a.p.Events)
		n++
	}
	batch := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	g.mu.Unlock()

	seq, err := s.publishGroup(ctx, subject, batch)
	// Every caller of the batch is answered before the lead moves on: the next leader
	// is one of the callers still waiting, never one of these.
	for _, a := range batch {
		if err != nil {
			a.err = err
		} else {
			a.out = a.prep.recorded(seq)
		}
	}
	g.mu.Lock()
	var next *groupedAppend
	if len(q.waiting) > 0 {
		next = q.waiting[0]
		next.lead = true
	} else {
		delete(g.subjects, subject)
	}
	g.mu.Unlock()
	for _, a := range batch[1:] {
		a.wake <- struct{}{}
	}
	if next != nil {
		next.wake <- struct{}{}
	}
}

// publishGroup stores the appends as one message: the first append's envelope, with
// every further append's events after its own, the first of each marked with its
// owner.
func (s *Store) publishGroup(ctx context.Context, subject string, batch []*groupedAppend) (uint64, error) {
	preps := make([]*prepared, len(batch))
	for i, a := range batch {
		preps[i] = a.prep
	}
	env := combined(preps)
	data, err := marshalEnvelope(&env)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", env.Type, err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(headerType, env.Type)
	msg.Header.Set(headerEventID, env.ID)
	published := time.Now()
	// No message id: the server would keep it for DuplicateWindow (15 minutes, for
	// the callers' Idempotency-Keys), some 100 bytes each, and a fresh id can never
	// come again. The client resends only a publish no stream received.
	ack, err := s.js.publishLog(ctx, msg)
	s.observeAppend(time.Since(published), err)
	if err != nil {
		return 0, fmt.Errorf("append %s: %w", env.Type, err)
	}
	s.groupedMsgs.Add(1)
	s.groupedAppends.Add(uint64(len(batch)))
	return ack.Sequence, nil
}

// combined is the envelope of one message holding several appends: the first
// append's envelope, with every further append's events after its own, the first of
// each marked with its owner (envelopeEvent.Own).
func combined(preps []*prepared) envelope {
	env := preps[0].env
	if len(preps) == 1 {
		return env
	}
	more := make([]envelopeEvent, 0, len(env.More)+2*len(preps))
	more = append(more, env.More...)
	for _, a := range preps[1:] {
		e := a.env
		own := &eventOwner{Position: e.Position, Time: e.Time, Actor: e.Actor, Idem: e.Idem}
		more = append(more, envelopeEvent{ID: e.ID, Type: e.Type, Schema: e.Schema, Payload: e.Payload, Own: own})
		more = append(more, e.More...)
	}
	env.More = more
	return env
}
