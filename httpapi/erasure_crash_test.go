package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/httpapi/apitest"
)

// An erasure is three steps: record it, shred the keys, drop the rows. A kill -9
// between them leaves the log holding the record and the rest undone; whatever
// projects next (a restarted process) must finish the job, and a retried DELETE must
// answer consistently (404: the organization is gone) and never fail.
func TestErasureInterruptedByACrashIsFinishedOnRestart(t *testing.T) {
	t.Parallel()
	t.Run("after the record, before the shredding", func(t *testing.T) {
		t.Parallel()
		env := apitest.New(t)
		e := newErasedOrg(t, env, "crash1")
		env.StopProjector()
		// What the handler's first step leaves when the process dies right after it.
		recs, err := env.NATS.Store.Append(context.Background(), eventstore.Pending{
			Aggregate: eventstore.ErasureAggregate(e.org.ID), ExpectedSeq: 0, Position: 1,
			Events: []domain.Event{domain.OrganizationErased{OrgID: e.org.ID}},
			Actor:  domain.Actor{UserID: e.owner.UserID, IP: "192.0.2.7", UserAgent: "crash-test"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := freshStore(t, env).Load(context.Background(), orgAggregate(e.org.ID)); err != nil {
			t.Fatalf("before the restart the keys are still there, so the org's events open: %v", err)
		}
		env.StartProjector(t)
		env.Wait(t, recs.Seq())
		expectFinished(t, env, e)
	})
	t.Run("after the shredding, before the rows are dropped", func(t *testing.T) {
		t.Parallel()
		env := apitest.New(t)
		e := newErasedOrg(t, env, "crash2")
		env.StopProjector()
		ctx := context.Background()
		meta := commands.Meta{UserID: e.owner.UserID}
		// Events of the org the projector has not applied yet: after the shredding they
		// no longer open, and the restarted projector must pass them over.
		for _, name := range []string{"UNPROJECTED_ONE", "UNPROJECTED_TWO"} {
			if _, err := env.Commands.CreateSecret.Handle(ctx, meta, commands.CreateSecret{OrgID: e.org.ID, Name: name,
				Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("unprojected-value-" + name)}}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := env.Commands.EraseOrganization.Handle(ctx, meta, commands.EraseOrganization{OrgID: e.org.ID, Confirm: e.org.Name})
		if err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, env.DatabaseURL, e.org.ID); n == 0 {
			t.Fatal("the rows were dropped without a projector: the crash was not simulated")
		}
		env.StartProjector(t)
		env.Wait(t, res.Seq)
		expectFinished(t, env, e)
	})
}

func expectFinished(t *testing.T, env *apitest.Env, e erasedOrg) {
	t.Helper()
	if st, stalled := env.DB.Progress.ProjectionStall(); stalled {
		t.Fatalf("projection stalled: %+v", st)
	}
	expectUnreadable(t, env, e.org.ID)
	expectNoRows(t, env.DatabaseURL, e.org.ID)
	for range 2 {
		e.owner.Do(t, "DELETE", "/orgs/"+e.org.ID, map[string]any{"confirm": e.org.Name}).Problem(t, http.StatusNotFound, "not_found")
	}
	e.owner.Do(t, "GET", "/orgs/"+e.org.ID+"/secrets", nil).Problem(t, http.StatusNotFound, "not_found")
	e.owner.Do(t, "POST", "/orgs/"+e.org.ID+"/secrets", map[string]any{"name": "AFTER"}).Problem(t, http.StatusNotFound, "not_found")
	scanForNeedles(t, env, e.needles)
}

// An event that does not open and whose organization was not erased is not passed
// over: the projection stalls, loudly, on it.
func TestUnreadableEventOfAnOrgNotErasedStallsTheProjection(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	org, secret := uuid.NewString(), uuid.NewString()
	env.SignUp(t, "before-stall@erase.test", "Before")
	raw, err := json.Marshal(map[string]any{
		"id": "01J00000000000000000000000", "type": "SecretCreated", "schema": 1, "org": org, "agg_type": "secret",
		"agg_id": secret, "version": 1, "time": time.Now().UTC(), "actor": map[string]any{}, "payload": "kl1.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := env.NATS.Store.JetStream().Publish(context.Background(), eventstore.Subject(org, "secret", secret), raw)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, stalled := env.DB.Progress.ProjectionStall()
		if stalled {
			if st.Seq != ack.Sequence || !strings.Contains(st.Reason, "not found") && !strings.Contains(st.Reason, "does not open") {
				t.Fatalf("stalled at %d (%s), want at %d on the unreadable event", st.Seq, st.Reason, ack.Sequence)
			}
			return
		}
		if time.Now().After(deadline) {
			cp, _ := env.DB.Progress.Checkpoint(context.Background())
			t.Fatalf("the projection did not stall on an unreadable event of an org not erased (checkpoint %d, event %d)", cp, ack.Sequence)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func orgAggregate(orgID string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateOrganization, ID: orgID}
}

// freshStore is a second store on the same NATS with the master key: a process that
// knows nothing of this one's caches.
func freshStore(t *testing.T, env *apitest.Env) *eventstore.Store {
	t.Helper()
	master, err := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := eventstore.Open(context.Background(), env.NATS.Conn, master, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func countRows(t *testing.T, url, orgID string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM keyledger_rm_1.secrets WHERE org_id = $1`, orgID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
