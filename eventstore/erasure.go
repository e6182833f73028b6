package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/storeerr"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Crypto-shredding an organization leaves its events in the log (the stream denies
// deletes) and destroys the data keys they are sealed with. What remains readable is
// the erasure record: one platform-scope message per erased organization, on
// kl.events._platform.erasure.<org>, sealed with the platform's key. It says who
// erased the organization, when, from where, and at which sequence; everything that
// meets an unreadable event of that organization asks it whether the organization was
// erased (and then passes the event over) or whether something is wrong (and then
// fails loudly).

// ErrErased means the event belongs to an organization that was erased: its keys are
// destroyed and it can never be opened again.
var ErrErased = storeerr.ErrErased

// ErasedError is an event, or a load, of an erased organization. It is ErrErased and
// also what opening the event failed with (ErrNoKey or ErrDecrypt), when it was tried.
type ErasedError struct {
	OrgID string
	// Seq is the stream sequence of the erasure record.
	Seq uint64
	Err error
}

func (e *ErasedError) Error() string {
	return fmt.Sprintf("organization %s was erased at sequence %d", e.OrgID, e.Seq)
}

// Unwrap makes errors.Is find ErrErased and the cause.
func (e *ErasedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrErased}
	}
	return []error{ErrErased, e.Err}
}

// Erasure is an organization's erasure record as the log holds it.
type Erasure struct {
	OrgID string
	// Seq is the record's stream sequence: every event of the organization before it
	// was written while it existed.
	Seq     uint64
	EventID string
	Time    time.Time
	Actor   domain.Actor
}

// ErasureAggregate is where an organization's erasure is recorded: a platform-scope
// aggregate, so that it is sealed with the platform's key.
func ErasureAggregate(orgID string) Aggregate {
	return Aggregate{OrgID: domain.PlatformScope, Type: domain.AggregateErasure, ID: orgID}
}

// erasedOrgs remembers the organizations this process knows to be erased, with the
// sequence of their erasure record. An erasure is forever, so an entry never goes
// stale; a missing entry only costs a look-up in the log.
type erasedOrgs struct {
	m sync.Map // org id → uint64
}

func (e *erasedOrgs) get(orgID string) (uint64, bool) {
	v, ok := e.m.Load(orgID)
	if !ok {
		return 0, false
	}
	return v.(uint64), true
}

func (e *erasedOrgs) put(orgID string, seq uint64) { e.m.LoadOrStore(orgID, seq) }

// ErasureOf returns the organization's erasure record, and false when it was not erased.
func (s *Store) ErasureOf(ctx context.Context, orgID string) (Erasure, bool, error) {
	if orgID == "" || orgID == domain.PlatformScope {
		return Erasure{}, false, nil
	}
	raw, err := s.getMsg(ctx, MsgRequest{LastFor: ErasureAggregate(orgID).Subject()})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Erasure{}, false, nil
	}
	if err != nil {
		return Erasure{}, false, fmt.Errorf("erasure record of %s: %w", orgID, err)
	}
	return s.erasureFrom(ctx, raw.Sequence, raw.Data)
}

func (s *Store) erasureFrom(ctx context.Context, seq uint64, data []byte) (Erasure, bool, error) {
	recs, err := s.decode(ctx, seq, data)
	if err != nil {
		return Erasure{}, false, err
	}
	for _, r := range recs {
		if e, ok := r.Event.(domain.OrganizationErased); ok {
			er := Erasure{OrgID: e.OrgID, Seq: r.Seq, EventID: r.EventID, Time: r.Time, Actor: r.Actor}
			s.erased.put(er.OrgID, er.Seq)
			return er, true, nil
		}
	}
	return Erasure{}, false, fmt.Errorf("event %d: not an erasure record", seq)
}

// Erasures lists every erasure record in the log, newest first.
func (s *Store) Erasures(ctx context.Context) ([]Erasure, error) {
	prefix := SubjectPrefix + "." + domain.PlatformScope + "." + domain.AggregateErasure + "."
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(prefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("list erasures: %w", err)
	}
	out := make([]Erasure, 0, len(info.State.Subjects))
	for subject := range info.State.Subjects {
		er, ok, err := s.ErasureOf(ctx, strings.TrimPrefix(subject, prefix))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, er)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq > out[j].Seq })
	return out, nil
}

// ShredOrganization destroys every data key of an erased organization. It is
// idempotent: the erasure's handler calls it right after recording the erasure, and
// the projector again when it applies the record, which finishes an erasure that a
// crash interrupted. From then on this process opens nothing of the organization, even
// a key that a command racing the erasure might have created.
func (s *Store) ShredOrganization(ctx context.Context, er Erasure) error {
	if er.OrgID == "" || er.OrgID == domain.PlatformScope {
		return errors.New("eventstore: shred needs an organization")
	}
	s.erased.put(er.OrgID, er.Seq)
	if err := s.keys.Shred(ctx, er.OrgID); err != nil {
		return fmt.Errorf("shred organization %s: %w", er.OrgID, err)
	}
	return s.purgeChangeNotices(ctx, er.OrgID)
}

// purgeChangeNotices drops the organization's change notices, so that no subscriber,
// new or resuming, receives anything of it any more (their names were sealed with the
// keys just destroyed; their ids and times are the organization's too).
func (s *Store) purgeChangeNotices(ctx context.Context, orgID string) error {
	st, err := s.js.Stream(ctx, wire.ChangesStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("change notices of %s: %w", orgID, err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(wire.ChangesSubjectPrefix+"."+orgID+".>")); err != nil {
		return fmt.Errorf("purge the change notices of %s: %w", orgID, err)
	}
	return nil
}

// erasedEvent says why an event of org did not open: ErasedError when the organization
// was erased, else the error itself. Only a failure costs a look-up.
func (s *Store) erasedEvent(ctx context.Context, org string, openErr error) error {
	if !errors.Is(openErr, ErrNoKey) && !errors.Is(openErr, ErrDecrypt) {
		return openErr
	}
	if seq, ok := s.erased.get(org); ok {
		return &ErasedError{OrgID: org, Seq: seq, Err: openErr}
	}
	er, ok, err := s.ErasureOf(ctx, org)
	if err != nil || !ok {
		return errors.Join(openErr, err)
	}
	return &ErasedError{OrgID: org, Seq: er.Seq, Err: openErr}
}

// notErased answers an ErasedError for an organization that was erased. While the
// organization's keys are in the keyring's memory it costs two map look-ups; a shred,
// on this replica or (through the keyring's watch) on another, drops them, and then
// the erasure record in the log says why.
func (s *Store) notErased(ctx context.Context, orgID string) error {
	if orgID == "" || orgID == domain.PlatformScope {
		return nil
	}
	if seq, ok := s.erased.get(orgID); ok {
		return &ErasedError{OrgID: orgID, Seq: seq, Err: ErrNoKey}
	}
	has, err := s.keys.HasKey(ctx, orgID)
	if err != nil || has {
		return err
	}
	er, ok, err := s.ErasureOf(ctx, orgID)
	if err != nil || !ok {
		return err
	}
	return &ErasedError{OrgID: orgID, Seq: er.Seq, Err: ErrNoKey}
}
