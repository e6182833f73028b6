package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// loadBatch is how many events one direct-get request returns.
const loadBatch = 500

// SyncQueueLen is the queue length a Store's connection should give its synchronous
// subscriptions (nats.SyncQueueLen(eventstore.SyncQueueLen)). A load's batch direct
// get subscribes synchronously for its replies, and the client allocates (and zeroes)
// that queue for every subscription: at nats.go's default of 65,536 entries, 512 KiB
// per load, which was a third of a reveal's CPU and most of its garbage. It must hold
// a whole batch (loadBatch messages and the end-of-batch status), or a burst would be
// dropped as a slow consumer and the load retried.
const SyncQueueLen = 2 * loadBatch

// Loaded is an aggregate's history.
type Loaded struct {
	Events []domain.Recorded
	// LastSeq is the stream sequence of the last event, the ExpectedSeq of the next append.
	LastSeq uint64
}

// EventCount is how many events the aggregate has: the Position of its next event,
// minus one.
func (l Loaded) EventCount() int { return len(l.Events) }

// Load reads every event of one aggregate, in order, with direct-get batches.
func (s *Store) Load(ctx context.Context, agg Aggregate) (Loaded, error) {
	return s.LoadUntil(ctx, agg, 0)
}

// LoadUntil reads an aggregate's events up to and including stream sequence until
// (0 means all).
func (s *Store) LoadUntil(ctx context.Context, agg Aggregate, until uint64) (Loaded, error) {
	return s.loadRange(ctx, agg, 1, until)
}

// LoadAfter reads an aggregate's events recorded after stream sequence after: what a
// copy of the aggregate kept in memory up to after is missing. Its Version counts
// those events only, and LastSeq is 0 when there are none. Its cost grows with the
// events it returns, not with the aggregate's history (one direct-get request when
// nothing is new).
func (s *Store) LoadAfter(ctx context.Context, agg Aggregate, after uint64) (Loaded, error) {
	// A caller that holds the state up to after (the commands' aggregate cache) may
	// find no new event at all: an erasure appends nothing to the organization's own
	// subjects, so it must be asked for here, or a cached organization would outlive
	// its erasure.
	if err := s.notErased(ctx, agg.OrgID); err != nil {
		return Loaded{}, err
	}
	if after > 0 {
		// Usually nothing is new: ask for the subject's first message after after, one
		// message and not a batch. The server answers "not found" from its indexes
		// alone (which blocks hold the subject, and each block's per-subject first and
		// last sequence) without reading a message. Asking for the subject's last
		// message instead read it, and reading it loaded its whole 8 MB message block
		// into the server's cache: commands over random cached secrets kept blocks in
		// memory that nothing else read. (A block whose per-subject index the server
		// dropped, two minutes after its last use, is still read to rebuild it, as is
		// every block a load of an uncached aggregate reads from.) A batch get
		// from after+1 would first count the subject's pending messages by walking the
		// message block that after is in (a fifth of a reveal's CPU, nats-server's
		// NumPending, when it was the first request).
		// Anything else (something new, no answer) takes the batch path, which
		// tells a short read from an unavailable log.
		if newer, err := s.RecordedAfter(ctx, agg, after); err == nil && !newer {
			return Loaded{}, nil
		}
	}
	return s.loadRange(ctx, agg, after+1, 0)
}

// RecordedAfter tells whether the log holds an event of agg after stream sequence
// after: whether a copy of the aggregate's state as of after (a read model's row at
// its checkpoint) is still its state now. It reads no message when nothing is new (see
// LoadAfter), and from a checkpoint near the log's head it touches only the newest
// message blocks, whose indexes the server keeps in memory anyway.
func (s *Store) RecordedAfter(ctx context.Context, agg Aggregate, after uint64) (bool, error) {
	// On a cluster the leader answers: a follower could say "nothing newer" from
	// behind the log (load_leader.go).
	_, err := s.getMsg(ctx, MsgRequest{Seq: after + 1, NextFor: agg.Subject()})
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look for events of %s after %d: %w", agg.Subject(), after, err)
	}
	return true, nil
}

// ChangedAfter tells which aggregates of one type of an organization have events in
// the log after stream sequence after, and each one's last such sequence: what
// RecordedAfter tells of one aggregate, for many at once (a request per aggregate
// with an event after, plus one, instead of a request per aggregate asked about).
// complete is false, and nothing is said, when more than max aggregates' events
// follow after, or on a cluster, where a follower could answer from behind the log
// (load_leader.go): the caller then asks RecordedAfter of each aggregate.
func (s *Store) ChangedAfter(ctx context.Context, orgID, aggType string, after uint64, max int) (last map[string]uint64, complete bool, err error) {
	if s.reps > 1 {
		return nil, false, nil
	}
	filter := Subject(orgID, aggType, ">")
	prefix := strings.TrimSuffix(filter, ">")
	last = map[string]uint64{}
	for from := after + 1; ; {
		m, err := s.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(filter))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return last, true, nil
		case err != nil:
			return nil, false, fmt.Errorf("look for events of %s after %d: %w", filter, after, err)
		}
		id, ok := strings.CutPrefix(m.Subject, prefix)
		if !ok || strings.Contains(id, ".") {
			return nil, false, fmt.Errorf("look for events of %s after %d: a message on %q", filter, after, m.Subject)
		}
		if _, seen := last[id]; !seen && len(last) == max {
			return nil, false, nil
		}
		last[id] = m.Sequence
		from = m.Sequence + 1
	}
}

// EventsLoaded counts the messages that loads (Load, LoadUntil, LoadAfter, and the
// scans of a scope) have read and opened since the store was opened: what a test of a command's cost
// counts, rather than timing it.
func (s *Store) EventsLoaded() uint64 { return s.loaded.Load() }

func (s *Store) loadRange(ctx context.Context, agg Aggregate, from, until uint64) (Loaded, error) {
	var out Loaded
	q := batchQuery{subject: agg.Subject(), from: from, until: until}
	for {
		r, err := s.loadFrom(ctx, q, &out)
		if err != nil {
			return Loaded{}, err
		}
		if r.read < loadBatch {
			if err := s.confirmAtLeader(ctx, q.subject, from, until, &out); err != nil {
				return Loaded{}, err
			}
			return out, nil
		}
		q.from = r.last + 1
	}
}

// batchQuery is what a load asks the log for: the messages of subject (a wildcard
// for a scope) from sequence from, up to and including until (0: no limit). An
// unfiltered query reads every message of the stream in the range and opens only
// those of subject (see ScanScope for why).
type batchQuery struct {
	subject     string
	from, until uint64
	unfiltered  bool
	// open says which aggregate types' events are opened (nil: every one); see
	// ScanOptions.Open.
	open func(aggregateType string) bool
}

// opens tells whether the events of an aggregate of type aggType are opened.
func (q batchQuery) opens(aggType string) bool { return q.open == nil || q.open(aggType) }

// decodeFor reads a message of q stored at seq into its records, opening its events
// when q opens its aggregate's type.
func (s *Store) decodeFor(ctx context.Context, q batchQuery, seq uint64, data []byte) ([]domain.Recorded, error) {
	var env envelope
	if err := unmarshalEnvelope(data, &env); err != nil {
		return nil, fmt.Errorf("event %d: envelope: %w", seq, err)
	}
	return s.recordsFor(ctx, q, seq, &env)
}

// recordsFor lists the records of an envelope of q stored at seq (see records),
// opened when q opens its aggregate's type; only those count as loaded.
func (s *Store) recordsFor(ctx context.Context, q batchQuery, seq uint64, env *envelope) ([]domain.Recorded, error) {
	sealed := q.opens(env.AggType)
	recs, err := s.records(ctx, seq, env, sealed)
	if err == nil && sealed {
		s.loaded.Add(1)
	}
	return recs, err
}

// wants tells whether a message on subject is one of q's: every message a filtered
// read returns is; of an unfiltered one, those under the scope's wildcard (prefix.>).
func (q batchQuery) wants(subject string) bool {
	return !q.unfiltered || strings.HasPrefix(subject, strings.TrimSuffix(q.subject, ">"))
}

// scope is the organization (or the platform scope) whose messages q reads.
func (q batchQuery) scope() string {
	return strings.TrimSuffix(strings.TrimPrefix(q.subject, SubjectPrefix+"."), ".>")
}

// serverFilter is the subject a direct-get request names: none when unfiltered.
func (q batchQuery) serverFilter() string {
	if q.unfiltered {
		return ""
	}
	return q.subject
}

// loaded is how far one loadFrom got.
type loaded struct {
	read int    // messages read, opened or passed over (unfiltered)
	kept int    // messages opened into the Loaded
	last uint64 // the sequence of the last message read; 0 when none was
}

// loadFrom reads up to loadBatch messages of q into out. Fewer than loadBatch means
// the log has nothing more for q (or the read passed until); a read that NATS cut
// short is retried, and if the log still does not answer completely it is an error
// wrapping ErrUnavailable, never a short history (STYLE 15).
func (s *Store) loadFrom(ctx context.Context, q batchQuery, out *Loaded) (loaded, error) {
	var got loaded
	short := 0
	from := q.from
	for got.read < loadBatch {
		r, err := s.readBatch(ctx, q, from, loadBatch-got.read, out)
		switch {
		case errors.Is(err, jetstreamext.ErrBatchUnsupported) && got.read == 0 && r.read == 0:
			n, err := s.loadOneByOne(ctx, q.subject, from, q.until, out)
			return loaded{read: n, kept: n, last: out.LastSeq}, err
		case errors.Is(err, errShortRead):
			short++
			if short >= loadAttempts || ctx.Err() != nil {
				return loaded{}, fmt.Errorf("load %s from sequence %d: %w (%d tries: %w)", q.subject, from, ErrUnavailable, short, err)
			}
		case err != nil:
			return loaded{}, fmt.Errorf("load %s: %w", q.subject, err)
		}
		got.read += r.read
		got.kept += r.kept
		if r.read > 0 {
			got.last = r.last
		}
		if r.pastUntil {
			// Nothing more is wanted: report a short read, so that no caller asks again.
			return loaded{read: 0, kept: got.kept, last: got.last}, nil
		}
		if r.complete {
			return got, nil
		}
		if r.read > 0 {
			from, short = r.last+1, 0
		}
	}
	return got, nil
}

// loadAttempts is how many times a batch that NATS cut short (no answer in time, a
// gap) is asked for before the load fails: a stream leader election takes seconds,
// longer than a request should wait for it.
const loadAttempts = 3

// errShortRead means a direct-get batch ended before its end marker: the client's
// timeout passed, or a message of the batch was lost.
var errShortRead = errors.New("the batch ended before the log said it was complete")

// Headers the server adds to each message of a direct-get batch.
const (
	headerNumPending = "Nats-Num-Pending"   // messages of the subject after this one
	headerLastSeq    = "Nats-Last-Sequence" // the previous message of the batch; 0 on the first
)

// batchRead is what one direct-get request gave.
type batchRead struct {
	read      int    // messages read (opened into the Loaded, or passed over)
	kept      int    // messages opened into the Loaded
	last      uint64 // the sequence of the last message read
	complete  bool   // the subject has nothing after the last message read
	pastUntil bool   // a message after until was reached: the load is complete
}

// getBatch asks for up to want messages of q from sequence from, and tells from the
// server's own headers whether what arrived is everything. Each message carries
// Nats-Num-Pending (how many messages of the filter follow it) and Nats-Last-Sequence
// (the sequence of the one before it in the batch). The iterator of jetstreamext ends
// without an error when the request times out, so a batch is complete only when the
// last message says nothing follows, or the server answered "no messages"; a gap in
// the chain or a batch that stopped with messages pending but no answer is a short read.
func (s *Store) getBatch(ctx context.Context, q batchQuery, from uint64, want int, out *Loaded) (batchRead, error) {
	// RequestMany waits for ctx's deadline when it has one: bound each request by the
	// connection's request timeout, so that an unanswered one is retried in time.
	rctx, cancel := context.WithTimeout(ctx, s.nc.Opts.Timeout)
	defer cancel()
	opts := []jetstreamext.GetBatchOpt{jetstreamext.GetBatchSeq(from)}
	if f := q.serverFilter(); f != "" {
		opts = append(opts, jetstreamext.GetBatchSubject(f))
	}
	msgs, err := jetstreamext.GetBatch(rctx, s.js, StreamName, want, opts...)
	if err != nil {
		return batchRead{}, err
	}
	var r batchRead
	pending := uint64(1) // nothing has said the subject is exhausted yet
	for raw, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			r.complete = r.read == 0
			break
		}
		if errors.Is(err, jetstreamext.ErrBatchUnsupported) && r.read > 0 {
			// A status reply (503: no responders) after messages: not the server's version.
			return r, fmt.Errorf("%w: %w", errShortRead, err)
		}
		if err != nil {
			return r, err
		}
		if last, ok := headerUint(raw.Header, headerLastSeq); !ok || (r.read > 0 && last != r.last) {
			return r, fmt.Errorf("%w: message %d follows %d, the server says %d", errShortRead, raw.Sequence, r.last, last)
		}
		if q.until > 0 && raw.Sequence > q.until {
			r.pastUntil = true
			return r, nil
		}
		if q.wants(raw.Subject) {
			recs, err := s.decodeFor(ctx, q, raw.Sequence, raw.Data)
			if err != nil {
				return r, err
			}
			out.Events = append(out.Events, recs...)
			out.LastSeq = raw.Sequence
			r.kept++
		}
		r.last = raw.Sequence
		r.read++
		if pending, _ = headerUint(raw.Header, headerNumPending); pending == 0 {
			r.complete = true
		}
	}
	if r.complete || pending > 0 && r.read > 0 {
		// Complete, or cut short with the rest still pending (the batch limit, the
		// server's byte limit or a timeout): the caller asks again from r.last+1.
		return r, nil
	}
	return r, fmt.Errorf("%w: no answer in %s", errShortRead, s.nc.Opts.Timeout)
}

// headerUint reads a numeric header the server added. The server appends its headers
// after the message's own, so the last value is the server's.
func headerUint(h nats.Header, key string) (uint64, bool) {
	vs := h.Values(key)
	if len(vs) == 0 {
		return 0, false
	}
	v, err := strconv.ParseUint(vs[len(vs)-1], 10, 64)
	return v, err == nil
}

// ScanScope calls fn with every event of one organization (or the platform scope), in
// stream order, up to and including sequence until (0 means all). Events are read in
// batches and not kept, so memory does not grow with the log. It is for replays: time
// travel, audit verification, offline state dumps. An error from fn stops the scan.
//
// Where the scope's messages are dense in the log, it reads the stream unfiltered and
// passes over the others by their subject, unopened. A direct get filtered by the
// scope's wildcard makes the server match the wildcard against the subjects of a
// message block for every message it returns: half the CPU of replaying a
// one-organization log, and more than reading a message it is not asked for costs.
// Where the scope is sparse (one organization of many, the platform scope's users),
// the filtered read skips the rest at the server. Each batch says which way the next
// one goes: both give the same events in the same order.
func (s *Store) ScanScope(ctx context.Context, scope string, until uint64, fn func(domain.Recorded) error) error {
	return s.ScanScopeWith(ctx, scope, ScanOptions{Until: until}, fn)
}

// ScanOptions narrow what a scan (ScanScopeWith) reads and opens.
type ScanOptions struct {
	// Until is the last stream sequence the scan reads (0: the log's head).
	Until uint64
	// Open says which aggregate types' events the scan opens (nil: every one). The
	// others' are still passed to fn, in their place, with what their envelope says in
	// clear (sequence, ids, aggregate, time, actor) and a nil Event: their payloads are
	// neither decrypted nor decoded. A replay that needs the secrets of an
	// organization, not its reveals (most of a real log), opens a fraction of it.
	Open func(aggregateType string) bool
}

// ScanScopeWith is ScanScope with options: a limit, and which aggregates' events are
// opened.
func (s *Store) ScanScopeWith(ctx context.Context, scope string, o ScanOptions, fn func(domain.Recorded) error) error {
	prefix := SubjectPrefix + "." + scope + "."
	q := batchQuery{subject: prefix + ">", from: 1, until: o.Until, open: o.Open}
	for {
		var batch Loaded
		r, err := s.loadFrom(ctx, q, &batch)
		if err != nil {
			return err
		}
		for _, rec := range batch.Events {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if r.read < loadBatch || r.last == 0 {
			return nil
		}
		q.unfiltered = readUnfiltered(q.unfiltered, r.kept, r.last-q.from+1)
		q.from = r.last + 1
	}
}

// readUnfiltered decides how a scan reads its next batch, from the share of the
// messages of the range just read that were the scope's (kept of span). It reads
// unfiltered from an eighth on and goes back to filtered reads below a 32nd: between
// the two, it keeps its way, so that a scope of about one in ten does not flip at
// every batch.
func readUnfiltered(unfiltered bool, kept int, span uint64) bool {
	if span == 0 {
		return unfiltered
	}
	if unfiltered {
		return uint64(kept)*32 >= span
	}
	return uint64(kept)*8 >= span
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
		if IsUnavailable(err) {
			return 0, fmt.Errorf("load %s at sequence %d: %w: %w", subject, seq, ErrUnavailable, err)
		}
		if err != nil {
			return 0, fmt.Errorf("load %s: %w", subject, err)
		}
		if until > 0 && raw.Sequence > until {
			return 0, nil
		}
		if err := s.take(ctx, raw.Sequence, raw.Data, out); err != nil {
			return 0, err
		}
		seq = raw.Sequence + 1
	}
	return n, nil
}
