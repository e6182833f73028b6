package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// gridTables prints the grid's rows, the version history and the names of the
// secrets (opened) of the live schema; not the sealed description (sealed again, with
// a new nonce, by each projector; snap compares it opened).
func gridTables(tb testing.TB, r *rig) string {
	tb.Helper()
	ctx := context.Background()
	conn := connectLive(tb, r.url)
	out := ""
	for _, q := range []string{
		`SELECT org_id, id, owner_id, created_at, updated_at, version, changed_seq FROM secrets ORDER BY org_id, id`,
		`SELECT * FROM secret_values ORDER BY org_id, secret_id, env`,
		`SELECT * FROM secret_deletions ORDER BY org_id, seq, secret_id`,
		`SELECT * FROM secret_versions ORDER BY org_id, secret_id, env, seq, idx`,
	} {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			tb.Fatal(err)
		}
		n := 0
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				tb.Fatal(err)
			}
			out += fmt.Sprintln(v...)
			n++
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		out += fmt.Sprintf("-- %d rows\n", n)
	}
	rows, err := conn.Query(ctx, `SELECT org_id::text, secret_id::text, name_sealed FROM secret_names ORDER BY org_id, secret_id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var org, id, sealed string
		if err := rows.Scan(&org, &id, &sealed); err != nil {
			tb.Fatal(err)
		}
		name, err := r.env.Store.Keyring().Open(ctx, org, sealed, []byte("keyledger/readmodel/"+org+"/"+id+"/name"))
		if err != nil {
			tb.Fatal(err)
		}
		out += fmt.Sprintln("name", org, id, string(name))
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// A rebuild folds the grid rows of the secrets a batch creates into their final state
// and copies them (rebuild_fold.go): the rows equal the live projector's, statement by
// statement, for every order of creates, updates, removals, rollbacks, deletions and
// creations again of one id, whether the batch holds a secret's whole story or cuts
// it, and for a secret updated before it was created (not folded).
func TestRebuildFoldsEachSecretsRowsAsTheStatementsLeaveThem(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	actor := domain.Actor{UserID: r.owner.UserID}
	val := func(v int, s string) domain.ValueVersion {
		return domain.ValueVersion{Version: v, Mask: "**" + s, Sealed: "sealed-" + s}
	}
	vals := func(kv ...any) map[domain.Environment]domain.ValueVersion {
		m := map[domain.Environment]domain.ValueVersion{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(domain.Environment)] = kv[i+1].(domain.ValueVersion)
		}
		return m
	}
	var last domain.Recorded
	on := func(id string, ev domain.Event) {
		last = appendRaw(t, r, eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateSecret, ID: id}, ev, actor)
	}
	created := func(name string, values map[domain.Environment]domain.ValueVersion) domain.SecretCreated {
		return domain.SecretCreated{Name: domain.SecretName(name), Description: "about " + name, OwnerID: r.owner.UserID, Values: values}
	}
	desc := "described again"
	a, b, c, d, e, f, g := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	// e's values are set before it is created.
	on(e, domain.SecretUpdated{Set: vals(domain.Development, val(1, "e1"))})
	on(a, created("A", vals(domain.Development, val(1, "a1"), domain.Production, val(1, "a2"))))
	on(b, created("B", vals(domain.Production, val(1, "b1"))))
	on(a, domain.SecretUpdated{Description: &desc, Set: vals(domain.Production, val(2, "a3")), Removed: []domain.Environment{domain.Development}})
	on(e, created("E", vals(domain.Production, val(1, "e2"))))
	on(c, created("C", vals(domain.Development, val(1, "c1"))))
	on(a, domain.SecretRolledBack{Env: domain.Production, Value: val(3, "a2"), FromVersion: 1})
	on(b, domain.SecretUpdated{Set: vals(domain.Staging, val(1, "b2"), domain.Production, val(2, "b3"))})
	on(c, domain.SecretDeleted{})
	on(d, created("D", vals(domain.Development, val(1, "d1"))))
	on(a, domain.SecretValueDeleted{Env: domain.Production})
	on(c, created("C again", vals(domain.Production, val(1, "c2"))))
	appendRaw(t, r, eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateAccess, ID: f}, domain.SecretRevealed{SecretID: f, Env: domain.Production, Version: 1}, actor)
	on(f, created("F", vals(domain.Production, val(1, "f1"))))
	on(d, created("D twice", vals(domain.Production, val(1, "d2"), domain.Development, val(2, "d3"))))
	on(b, domain.SecretRolledBack{Env: domain.Production, Value: val(3, "b1"), FromVersion: 1})
	on(a, domain.SecretDeleted{})
	on(g, created("G", nil))
	on(c, domain.SecretUpdated{Description: &desc})
	on(f, domain.SecretUpdated{Set: vals(domain.Production, val(2, "f2"))})
	on(g, domain.SecretUpdated{Description: &desc})
	on(e, domain.SecretUpdated{Set: vals(domain.Staging, val(1, "e3"))})
	// One message that deletes g twice (the log may hold what the domain refuses): one
	// tombstone.
	recs, err := r.env.Store.Append(ctx, eventstore.Pending{Aggregate: eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateSecret, ID: g},
		Unchecked: true, Position: 1, Events: []domain.Event{domain.SecretDeleted{}, domain.SecretDeleted{}}, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	last = recs[len(recs)-1]
	r.wait(t, last.Seq)
	live, liveSnap := gridTables(t, r), snap(t, r)
	for _, batch := range []int{0, 1, 2, 3, 5} {
		r.db.SetRebuildBatch(batch)
		warned := &warnings{}
		if _, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, slog.New(warned)); err != nil {
			t.Fatal(err)
		}
		// Every batch applies at its first attempt, pipelined or not.
		if w := warned.list(); len(w) > 0 {
			t.Fatalf("batches of %d: the rebuild warned %q", batch, w)
		}
		if got := gridTables(t, r); got != live {
			t.Fatalf("batches of %d: rebuilt grid rows\n%s\nwant the live ones\n%s", batch, got, live)
		}
		if got := snap(t, r); got != liveSnap {
			t.Fatalf("batches of %d: rebuilt read models\n%+v\nwant the live ones\n%+v", batch, got, liveSnap)
		}
	}
}

// warnings is a log handler that keeps the messages of warnings and errors.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	w.msgs = append(w.msgs, msg)
	return nil
}

func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }

func (w *warnings) WithGroup(string) slog.Handler { return w }

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}
