package projections_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/keyledger/keyledger/projections"
	"github.com/keyledger/keyledger/projections/pgtest"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type rig struct {
	env   *eventstoretest.Env
	db    *projections.ReadModels
	url   string
	h     *commands.Handlers
	owner commands.Meta
	orgID string
}

func newRig(tb testing.TB, runProjector bool) *rig {
	tb.Helper()
	ctx := context.Background()
	env := eventstoretest.New(tb)
	url := pgtest.NewDatabase(tb)
	db, err := projections.Open(ctx, url, env.Store.Keyring(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	names, err := reservation.Open(ctx, env.Store)
	if err != nil {
		tb.Fatal(err)
	}
	r := &rig{env: env, db: db, url: url, h: commands.New(env.Store, names, time.Now)}
	if runProjector {
		r.startProjector(tb, db)
	}
	u, err := r.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "owner@example.com", Name: "Olivia Owner", Password: domain.NewPlaintext("correct horse battery")})
	if err != nil {
		tb.Fatal(err)
	}
	r.owner = commands.Meta{UserID: u.ID}
	org, err := r.h.CreateOrganization.Handle(ctx, r.owner, commands.CreateOrganization{Name: "Acme"})
	if err != nil {
		tb.Fatal(err)
	}
	r.orgID = org.ID
	return r
}

func (r *rig) startProjector(tb testing.TB, db *projections.ReadModels) context.CancelFunc {
	tb.Helper()
	return r.startProjectorWith(tb, projections.NewProjector(db, r.env.Store, nil))
}

// startProjectorWith runs p until the test ends (or the returned stop is called).
func (r *rig) startProjectorWith(tb testing.TB, p *projections.Projector) context.CancelFunc {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	stop := func() { cancel(); <-done }
	tb.Cleanup(stop)
	return stop
}

func (r *rig) wait(tb testing.TB, seq uint64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.db.Progress.WaitFor(ctx, seq); err != nil {
		tb.Fatal(err)
	}
}

func (r *rig) create(tb testing.TB, name string, values map[domain.Environment]string) commands.Result {
	tb.Helper()
	vals := map[domain.Environment]domain.Plaintext{}
	for env, v := range values {
		vals[env] = domain.NewPlaintext(v)
	}
	res, err := r.h.CreateSecret.Handle(context.Background(), r.owner, commands.CreateSecret{OrgID: r.orgID, Name: name, Description: "about " + name, Values: vals})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Result
}

func TestGridReflectsCommands(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	long := "sk_live_" + strings.Repeat("x", 24) + "RgA1"
	a := r.create(t, "stripe_secret_key", map[domain.Environment]string{domain.Production: long, domain.Development: "dev"})
	r.create(t, "DB_URL", map[domain.Environment]string{domain.Staging: "postgres://staging"})
	r.wait(t, a.Seq+1)

	rows, next, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if next != "" || len(rows) != 2 || rows[0].Name != "DB_URL" || rows[1].Name != "STRIPE_SECRET_KEY" {
		t.Fatalf("rows = %+v, next %q", rows, next)
	}
	prod := rows[1].Environments[domain.Production]
	if !prod.Set || prod.Version != 1 || prod.Mask != "sk_live_***RgA1" || rows[1].Owner.Name != "Olivia Owner" || rows[1].Description != "about stripe_secret_key" {
		t.Fatalf("row = %+v", rows[1])
	}
	byEnv, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Env: domain.Staging})
	if err != nil || len(byEnv) != 1 || byEnv[0].Name != "DB_URL" {
		t.Fatalf("env filter: %+v %v", byEnv, err)
	}
	byQ, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Q: "secret_k"})
	if err != nil || len(byQ) != 1 || byQ[0].Name != "STRIPE_SECRET_KEY" {
		t.Fatalf("q filter: %+v %v", byQ, err)
	}
	page, next, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 1})
	if err != nil || len(page) != 1 || next == "" {
		t.Fatalf("page 1: %+v %q %v", page, next, err)
	}
	page2, next2, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 1, Cursor: next})
	if err != nil || len(page2) != 1 || page2[0].Name != "STRIPE_SECRET_KEY" || next2 != "" {
		t.Fatalf("page 2: %+v %q %v", page2, next2, err)
	}

	newVal := "dev-2"
	upd, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: a.ID,
		Values: map[domain.Environment]*domain.Plaintext{domain.Development: ptr(domain.NewPlaintext(newVal)), domain.Production: nil}})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, upd.Seq)
	row, err := r.db.Secrets.GetSecret(ctx, r.orgID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Version != 2 || row.Environments[domain.Development].Version != 2 || row.Environments[domain.Production].Set || row.Environments[domain.Production].Version != 1 {
		t.Fatalf("after update: %+v", row)
	}
	del, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, del.Seq)
	if _, err := r.db.Secrets.GetSecret(ctx, r.orgID, a.ID); !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("deleted secret: %v", err)
	}
	role, err := r.db.Directory.RoleOf(ctx, r.orgID, r.owner.UserID)
	if err != nil || role != domain.RoleOwner {
		t.Fatalf("role = %q, %v", role, err)
	}
	ms, err := r.db.Directory.MembershipsOf(ctx, r.owner.UserID)
	if err != nil || len(ms) != 1 || ms[0].OrgName != "Acme" {
		t.Fatalf("memberships = %+v, %v", ms, err)
	}
}

func ptr[T any](v T) *T { return &v }

// A projector stopped mid-stream and started again neither skips nor double-applies:
// the rows equal those of a projector that ran straight through.
// againFromTheLog projects the log up to last into a fresh database, with a projector
// of its own, and returns it with the organization's grid there (want) and in the
// rig's read models (got).
func (r *rig) againFromTheLog(tb testing.TB, last uint64) (fresh *projections.ReadModels, got, want []projections.SecretRow) {
	tb.Helper()
	ctx := context.Background()
	fresh, err := projections.Open(ctx, pgtest.NewDatabase(tb), r.env.Store.Keyring(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fresh.Close)
	r.startProjector(tb, fresh)
	if err := fresh.Progress.WaitFor(ctx, last); err != nil {
		tb.Fatal(err)
	}
	if got, _, err = r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 1000}); err != nil {
		tb.Fatal(err)
	}
	if want, _, err = fresh.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 1000}); err != nil {
		tb.Fatal(err)
	}
	return fresh, got, want
}

func TestProjectorRestartMidStream(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	stop := r.startProjector(t, r.db)
	var last uint64
	ids := []string{}
	for i := range 30 {
		res := r.create(t, fmt.Sprintf("KEY_%02d", i), map[domain.Environment]string{domain.Development: fmt.Sprint("v", i)})
		ids = append(ids, res.ID)
		last = res.Seq
		if i == 10 {
			r.wait(t, last)
			stop()
		}
	}
	for _, id := range ids[:15] {
		v := domain.NewPlaintext("changed")
		res, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: id, Values: map[domain.Environment]*domain.Plaintext{domain.Development: &v}})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	r.startProjector(t, r.db)
	r.wait(t, last)

	_, got, want := r.againFromTheLog(t, last)
	if len(got) != 30 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("restarted projector differs from a straight run:\n got %v\nwant %v", got, want)
	}
	for _, row := range got[:15] {
		if row.Version != 2 || row.Environments[domain.Development].Version != 2 {
			t.Fatalf("row %s: version %d, dev version %d, want 2 and 2", row.Name, row.Version, row.Environments[domain.Development].Version)
		}
	}
}

// Row-level security: a query that forgot to scope itself to an org sees nothing.
func TestRowLevelSecurityStopsUnscopedQueries(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	res := r.create(t, "ISOLATED", map[domain.Environment]string{domain.Production: "p"})
	r.wait(t, res.Seq)
	ctx := context.Background()
	conn := connectLive(t, r.url)
	var n int
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE keyledger_reader`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM secrets`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("an unscoped query saw %d secrets, want 0", n)
	}
}

// Nothing plaintext is stored outside the sealed value: neither the raw JetStream
// messages (the event log and the change stream), nor any file of the NATS data
// directory, nor any Postgres table holds a value, name or description in clear.
func TestNoPlaintextInLogOrDatabase(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	// The projector publishes change notices, so the change stream is checked too.
	changes, err := changefeed.Open(ctx, r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	r.startProjectorWith(t, projections.NewProjector(r.db, r.env.Store, nil).PublishChanges(changes))
	secrets := []string{"VALUE_dev_8c1f2e", "VALUE_prod_77aa19", "VALUE_new_3b9d0c", "ZEBRA_NAME_Q9", "DESCRIPTION_TEXT_K4"}
	res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: "zebra_name_q9", Description: "DESCRIPTION_TEXT_K4",
		Values: map[domain.Environment]domain.Plaintext{domain.Development: domain.NewPlaintext(secrets[0]), domain.Production: domain.NewPlaintext(secrets[1])}})
	if err != nil {
		t.Fatal(err)
	}
	upd, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: res.ID,
		Values: map[domain.Environment]*domain.Plaintext{domain.Staging: ptr(domain.NewPlaintext(secrets[2]))}})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, upd.Seq)

	var raw strings.Builder
	msgs, err := jetstreamext.GetBatch(ctx, r.env.Store.JetStream(), "KEYLEDGER_EVENTS", 10000)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for m, err := range msgs {
		if err != nil {
			t.Fatal(err)
		}
		count++
		fmt.Fprintf(&raw, "%s %v %s\n", m.Subject, m.Header, m.Data)
	}
	if count < 4 {
		t.Fatalf("read %d messages from the log, want at least 4", count)
	}
	// The notices are published after the batch commits (the projector's outbox):
	// wait until the stream holds all three.
	waitChangeNotices(t, r.env.Store.JetStream(), 3)
	notices, err := jetstreamext.GetBatch(ctx, r.env.Store.JetStream(), "KEYLEDGER_CHANGES", 10000)
	if err != nil {
		t.Fatal(err)
	}
	count = 0
	for m, err := range notices {
		if err != nil {
			t.Fatal(err)
		}
		count++
		fmt.Fprintf(&raw, "%s %v %s\n", m.Subject, m.Header, m.Data)
	}
	if count < 3 {
		t.Fatalf("read %d change notices, want at least 3", count)
	}
	files := dumpFiles(t, r.env.Dir)
	if !strings.Contains(files, "keyledger.changes."+r.orgID) {
		t.Fatal("the data directory dump does not look complete: no change notice subject in it")
	}
	var dump strings.Builder
	conn := connectLive(t, r.url)
	if _, err := conn.Exec(ctx, `SET keyledger.bypass_rls = 'on'`); err != nil {
		t.Fatal(err)
	}
	tables, err := conn.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables WHERE table_schema IN ('public', current_schema())`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(tables, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, tbl := range names {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+tbl+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		dump.WriteString(strings.Join(texts, "\n"))
	}
	if !strings.Contains(dump.String(), "owner@example.com") {
		t.Fatal("the database dump does not look complete: the owner's email is missing")
	}
	for _, s := range secrets {
		for where, text := range map[string]string{"JetStream": raw.String(), "NATS data dir": files, "Postgres": dump.String()} {
			if strings.Contains(strings.ToUpper(text), strings.ToUpper(s)) {
				t.Errorf("%s holds %q in plaintext", where, s)
			}
		}
	}
}

// waitChangeNotices waits until the change stream holds at least n notices.
func waitChangeNotices(tb testing.TB, js jetstream.JetStream, n uint64) {
	tb.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, "KEYLEDGER_CHANGES")
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := st.Info(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if info.State.Msgs >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the change stream holds %d notices after 10 s, want %d", info.State.Msgs, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dumpFiles returns the raw bytes of every file under dir, as JetStream wrote them.
func dumpFiles(tb testing.TB, dir string) string {
	tb.Helper()
	var all strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		all.Write(b)
		all.WriteByte('\n')
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return all.String()
}

// connectLive connects with the search path on the live read-model schema.
func connectLive(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, `SELECT set_config('search_path', (SELECT schema FROM public.keyledger_read_model), false)`); err != nil {
		tb.Fatal(err)
	}
	return conn
}

// batchLog records each batch a projector commits with events in it: its events and
// the statements its pipelines of writes sent (db's WriteStatements since the batch
// before, or since statements was set). It is read once the projector has stopped.
type batchLog struct {
	db         *projections.ReadModels
	statements int64
	applied    [][2]int64 // events, statements
}

func (l *batchLog) BatchStarted(time.Time) {}

func (l *batchLog) BatchApplied(b projections.AppliedBatch) {
	now := l.db.WriteStatements()
	if b.Events > 0 {
		l.applied = append(l.applied, [2]int64{int64(b.Events), now - l.statements})
	}
	l.statements = now
}

// A create's grid row, name row and audit row carry one sealing of the secret's name:
// the same name under the same key and AAD, sealed once per batch instead of once per
// row (three AES-GCM seals and their allocations for every create). Each opens to the
// name, as the grid and the audit trail show.
func TestCreateSealsItsNameOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	res := r.create(t, "ONCE_SEALED", map[domain.Environment]string{domain.Production: "v1"})
	r.wait(t, res.Seq)
	conn := connectLive(t, r.url)
	var grid, names, audit string
	if err := conn.QueryRow(context.Background(), `SELECT s.name_sealed, n.name_sealed, a.secret_name_sealed
		FROM secrets s JOIN secret_names n USING (org_id)
		JOIN audit_log a ON a.org_id = s.org_id AND a.secret_id = s.id AND a.action = 'secret.created'
		WHERE s.id = $1 AND n.secret_id = s.id`, res.ID).Scan(&grid, &names, &audit); err != nil {
		t.Fatal(err)
	}
	if grid == "" || grid != names || names != audit {
		t.Errorf("the name was sealed apart for its rows: grid %q, names %q, audit %q", grid, names, audit)
	}
	rows, _, err := r.db.Secrets.ListSecrets(context.Background(), r.orgID, projections.SecretFilter{})
	if err != nil || len(rows) != 1 || rows[0].Name != "ONCE_SEALED" {
		t.Fatalf("the grid lists %+v (%v), want the name opened", rows, err)
	}
	entries, _, err := r.db.Audit.ListAudit(context.Background(), r.orgID, projections.AuditFilter{Action: "secret.created"})
	if err != nil || len(entries) != 1 || entries[0].SecretName != "ONCE_SEALED" {
		t.Fatalf("the audit trail lists %+v (%v), want the name opened", entries, err)
	}
}
