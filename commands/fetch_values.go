package commands

import (
	"context"
	"encoding/base64"
	"fmt"
	"runtime"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// FetchValues returns every value of one environment, in clear, for an integration or
// a member allowed to reveal; the fetch is audited as secrets.fetched.
type FetchValues struct {
	OrgID string
	Env   domain.Environment
	// Token is set when a service token asks; else Meta's user does.
	Token *TokenIdentity
}

// sealedValues is the read-model query the handler needs. It returns the values in
// name order (byte order): the read models place each row by the name index, so the
// handler does not sort them again.
type sealedValues interface {
	SealedValues(ctx context.Context, orgID string, env domain.Environment) (values []domain.StoredValue, asOf uint64, err error)
}

// FetchedValues is the environment's values sorted by name, the log's sequence they are
// as of (AsOf), and the audit record's (Seq, the command's own, later than AsOf). A
// fetch's answer names AsOf: the values were read before the record was appended, from
// read models that may not have reached writes under way, so the record's sequence
// claimed a point the values were not as of (a client resuming the change feed from it
// missed the writes in between). Lists, not a map: an environment may hold 100,000 values, and the API edge
// encodes them in this order without building a map (or sorting) again. Values holds
// them in one buffer, Values.Reveal(i) being Names[i]'s.
type FetchedValues struct {
	Names  []string
	Values domain.Plaintexts
	AsOf   uint64
	Seq    uint64
}

// ValueOpeners is what a values fetch opens values with (eventstore.Keyring): an
// opener that reuses its buffers from one value to the next.
type ValueOpeners interface {
	ValueOpener() *eventstore.ValueOpener
}

// FetchValuesHandler handles FetchValues.
type FetchValuesHandler struct {
	log    eventLog
	keys   ValueOpeners
	values sealedValues
	// maxNames bounds the names the audit event lists (domain.NewSecretsFetched).
	maxNames int
	// opening admits the fetches that read and open values at one time. A fetch is
	// CPU-bound (an environment of 100,000 values is 100,000 decryptions) and holds
	// the whole environment twice while it works (sealed, then in clear): 32
	// concurrent fetches of such an environment held over a gigabyte at once for no
	// more throughput than a few.
	opening chan struct{}
}

// DefaultConcurrentFetches is how many values fetches open values at one time by
// default: the cores, and at least two.
func DefaultConcurrentFetches() int { return max(2, runtime.GOMAXPROCS(0)) }

// NewFetchValuesHandler wires the handler.
func NewFetchValuesHandler(log eventLog, keys ValueOpeners, values sealedValues) *FetchValuesHandler {
	return &FetchValuesHandler{log: log, keys: keys, values: values, maxNames: domain.MaxFetchedNames,
		opening: make(chan struct{}, DefaultConcurrentFetches())}
}

// WithConcurrentFetches sets how many fetches read and open values at one time (n <= 0:
// DefaultConcurrentFetches); the others wait their turn, or until their context ends.
func (h *FetchValuesHandler) WithConcurrentFetches(n int) *FetchValuesHandler {
	if n <= 0 {
		n = DefaultConcurrentFetches()
	}
	h.opening = make(chan struct{}, n)
	return h
}

// WithMaxNames sets how many names one audit event lists before it records a count and
// a digest instead (n <= 0: domain.MaxFetchedNames), so that a test can cross the
// bound with a few secrets.
func (h *FetchValuesHandler) WithMaxNames(n int) *FetchValuesHandler {
	if n <= 0 {
		n = domain.MaxFetchedNames
	}
	h.maxNames = n
	return h
}

// Handle authorizes, records the fetch, then opens the values.
func (h *FetchValuesHandler) Handle(ctx context.Context, m Meta, c FetchValues) (FetchedValues, error) {
	if err := h.authorize(ctx, m, c); err != nil {
		return FetchedValues{}, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditSecretsFetched, "", c.Env, err)
	}
	select {
	case h.opening <- struct{}{}:
		defer func() { <-h.opening }()
	case <-ctx.Done():
		return FetchedValues{}, ctx.Err()
	}
	sealed, asOf, err := h.values.SealedValues(ctx, c.OrgID, c.Env)
	if err != nil {
		return FetchedValues{}, err
	}
	names := make([]string, 0, len(sealed))
	for _, s := range sealed {
		names = append(names, string(s.Name))
	}
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: accessAggregate(c.OrgID), Unchecked: true,
		Events: []domain.Event{domain.NewSecretsFetched(c.Env, names, h.maxNames)}, Actor: m.actor(),
	})
	if err != nil {
		return FetchedValues{}, fmt.Errorf("record fetch: %w", err)
	}
	// A sealed text's decoded length is longer than its value (the ciphertext holds
	// the nonce and the tag besides): room enough, and a quarter less than the text.
	size := 0
	for _, s := range sealed {
		size += base64.RawURLEncoding.DecodedLen(len(s.Sealed))
	}
	out := FetchedValues{Names: names, Values: domain.NewPlaintexts(len(sealed), size), AsOf: asOf, Seq: recs.Seq()}
	opener := h.keys.ValueOpener()
	for _, s := range sealed {
		v, err := opener.Open(ctx, eventstore.ValueRef{OrgID: c.OrgID, SecretID: s.SecretID, Env: c.Env, ValueVersion: s.Version}, s.Sealed)
		if err != nil {
			return FetchedValues{}, err
		}
		out.Values.Add(v)
	}
	return out, nil
}

func (h *FetchValuesHandler) authorize(ctx context.Context, m Meta, c FetchValues) error {
	if c.Token != nil && c.Token.Service {
		if c.Token.OrgID != c.OrgID {
			return domain.Errorf(domain.CodeNotFound, "The organization was not found.")
		}
		return domain.AuthorizeServiceTokenFetch(c.Token.Environments, c.Env)
	}
	lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
	if err != nil {
		return err
	}
	return domain.Authorize(p, domain.ActionFetch, domain.Target{RevealPolicy: lo.org.RevealPolicy()})
}
