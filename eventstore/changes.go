package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ChangesStream holds change notices, published after projection on
// keyledger.changes.<org_id>.<env>, so that downstream services can resume from their
// last sequence after downtime and miss nothing.
const ChangesStream = "KEYLEDGER_CHANGES"

// ChangesSubjectPrefix starts every change notice's subject.
const ChangesSubjectPrefix = "keyledger.changes"

// headerEventSeq carries the event-log sequence a notice stems from.
const headerEventSeq = "Kl-Seq"

// ChangeNotice tells that a secret changed. It never holds a value or a mask.
type ChangeNotice struct {
	Type       string    `json:"type"`
	OrgID      string    `json:"org_id"`
	SecretID   string    `json:"secret_id"`
	Name       string    `json:"name"`
	Env        string    `json:"env"`
	OldVersion int       `json:"old_version"`
	NewVersion int       `json:"new_version"`
	ActorID    string    `json:"actor_id"`
	At         time.Time `json:"at"`
	Seq        uint64    `json:"seq"`
	// Part and Parts number the notices one event produced (one per environment it
	// touched), so that a consumer resuming by event sequence knows when it has them all.
	Part  int `json:"part"`
	Parts int `json:"parts"`
}

// Subject is the notice's subject; changes that touch no value (a description) go on
// the "meta" environment token.
func (n ChangeNotice) Subject() string {
	env := n.Env
	if env == "" {
		env = "meta"
	}
	return ChangesSubjectPrefix + "." + n.OrgID + "." + env
}

// Changes publishes and reads change notices.
type Changes struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// Changes opens (or creates) the change-notice stream.
func (s *Store) Changes(ctx context.Context) (*Changes, error) {
	st, err := createStream(ctx, s.js, jetstream.StreamConfig{
		Name:        ChangesStream,
		Description: "Keyledger change notices (no values), after projection",
		Subjects:    []string{ChangesSubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  DuplicateWindow,
		Replicas:    s.reps,
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", ChangesStream, err)
	}
	return &Changes{js: s.js, stream: st}, nil
}

// Publish stores a notice once: a re-publish of the same event's notice (after a
// projector restart) is de-duplicated by its message id.
func (c *Changes) Publish(ctx context.Context, n ChangeNotice) error {
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode change: %w", err)
	}
	msg := &nats.Msg{Subject: n.Subject(), Data: data, Header: nats.Header{}}
	msg.Header.Set(headerEventSeq, strconv.FormatUint(n.Seq, 10))
	id := strconv.FormatUint(n.Seq, 10) + "." + n.Env
	if _, err := c.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(ChangesStream)); err != nil {
		return fmt.Errorf("publish change %s: %w", id, err)
	}
	return nil
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
		m, err := c.stream.GetMsg(ctx, mid)
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
// in order, then new ones as they come, until ctx ends.
func (c *Changes) Follow(ctx context.Context, orgID string, afterEventSeq uint64) (<-chan ChangeNotice, error) {
	start, err := c.startAfter(ctx, afterEventSeq)
	if err != nil {
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{ChangesSubjectPrefix + "." + orgID + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    max(start, 1),
	}
	out, err := followOrdered(ctx, c.js, ChangesStream, cfg, 64, func(msg jetstream.Msg) (ChangeNotice, bool) {
		var n ChangeNotice
		if json.Unmarshal(msg.Data(), &n) != nil || n.Seq <= afterEventSeq {
			return n, false
		}
		return n, true
	})
	if err != nil {
		return nil, fmt.Errorf("follow changes: %w", err)
	}
	return out, nil
}
