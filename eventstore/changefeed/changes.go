package changefeed

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// ChangesStream holds change notices (the name is part of the wire contract).
const ChangesStream = wire.ChangesStream

// ChangesSubjectPrefix starts every change notice's subject.
const ChangesSubjectPrefix = wire.ChangesSubjectPrefix

// headerEventSeq carries the event-log sequence a notice stems from.
const headerEventSeq = "Kl-Seq"

// DefaultChangesMaxAge is how long the change stream keeps a notice when nobody says
// otherwise: a week lets a downstream service that was down over a long weekend
// resume without a gap, and outlasts the 24 hours webhook deliveries are retried for.
const DefaultChangesMaxAge = 7 * 24 * time.Hour

// changesDuplicateWindow is how long the change stream remembers a notice's message
// id. The publisher keeps the feed in order by expecting the stream's last sequence
// and reads the stream's tail after any failure (PublishStored), so the id only has
// to catch a notice handed in again right after it was stored; nobody promises
// anything longer. The server holds every id of the window in memory (about 100
// bytes each): the event log's 15 minutes (eventstore.DuplicateWindow, which the
// Idempotency-Key promise needs) held 20-30 MB of ids after 100,000 creates, and two
// minutes still 30-40 MB in a heap profile of the benchmark at 100,000 secrets (a
// quarter of the live heap), and ten seconds still some 150,000 ids and 65,000 entries
// of the server's index of them at 100,000 (a sixth of the objects the collector walks
// each time). The outbox never hands in a notice at or before the stream's last one (it
// skips them by position), so the ids are a second guard for a resend within moments.
const changesDuplicateWindow = 2 * time.Second

// The notices are httpapi/wire's: Publish takes a wire.ChangeNotice with the secret's
// name in clear and stores it as a wire.SealedChangeNotice, whose Name is empty and
// whose NameSealed holds the name sealed with the organization's data key, never in
// clear (a subscriber on NATS gets ids only); Follow (the API's reader, which holds the
// keyring) opens the name again into wire.ChangeNotice.Name. Name is empty when it
// could not be opened (the organization's keys were shredded).

// nameAAD binds a sealed name to the notice it belongs to, so that it cannot be
// copied into a notice of another organization, secret or event.
func nameAAD(n wire.ChangeNotice) []byte {
	return []byte("keyledger/change-name/" + n.OrgID + "/" + n.SecretID + "/" + strconv.FormatUint(n.Seq, 10))
}

// Subject is a notice's subject; changes that touch no value (a description) go on
// the "meta" environment token.
func Subject(n wire.ChangeNotice) string {
	env := n.Env
	if env == "" {
		env = "meta"
	}
	return ChangesSubjectPrefix + "." + n.OrgID + "." + env
}

// Changes publishes and reads change notices.
type Changes struct {
	// single turns atomic batches off: the server refused them as such.
	single atomic.Bool
	// chain publishes stored notices where the store shares its syncs, as chained runs
	// instead of atomic batches or one by one (PublishStored); nil elsewhere.
	chain  *eventstore.Chained
	js     jetstream.JetStream
	stream jetstream.Stream
	keys   *eventstore.Keyring
}

// ChangesOption adjusts how Changes opens the change stream.
type ChangesOption func(*changesOptions)

type changesOptions struct {
	maxAge time.Duration
}

// WithChangesMaxAge sets how long the change stream keeps a notice; an existing
// stream with another limit is updated to it. It is for the one place that owns the
// setting (keyledger serve); other openers keep what the stream has.
func WithChangesMaxAge(d time.Duration) ChangesOption {
	return func(o *changesOptions) { o.maxAge = d }
}

// Open opens (or creates) the change-notice stream beside s's log. Without
// WithChangesMaxAge an existing stream keeps its retention limit, so that a second
// opener (a tool, a test) does not undo what serve configured; a new stream, or an old
// one that kept notices forever, gets DefaultChangesMaxAge.
func Open(ctx context.Context, s *eventstore.Store, opts ...ChangesOption) (*Changes, error) {
	var o changesOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxAge < 0 {
		return nil, fmt.Errorf("change stream max age %s: must be positive", o.maxAge)
	}
	maxAge := o.maxAge
	if maxAge == 0 {
		current, err := changesMaxAge(ctx, s.JetStream())
		if err != nil {
			return nil, err
		}
		maxAge = cmp.Or(current, DefaultChangesMaxAge)
	}
	st, err := eventstore.CreateStream(ctx, s.JetStream(), jetstream.StreamConfig{
		Name:        ChangesStream,
		Description: "Keyledger change notices (no values, names sealed), after projection",
		Subjects:    []string{ChangesSubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      maxAge,
		// Never reached: set for blocks of 4 MB instead of 8, as on the log
		// (eventstore.Open).
		MaxMsgsPerSubject: math.MaxInt64,
		// JetStream refuses a duplicate window longer than the max age.
		Duplicates:  min(changesDuplicateWindow, maxAge),
		Replicas:    s.Replicas(),
		AllowDirect: true,
		// PublishBatch stores many notices as one atomic batch. (The projector no
		// longer uses it: its outbox publishes with PublishStored.)
		AllowAtomicPublish: true,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", ChangesStream, err)
	}
	c := &Changes{js: s.JetStream(), stream: st, keys: s.Keyring()}
	if s.SharesSyncs() {
		c.chain = eventstore.NewChained(c.js, st)
	}
	return c, nil
}

// changesMaxAge is the existing change stream's max age, 0 when there is no stream
// (or it keeps notices forever). It retries like the setup step it belongs to.
func changesMaxAge(ctx context.Context, js jetstream.JetStream) (time.Duration, error) {
	return eventstore.RetrySetup(ctx, js.Conn(), func(ctx context.Context) (time.Duration, error) {
		st, err := js.Stream(ctx, ChangesStream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", ChangesStream, err)
		}
		return st.CachedInfo().Config.MaxAge, nil
	})
}

// Publish stores a notice once: a re-publish of the same event's notice (after a
// projector restart) is de-duplicated by its message id. The name is sealed before it
// is stored; the stored notice carries no name in clear.
func (c *Changes) Publish(ctx context.Context, n wire.ChangeNotice) error {
	msg, err := c.message(ctx, n)
	if err != nil {
		return err
	}
	if _, err := c.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish change %s: %w", msg.Header.Get(jetstream.MsgIDHeader), err)
	}
	return nil
}

// minChangeBatch is how many notices make an atomic batch worth it where the servers
// sync every message they store on their own (a cluster; with the embedded server's
// group sync, stored notices go as one chained run and share one sync: PublishStored). A server
// stages an atomic batch of a single-replica file stream in a temporary store of its
// own (several file syncs): measured on a loaded 2-core machine under SyncAlways, one
// batch cost about as much as 15-25 single publishes.
const minChangeBatch = 24

// PublishBatch stores notices like Publish, in order. Many go as JetStream atomic
// batches (one sync for all instead of one each); when the server refuses a batch (a
// notice re-published after a restart is a duplicate, which fails the whole batch),
// its notices are published one by one, so that each is stored exactly once.
func (c *Changes) PublishBatch(ctx context.Context, notices []wire.ChangeNotice) error {
	stored, err := c.SealRun(ctx, notices)
	if err != nil {
		return err
	}
	msgs := make([]*nats.Msg, len(stored))
	for i, s := range stored {
		msgs[i] = storedMessage(s)
	}
	for len(msgs) > 0 {
		part := msgs[:min(len(msgs), maxChangeBatch)]
		msgs = msgs[len(part):]
		if len(part) >= minChangeBatch && !c.single.Load() {
			ack, err := eventstore.PublishMsgBatch(ctx, c.js, part, jetstreamext.BatchFlowControl{AckFirst: false})
			if err == nil && ack.BatchSize == uint64(len(part)) {
				continue
			}
			if atomicPublishRefused(err) {
				c.single.Store(true)
			}
			for _, m := range part {
				for _, h := range []string{jetstreamext.BatchIDHeader, jetstreamext.BatchSeqHeader, jetstreamext.BatchCommitHeader} {
					m.Header.Del(h)
				}
				m.Reply = ""
			}
		}
		for _, m := range part {
			if _, err := c.js.PublishMsg(ctx, m); err != nil {
				return fmt.Errorf("publish change %s: %w", m.Header.Get(jetstream.MsgIDHeader), err)
			}
		}
	}
	return nil
}

// maxChangeBatch stays under the server's limit of 1,000 messages per atomic batch.
const maxChangeBatch = 500

// atomicPublishRefused says that the server takes no atomic batches on the stream at
// all (disabled, or a server older than 2.12, which answers with no responders or an
// unknown-header error): then notices go one by one from now on.
func atomicPublishRefused(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jsErrAtomicPublishDisabled || apiErr.ErrorCode == jsErrAtomicPublishUnsupportedHeader
	}
	return false
}

// JetStream API error codes of atomic publish (nats-server 2.12+).
const (
	jsErrAtomicPublishDisabled          = 10174
	jsErrAtomicPublishUnsupportedHeader = 10177
)

// message is a notice as stored: its name sealed, its message id derived from the
// event's sequence and environment.
func (c *Changes) message(ctx context.Context, n wire.ChangeNotice) (*nats.Msg, error) {
	s, err := c.Seal(ctx, n)
	if err != nil {
		return nil, err
	}
	return storedMessage(s), nil
}

// sealName seals the notice's name with its organization's existing data key. An
// organization without one (crypto-shredded while its last events were projected)
// gets no name rather than a fresh key: a new key would bring a name back to life
// after the erasure, and one erased org must not stop the projector for everyone.
func (c *Changes) sealName(ctx context.Context, n wire.ChangeNotice) (string, error) {
	if n.Name == "" {
		return "", nil
	}
	if ok, err := c.keys.HasKey(ctx, n.OrgID); err != nil {
		return "", fmt.Errorf("seal change name: %w", err)
	} else if !ok {
		return "", nil
	}
	sealed, err := c.keys.Seal(ctx, n.OrgID, []byte(n.Name), nameAAD(n))
	if err != nil {
		return "", fmt.Errorf("seal change name: %w", err)
	}
	return sealed, nil
}

// openName returns the stored notice with its name opened and the sealed form dropped.
// A name that does not open (its organization's keys were shredded) is left empty: the
// notice's ids still tell what changed.
func (c *Changes) openName(ctx context.Context, stored wire.SealedChangeNotice) wire.ChangeNotice {
	n := stored.ChangeNotice
	n.Name = ""
	if stored.NameSealed == "" {
		return n
	}
	if name, err := c.keys.Open(ctx, n.OrgID, stored.NameSealed, nameAAD(n)); err == nil {
		n.Name = string(name)
	}
	return n
}

// startAfter finds the first stream sequence of the change stream whose notice stems
// from an event after eventSeq. Notices are published in event order, so a binary
// search over the stream finds it in O(log n) reads.
func (c *Changes) startAfter(ctx context.Context, eventSeq uint64) (uint64, error) {
	info, err := c.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("changes info: %w", err)
	}
	if info.State.Msgs == 0 {
		return info.State.LastSeq + 1, nil
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := eventstore.GetMsg(ctx, c.js, c.stream, eventstore.MsgRequest{Seq: mid})
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			// Expired since Info: retention removes the oldest notices only, so
			// everything up to here is older than what is asked for.
			lo = mid + 1
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("changes get %d: %w", mid, err)
		}
		s, _ := strconv.ParseUint(m.Header.Get(headerEventSeq), 10, 64)
		if s <= eventSeq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// Follow delivers an organization's notices for events after afterEventSeq (0: all),
// in order, then new ones as they come, until ctx ends, with their names opened. A
// position older than the stream keeps (its max age) starts at the oldest notice kept.
func (c *Changes) Follow(ctx context.Context, orgID string, afterEventSeq uint64) (<-chan wire.ChangeNotice, error) {
	start, err := c.startAfter(ctx, afterEventSeq)
	if err != nil {
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ChangesSubjectPrefix + "." + orgID + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    max(start, 1),
	}
	out, err := eventstore.FollowOrdered(ctx, c.js, ChangesStream, cfg, 64, func(msg jetstream.Msg) (wire.ChangeNotice, bool) {
		var n wire.SealedChangeNotice
		if json.Unmarshal(msg.Data(), &n) != nil || n.Seq <= afterEventSeq {
			return wire.ChangeNotice{}, false
		}
		return c.openName(ctx, n), true
	})
	if err != nil {
		return nil, fmt.Errorf("follow changes: %w", err)
	}
	return out, nil
}
