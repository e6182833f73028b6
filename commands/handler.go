package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// eventLog is what handlers need of the event store.
type eventLog interface {
	Load(ctx context.Context, agg eventstore.Aggregate) (eventstore.Loaded, error)
	Append(ctx context.Context, p eventstore.Pending) (eventstore.Appended, error)
}

// valueKeys seals and opens secret values: the domain's port, which the keyring
// implements. Handlers hand it to the decisions; only a reveal or a fetch opens a
// value themselves, after the decision allowed it.
type valueKeys = domain.ValueSealer

// Meta is who runs a command and how: the acting user, whether it is a platform
// super-admin, where the request came from, and the client's idempotency key.
type Meta struct {
	UserID         string
	Superadmin     bool
	Actor          domain.Actor
	IdempotencyKey string
	// RequestHash identifies the request the key came with (method, path, body): the
	// same key with another request is refused instead of replayed.
	RequestHash string
}

// Result is what a command produced: the stream sequence of its events (0 when it
// changed nothing) and the id of the aggregate it created or changed. Replayed says
// that the events were recorded by an earlier request with the same Idempotency-Key
// and this one changed nothing.
type Result struct {
	Seq      uint64
	ID       string
	Replayed bool
}

// IdempotencyWindow is how long a retried Idempotency-Key is answered from the log
// with its first result (the API promises at least ten minutes).
const IdempotencyWindow = 24 * time.Hour

// IdempotencyKeyHash identifies one user's Idempotency-Key in the log, without the
// key itself.
func IdempotencyKeyHash(userID, key string) string {
	sum := sha256.Sum256([]byte(eventstore.MessageID("idempotency", userID, key)))
	return hex.EncodeToString(sum[:])
}

// mark is what the command's events record of its request.
func (m Meta) mark() domain.IdempotencyMark {
	if m.IdempotencyKey == "" {
		return domain.IdempotencyMark{}
	}
	return domain.IdempotencyMark{Key: IdempotencyKeyHash(m.UserID, m.IdempotencyKey), Request: m.RequestHash}
}

// replayed looks for events this request's Idempotency-Key already recorded in an
// aggregate's history (newest first, within IdempotencyWindow) and returns their
// sequence. The key recorded with another request is idempotency_key_reused.
func (m Meta) replayed(events []domain.Recorded) (uint64, bool, error) {
	mark := m.mark()
	if mark.IsZero() {
		return 0, false, nil
	}
	for i := len(events) - 1; i >= 0; i-- {
		r := events[i]
		if time.Since(r.Time) > IdempotencyWindow {
			break
		}
		if r.Idempotency.Key != mark.Key {
			continue
		}
		if r.Idempotency.Request != mark.Request {
			return 0, false, errKeyReused()
		}
		return r.Seq, true, nil
	}
	return 0, false, nil
}

func errKeyReused() error {
	return domain.Errorf(domain.CodeIdempotencyKeyReused, "This Idempotency-Key was already used with another request; send a new key.")
}

// Writers in one process take turns on a secret (cachedLog), so a lost race means
// another replica (or another kind of command) wrote in between. The loop then reloads
// and decides again: at least minAttempts times, and after that for as long as the
// conflicts have lasted less than conflictBudget, so that a write without
// expected_version is not refused while a few replicas contend for one secret (each
// attempt loses to at most one write per other replica), yet never loops forever.
const (
	minAttempts    = 8
	conflictBudget = 5 * time.Second
)

// idNamespace derives deterministic ids (users from emails, secrets from idempotency keys).
var idNamespace = uuid.MustParse("6f1c1c52-8f0e-4a47-9d4e-5b0e8f3a7c11")

func derivedID(parts ...string) string { return derivedUUID(parts...).String() }

// derivedUUID is a version 5 UUID of the parts' MessageID. It makes one buffer for
// it, where MessageID made five allocations (a secret's id is derived twice a create).
func derivedUUID(parts ...string) uuid.UUID {
	var buf [160]byte
	return uuid.NewSHA1(idNamespace, eventstore.AppendMessageID(buf[:0], parts...))
}

// UserIDForEmail is the id of the user with a (normalized) email: deriving it makes
// "one account per email" a matter of appending to a new aggregate.
func UserIDForEmail(email string) string { return derivedID("user", email) }

func (m Meta) msgID(command string, parts ...string) string {
	if m.IdempotencyKey == "" {
		return ""
	}
	return eventstore.MessageID(append([]string{m.UserID, command, m.IdempotencyKey}, parts...)...)
}

func orgAggregate(orgID string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateOrganization, ID: orgID}
}

func secretAggregate(orgID, secretID string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateSecret, ID: secretID}
}

func userAggregate(userID string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: domain.PlatformScope, Type: domain.AggregateUser, ID: userID}
}

// validID rejects ids that are not UUIDs before they reach a subject.
func validID(field, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return domain.Errorf(domain.CodeNotFound, "The %s was not found.", field)
	}
	return nil
}

type loadedOrg struct {
	org        *domain.Organization
	events     []domain.Recorded
	lastSeq    uint64
	eventCount int
}

func loadOrganization(ctx context.Context, log eventLog, orgID string) (loadedOrg, error) {
	if err := validID("organization", orgID); err != nil {
		return loadedOrg{}, err
	}
	if cl, ok := log.(*cachedLog); ok {
		lo, err := cl.organization(ctx, orgID)
		if err != nil {
			return loadedOrg{}, fmt.Errorf("load organization: %w", err)
		}
		if !lo.org.Exists() {
			return loadedOrg{}, domain.Errorf(domain.CodeNotFound, "The organization was not found.")
		}
		return lo, nil
	}
	l, err := log.Load(ctx, orgAggregate(orgID))
	if err != nil {
		return loadedOrg{}, notFoundIfErased(fmt.Errorf("load organization: %w", err))
	}
	o := domain.NewOrganization(orgID)
	for _, r := range l.Events {
		o.Apply(r)
	}
	if !o.Exists() {
		return loadedOrg{}, domain.Errorf(domain.CodeNotFound, "The organization was not found.")
	}
	return loadedOrg{org: o, events: l.Events, lastSeq: l.LastSeq, eventCount: l.EventCount()}, nil
}

// principal is the caller as the organization's log knows it.
func (m Meta) principal(o *domain.Organization) domain.Principal {
	return domain.Principal{UserID: m.UserID, Role: o.Role(m.UserID), Superadmin: m.Superadmin}
}

// memberPrincipal loads the organization and fails with not_found for non-members.
func memberPrincipal(ctx context.Context, log eventLog, m Meta, orgID string) (loadedOrg, domain.Principal, error) {
	lo, err := loadOrganization(ctx, log, orgID)
	if err != nil {
		return loadedOrg{}, domain.Principal{}, err
	}
	p := m.principal(lo.org)
	if err := domain.Authorize(p, domain.ActionView, domain.Target{}); err != nil {
		return loadedOrg{}, domain.Principal{}, err
	}
	return lo, p, nil
}

type loadedSecret struct {
	secret *domain.Secret
	// events is what an Idempotency-Key is checked against: the whole history when
	// full, else the events of the last IdempotencyWindow that carry a key.
	events     []domain.Recorded
	full       bool
	lastSeq    uint64
	eventCount int
	// log is set when the secret came through the aggregate cache; turn when this
	// command holds the secret's turn and secret is the cached aggregate itself,
	// which only this command may read until release.
	log  *cachedLog
	turn *cachedAggregate[*domain.Secret]
	// endTurn gives the turn back, once however often it is called.
	endTurn func()
}

// at is the secret as it was after the events up to stream sequence seq: what an
// earlier request with the same Idempotency-Key saw as its result.
func (ls loadedSecret) at(ctx context.Context, seq uint64) (*domain.Secret, error) {
	events := ls.events
	if !ls.full {
		l, err := ls.log.LoadUntil(ctx, secretAggregate(ls.secret.OrgID(), ls.secret.ID()), seq)
		if err != nil {
			return nil, fmt.Errorf("load secret: %w", err)
		}
		events = l.Events
	}
	s := domain.NewSecret(ls.secret.OrgID(), ls.secret.ID())
	for _, r := range events {
		if r.Seq > seq {
			break
		}
		s.Apply(r)
	}
	return s, nil
}

// current is the secret as loaded, for an answer read after the command is over.
func (ls loadedSecret) current() *domain.Secret {
	if ls.turn != nil {
		return ls.secret.Clone()
	}
	return ls.secret
}

// release ends the command's turn on the secret, if it holds one; after it, the
// command must not read ls.secret again. Calling it twice is harmless.
func (ls loadedSecret) release() {
	if ls.endTurn != nil {
		ls.endTurn()
	}
}

// replay answers a request whose Idempotency-Key the secret's history holds: the
// secret (id) as that first request left it. ok says the history holds the key; err
// is idempotency_key_reused when it holds it for another request.
func (ls loadedSecret) replay(ctx context.Context, log eventLog, m Meta, lo loadedOrg, p domain.Principal, id string) (_ SecretResult, ok bool, _ error) {
	seq, ok, err := m.replayed(ls.events)
	if !ok || err != nil {
		return SecretResult{}, false, err
	}
	s, err := ls.at(ctx, seq)
	if err != nil {
		return SecretResult{}, true, err
	}
	return secretResult(ctx, log, lo, p, s, Result{Seq: seq, ID: id, Replayed: true}), true, nil
}

// loadSecret reads a secret for a look, without taking its turn.
func loadSecret(ctx context.Context, log eventLog, orgID, secretID string) (loadedSecret, error) {
	if err := validID("secret", secretID); err != nil {
		return loadedSecret{}, err
	}
	if cl, ok := log.(*cachedLog); ok {
		s, events, lastSeq, version, err := cl.secrets.snapshot(ctx, cl.tailLog, secretAggregate(orgID, secretID), time.Now(), 0)
		if err != nil {
			return loadedSecret{}, fmt.Errorf("load secret: %w", err)
		}
		return loadedSecret{secret: s, events: events, lastSeq: lastSeq, eventCount: version, log: cl}, nil
	}
	l, err := log.Load(ctx, secretAggregate(orgID, secretID))
	if err != nil {
		return loadedSecret{}, notFoundIfErased(fmt.Errorf("load secret: %w", err))
	}
	s := domain.NewSecret(orgID, secretID)
	for _, r := range l.Events {
		s.Apply(r)
	}
	return loadedSecret{secret: s, events: l.Events, full: true, lastSeq: l.LastSeq, eventCount: l.EventCount()}, nil
}

// secretForMember loads the organization (failing with not_found for non-members) and
// one of its secrets: the start of every command on a secret. Through the aggregate
// cache it takes the secret's turn, which the caller must release; a write (write
// true) without an Idempotency-Key trusts the cached secret without reading the log,
// since its append's expected sequence catches a stale one.
func secretForMember(ctx context.Context, log eventLog, m Meta, orgID, secretID string, write bool, snaps secretSnapshots) (loadedOrg, loadedSecret, domain.Principal, error) {
	lo, p, err := memberPrincipal(ctx, log, m, orgID)
	if err != nil {
		return loadedOrg{}, loadedSecret{}, domain.Principal{}, err
	}
	ls, err := memberSecret(ctx, log, m, orgID, secretID, write, snaps)
	if err != nil {
		return loadedOrg{}, loadedSecret{}, domain.Principal{}, err
	}
	return lo, ls, p, nil
}

// memberSecret is secretForMember's secret, for a caller that has the organization.
func memberSecret(ctx context.Context, log eventLog, m Meta, orgID, secretID string, write bool, snaps secretSnapshots) (loadedSecret, error) {
	cl, ok := log.(*cachedLog)
	if !ok {
		return loadSecret(ctx, log, orgID, secretID)
	}
	if err := validID("secret", secretID); err != nil {
		return loadedSecret{}, err
	}
	keyed := m.IdempotencyKey != ""
	ls, err := cl.secretTurn(ctx, orgID, secretID, write && !keyed, keyed, snaps)
	if err != nil {
		return loadedSecret{}, fmt.Errorf("load secret: %w", err)
	}
	return ls, nil
}

// retry runs attempt until it does not lose a race: see minAttempts. Between lost
// races it waits a little, at random (up to about 20 ms, growing with the attempts),
// so that replicas contending for one aggregate do not collide again in lockstep.
// Any other outcome, success or error, ends it at once.
func retry[T any](ctx context.Context, attempt func() (T, error)) (T, error) {
	var zero T
	started := time.Now()
	n, settled := 0, false
	r, err := backoff.Retry(ctx, func() (T, error) {
		n++
		r, err := attempt()
		switch {
		case !errors.Is(err, eventstore.ErrVersionConflict):
			settled = true
			if err != nil {
				return r, backoff.Permanent(err)
			}
			return r, nil
		case n >= minAttempts && time.Since(started) >= conflictBudget:
			settled = true
			return zero, backoff.Permanent(&domain.Error{Code: domain.CodeVersionConflict, Message: "A concurrent write won; please retry."})
		}
		return zero, err
	}, backoff.WithBackOff(newConflictBackoff()), backoff.WithMaxElapsedTime(0))
	if cerr := ctx.Err(); !settled && cerr != nil {
		// ctx ended between two lost races.
		return zero, cerr
	}
	return r, err
}

// newConflictBackoff is the pause between two lost races: random in [0, 2·interval],
// the interval growing from 0.5 ms by half each time up to 10 ms. The budget
// (minAttempts, conflictBudget) is retry's, not the backoff's: it never stops itself.
func newConflictBackoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     500 * time.Microsecond,
		RandomizationFactor: 1,
		Multiplier:          1.5,
		MaxInterval:         10 * time.Millisecond,
	}
}

// SecretResult is a command's result on a secret together with the secret as the
// command left it, its owner and the caller's standing in the organization: the API
// answers from it, whether or not the read models show the change yet.
type SecretResult struct {
	Result
	Secret *domain.Secret
	// Owner is the owner's account; nil when it could not be read (the answer then
	// names the owner by id only: a recorded command never answers an error).
	Owner        *domain.User
	Principal    domain.Principal
	RevealPolicy domain.RevealPolicy
}

// secretResult completes r with the secret s as it stands after the command.
func secretResult(ctx context.Context, log eventLog, lo loadedOrg, p domain.Principal, s *domain.Secret, r Result) SecretResult {
	out := SecretResult{Result: r, Secret: s, Principal: p, RevealPolicy: lo.org.RevealPolicy()}
	if owner, err := loadUserPatiently(ctx, log, s.OwnerID()); err == nil && owner.Exists() {
		out.Owner = owner
	}
	return out
}

// ownerRetryBudget bounds how long an answer waits for the account it names (a
// secret's owner, a member) while the log is unavailable (a NATS stream's leader fails
// over in well under a second). An answer that named its owner by id only, while a
// retry of the same request with its Idempotency-Key named the account, was two
// answers to one command (the cluster fault test caught one across a failover).
const ownerRetryBudget = 3 * time.Second

// loadUserPatiently is loadOwner, tried again while the log answers that it is
// unavailable, within ownerRetryBudget and ctx: every answer the HTTP layer takes for
// "not now" (eventstore.IsUnavailable: no responders while a stream elects a leader,
// a JetStream API 503, a timeout), not only the store's own ErrUnavailable.
func loadUserPatiently(ctx context.Context, log eventLog, id string) (*domain.User, error) {
	return backoff.Retry(ctx, func() (*domain.User, error) {
		u, err := loadOwner(ctx, log, id)
		if err != nil && !eventstore.IsUnavailable(err) {
			return u, backoff.Permanent(err)
		}
		return u, err
	}, backoff.WithBackOff(&backoff.ExponentialBackOff{
		InitialInterval: 20 * time.Millisecond, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 250 * time.Millisecond,
	}), backoff.WithMaxElapsedTime(ownerRetryBudget))
}

// loadOwner is LoadUser, through the aggregate cache when there is one.
func loadOwner(ctx context.Context, log eventLog, id string) (*domain.User, error) {
	if cl, ok := log.(*cachedLog); ok && validID("user", id) == nil {
		return cl.owner(ctx, id)
	}
	return LoadUser(ctx, log, id)
}

// after applies the events just appended to the loaded secret and returns it: the
// decision is made, so the aggregate may move on instead of being replayed again.
// A secret held through the cache moves on in the cache, and the answer is a copy.
func (ls loadedSecret) after(ctx context.Context, m Meta, recs eventstore.Appended) *domain.Secret {
	if ls.turn == nil {
		for _, r := range recs {
			ls.secret.Apply(r)
		}
		return ls.secret
	}
	before := ls.turn.lastSeq
	ls.log.appended(ctx, ls.turn, recs, m.IdempotencyKey != "")
	out := ls.turn.state.Clone()
	if ls.turn.loaded && ls.turn.lastSeq >= recs.Seq() {
		return out
	}
	// The cache could not be brought up to date (it reloads next time): answer from
	// the state before plus the events just recorded.
	if before < recs.Seq() {
		for _, r := range recs {
			out.Apply(r)
		}
	}
	return out
}

// actor is the event's actor: the request's origin with the acting user filled in.
func (m Meta) actor() domain.Actor {
	a := m.Actor
	if a.UserID == "" {
		a.UserID = m.UserID
	}
	return a
}

// accessAggregate is where an organization's access records (reveals, fetches,
// denied attempts) are appended: one subject per organization, so that concurrent
// records share messages (eventstore coalesces unchecked appends per subject, one
// fsync for many). Reveals and denied attempts on a secret went to a subject per
// secret before; those records stay where they are and are read as before (every
// reader goes by the event, not the subject).
func accessAggregate(orgID string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateAccess, ID: orgID}
}

// AuditedError is a refusal that was recorded in the log: Seq is the sequence of its
// AccessDenied event, so the API can wait until the audit trail shows it.
type AuditedError struct {
	Err error
	Seq uint64
}

func (e *AuditedError) Error() string { return e.Err.Error() }
func (e *AuditedError) Unwrap() error { return e.Err }

// recordDenied appends an AccessDenied record when err is a policy refusal (forbidden or
// reveal_disabled) and returns err, wrapped with the record's sequence. Other errors,
// including not_found for non-members, pass through unrecorded.
func recordDenied(ctx context.Context, log eventLog, m Meta, orgID, action, secretID string, env domain.Environment, err error) error {
	code := domain.ErrorCode(err)
	if code != domain.CodeForbidden && code != domain.CodeRevealDisabled {
		return err
	}
	return recordRefusal(ctx, log, m, orgID, action, secretID, env, err)
}

// recordRefusal appends an AccessDenied record of err, whatever its code, and returns
// err wrapped with the record's sequence: recordDenied's record, for a refusal the
// caller decided is audited (a reveal of an environment without value).
func recordRefusal(ctx context.Context, log eventLog, m Meta, orgID, action, secretID string, env domain.Environment, err error) error {
	code := domain.ErrorCode(err)
	target := orgID
	if secretID != "" {
		target = secretID
	}
	recs, aerr := log.Append(context.WithoutCancel(ctx), eventstore.Pending{
		Aggregate: accessAggregate(orgID), Unchecked: true,
		Events: []domain.Event{domain.AccessDenied{Action: action, SecretID: secretID, Env: env, Code: code}},
		Actor:  m.actor(), MsgID: m.msgID("denied", action, target),
	})
	if aerr != nil {
		return errors.Join(err, fmt.Errorf("record denied attempt: %w", aerr))
	}
	return &AuditedError{Err: err, Seq: recs.Seq()}
}
