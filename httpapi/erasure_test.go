package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// erasedOrg is an organization with distinctive data in every read model: secrets
// with names, values and a description, members, a service token, audit rows.
type erasedOrg struct {
	org      apitest.Org
	secretID string
	token    string
	owner    *apitest.Client
	admin    *apitest.Client
	// needles are the organization's texts, none of which may be found anywhere after
	// the erasure.
	needles []string
}

func newErasedOrg(t *testing.T, env *apitest.Env, tag string) erasedOrg {
	t.Helper()
	e := erasedOrg{
		owner: env.SignUp(t, "owner-"+tag+"@erase.test", "Olive Owner"),
		admin: env.SignUp(t, "admin-"+tag+"@erase.test", "Adam Admin"),
	}
	orgName := "Zanzibar Shredded Org " + tag
	secretName := "ERASE_ME_" + strings.ToUpper(tag) + "_K7Q2"
	dev, prod := "erase-dev-value-"+tag+"-9f8e7d6c5b4a39281706", "erase-prod-value-"+tag+"-1a2b3c4d5e6f7a8b9c0d"
	desc, tokenName := "erase-description-"+tag+"-55XY", "erase-token-"+tag+"-J3"
	e.needles = []string{orgName, secretName, dev, prod, desc, tokenName}
	e.org = e.owner.CreateOrg(t, orgName)
	// A bare hash of the name is the name to anyone with a dictionary of likely names,
	// and would outlive the erasure: reservation keys are keyed (DESIGN "Encryption").
	_, bare, _ := strings.Cut(reservation.LegacyKey(e.org.ID, secretName), ".")
	e.needles = append(e.needles, bare)
	e.owner.AddMember(t, e.org.ID, "admin-"+tag+"@erase.test", "admin")
	var s apitest.Secret
	e.owner.Do(t, "POST", "/orgs/"+e.org.ID+"/secrets", map[string]any{
		"name": secretName, "description": desc, "values": map[string]string{"development": dev, "production": prod},
	}).Expect(t, http.StatusCreated).JSON(t, &s)
	e.secretID = s.ID
	e.owner.Do(t, "POST", "/orgs/"+e.org.ID+"/secrets/"+s.ID+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)
	var tok struct {
		Token string `json:"token"`
	}
	e.owner.Do(t, "POST", "/orgs/"+e.org.ID+"/service-tokens", map[string]any{"name": tokenName, "environments": []string{"production"}}).
		Expect(t, http.StatusCreated).JSON(t, &tok)
	e.token = tok.Token
	return e
}

// orgRoutes is every route of an organization, with a body that would be valid.
func orgRoutes(orgID, secretID string) [][3]any {
	o := "/orgs/" + orgID
	s := o + "/secrets/" + secretID
	return [][3]any{
		{"GET", o, nil}, {"PATCH", o, map[string]any{"name": "Renamed"}}, {"DELETE", o, map[string]any{"confirm": "x"}},
		{"GET", o + "/environments", nil}, {"GET", o + "/members", nil},
		{"POST", o + "/members", map[string]any{"email": "nobody@erase.test", "role": "viewer"}},
		{"PATCH", o + "/members/" + uuid.NewString(), map[string]any{"role": "viewer"}},
		{"DELETE", o + "/members/" + uuid.NewString(), nil},
		{"GET", o + "/secrets", nil}, {"POST", o + "/secrets", map[string]any{"name": "NEW_ONE"}},
		{"GET", s, nil}, {"PATCH", s, map[string]any{"description": "x"}}, {"DELETE", s, nil},
		{"POST", s + "/reveal", map[string]any{"env": "production"}}, {"GET", s + "/versions", nil},
		{"POST", s + "/rollback", map[string]any{"env": "production", "version": 1}},
		{"GET", o + "/audit", nil}, {"GET", o + "/audit/export?format=csv", nil}, {"GET", o + "/audit/verify", nil},
		{"GET", o + "/service-tokens", nil}, {"POST", o + "/service-tokens", map[string]any{"name": "t", "environments": []string{"production"}}},
		{"DELETE", o + "/service-tokens/" + uuid.NewString(), nil},
		{"GET", o + "/environments/production/values", nil}, {"GET", o + "/changes", nil},
		{"GET", o + "/secrets?as_of=" + time.Now().UTC().Format(time.RFC3339), nil},
	}
}

func expectAllNotFound(t *testing.T, c *apitest.Client, who, orgID, secretID string) {
	t.Helper()
	for _, r := range orgRoutes(orgID, secretID) {
		resp := c.Do(t, r[0].(string), r[1].(string), r[2])
		if resp.Status != http.StatusNotFound {
			t.Errorf("%s: %s %s after erasure: %d, want 404; body %s", who, r[0], r[1], resp.Status, resp.Body)
		}
	}
}

// The whole erasure through HTTP: refusals change nothing; the owner erases; every
// route of the org answers 404 to its owner, a super-admin and its service token; the
// super-admins' audit lists it; no name or value of it is anywhere in the JetStream
// files or a pg_dump; its events no longer open with the master key; a rebuild brings
// nothing back and does not stall.
func TestEraseOrganization(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ctx := context.Background()
	super := env.CreateUser(t, "root@erase.test", "Root", true)
	outsider := env.SignUp(t, "outsider@erase.test", "Otto")
	e := newErasedOrg(t, env, "main")
	o := "/orgs/" + e.org.ID
	// A rebuild before the erasure leaves the replaced schema, with the org's rows,
	// in the database until the next rebuild: the erasure must reach it too.
	if _, err := env.DB.Rebuild(ctx, env.NATS.Store, env.NATS.Store, nil); err != nil {
		t.Fatal(err)
	}
	// Notices go out shortly after their writes are answered (the outbox gathers them
	// for up to 100 ms).
	for deadline := time.Now().Add(10 * time.Second); countChangeNotices(t, env, e.org.ID) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the org has no change notices before its erasure: the check after it would prove nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}

	outsider.Do(t, "DELETE", o, map[string]any{"confirm": e.org.Name}).Problem(t, http.StatusNotFound, "not_found")
	e.admin.Do(t, "DELETE", o, map[string]any{"confirm": e.org.Name}).Problem(t, http.StatusForbidden, "forbidden")
	for _, body := range []any{nil, map[string]any{}, map[string]any{"confirm": ""}, map[string]any{"confirm": strings.ToLower(e.org.Name)}, map[string]any{"confirm": e.org.Name + " "}} {
		p := e.owner.Do(t, "DELETE", o, body).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != "confirm" {
			t.Fatalf("wrong confirmation %v: errors %+v, want one on confirm", body, p.Errors)
		}
	}
	e.owner.Do(t, "DELETE", o, map[string]any{"confirm": e.org.Name, "extra": 1}).Problem(t, http.StatusBadRequest, "invalid_request")
	e.owner.Do(t, "GET", o, nil).Expect(t, http.StatusOK)
	e.owner.Do(t, "GET", o+"/secrets/"+e.secretID, nil).Expect(t, http.StatusOK)

	resp := e.owner.Do(t, "DELETE", o, map[string]any{"confirm": e.org.Name}, "Idempotency-Key", "erase-1", "User-Agent", "erase-test-agent/1.0").
		Expect(t, http.StatusNoContent)
	seq := resp.Seq(t)
	// A retry with the key gets the first answer; any other request finds no org.
	e.owner.Do(t, "DELETE", o, map[string]any{"confirm": e.org.Name}, "Idempotency-Key", "erase-1", "User-Agent", "erase-test-agent/1.0").
		Expect(t, http.StatusNoContent)
	e.owner.Do(t, "DELETE", o, map[string]any{"confirm": e.org.Name}).Problem(t, http.StatusNotFound, "not_found")

	expectAllNotFound(t, e.owner, "owner", e.org.ID, e.secretID)
	expectAllNotFound(t, super, "super-admin", e.org.ID, e.secretID)
	bearer := env.Anonymous()
	bearer.Token = e.token
	bearer.Do(t, "GET", o+"/environments/production/values", nil).Problem(t, http.StatusNotFound, "not_found")
	var orgs struct{ Items []apitest.Org }
	e.owner.Do(t, "GET", "/orgs", nil).Expect(t, http.StatusOK).JSON(t, &orgs)
	if len(orgs.Items) != 0 {
		t.Fatalf("the owner still lists %+v", orgs.Items)
	}

	// The platform audit trail, for super-admins only.
	e.owner.Do(t, "GET", "/admin/audit", nil).Problem(t, http.StatusForbidden, "forbidden")
	e.admin.Do(t, "GET", "/admin/audit", nil).Problem(t, http.StatusForbidden, "forbidden")
	env.Anonymous().Do(t, "GET", "/admin/audit", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	var audit struct {
		Items []struct {
			ID, Action, IP string
			OrgID          string `json:"org_id"`
			UserAgent      string `json:"user_agent"`
			Seq            uint64
			At             time.Time
			Actor          struct{ ID, Email string }
		}
	}
	body := super.Do(t, "GET", "/admin/audit", nil).Expect(t, http.StatusOK)
	if err := json.Unmarshal(body.Body, &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Items) != 1 {
		t.Fatalf("platform audit: %s, want one erasure", body.Body)
	}
	got := audit.Items[0]
	if got.Action != "org.erased" || got.OrgID != e.org.ID || got.Seq != seq || got.Actor.Email != "owner-main@erase.test" ||
		got.IP == "" || got.UserAgent != "erase-test-agent/1.0" || got.ID == "" || time.Since(got.At) > time.Minute {
		t.Fatalf("platform audit entry %s", body.Body)
	}
	if strings.Contains(string(body.Body), e.org.Name) {
		t.Fatal("the platform audit trail names the erased organization")
	}

	// Nothing of the org is readable: the events do not open with the master key, a
	// fresh store calls them erased, and the wrapped keys are gone.
	expectUnreadable(t, env, e.org.ID)
	scanForNeedles(t, env, e.needles)
	expectNoChangeNotices(t, env, e.org.ID)

	// A rebuild brings nothing back and is not stalled by the unreadable events.
	rep, err := env.DB.Rebuild(ctx, env.NATS.Store, env.NATS.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	head, err := env.NATS.Store.LastSeq(ctx)
	if err != nil || rep.Events < head {
		t.Fatalf("rebuild reached %d of %d (%v)", rep.Events, head, err)
	}
	if st, stalled := env.DB.Progress.ProjectionStall(); stalled {
		t.Fatalf("projection stalled after the rebuild: %+v", st)
	}
	expectNoRows(t, env.DatabaseURL, e.org.ID)
	expectAllNotFound(t, super, "super-admin after rebuild", e.org.ID, e.secretID)
	scanForNeedles(t, env, e.needles)
	// Other organizations carry on.
	other := e.admin.CreateOrg(t, "Still Here")
	e.admin.CreateSecret(t, other.ID, "STILL_HERE", map[string]string{"production": "v"})
}

// Crypto-shredding must leave no copy of the data keys, wrapped or not, anywhere the
// master key could open it: no revision of the organization's keyset (one per
// rotation) may remain in the JetStream files. A KV purge (and a superseded KV
// revision) only marks the message deleted, its bytes stay in the block file until
// compaction; the keyring keeps keysets in a stream that allows erasing them.
func TestErasureLeavesNoWrappedKeyOnDisk(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	e := newErasedOrg(t, env, "disk")
	wrapped := wrappedKeysOf(t, env, e.org.ID)
	for range 2 {
		e.owner.Do(t, "POST", "/orgs/"+e.org.ID+"/keys/rotate", nil).Expect(t, http.StatusOK)
		e.owner.Do(t, "POST", "/orgs/"+e.org.ID+"/secrets/"+e.secretID+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)
		wrapped = append(wrapped, wrappedKeysOf(t, env, e.org.ID)...)
	}
	if len(uniq(wrapped)) < 3 {
		t.Fatalf("found %d revisions of the org's keyset, want one per rotation and the first", len(uniq(wrapped)))
	}
	e.owner.Do(t, "DELETE", "/orgs/"+e.org.ID, map[string]any{"confirm": e.org.Name}).Expect(t, http.StatusNoContent)
	scanForNeedles(t, env, uniq(wrapped))
	// The keys stay destroyed for a fresh process too (no key is made again).
	expectUnreadable(t, env, e.org.ID)
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// wrappedKeysOf returns the organization's current wrapped data keys, base64 as they
// appear in the files, wherever the keyring keeps them: it looks at the last message of
// every subject that names the organization, in every stream.
func wrappedKeysOf(t *testing.T, env *apitest.Env, orgID string) []string {
	t.Helper()
	ctx := context.Background()
	js := env.NATS.Store.JetStream()
	var out []string
	for name := range js.StreamNames(ctx).Name() {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			t.Fatal(err)
		}
		for subject := range info.State.Subjects {
			if !strings.Contains(subject, orgID) {
				continue
			}
			m, err := st.GetLastMsgForSubject(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			var w struct {
				Keyset  []byte `json:"keyset"`
				Wrapped []byte `json:"wrapped"`
			}
			if json.Unmarshal(m.Data, &w) != nil {
				continue
			}
			for _, b := range [][]byte{w.Keyset, w.Wrapped} {
				if len(b) > 0 {
					out = append(out, base64.StdEncoding.EncodeToString(b))
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no wrapped data key found for the organization before its erasure")
	}
	return out
}

// expectUnreadable opens the org's events with the master key, through a fresh keyring
// and a fresh store (no cache of this process's), and expects them to fail.
func expectUnreadable(t *testing.T, env *apitest.Env, orgID string) {
	t.Helper()
	ctx := context.Background()
	master, err := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := eventstore.NewKeyring(ctx, env.NATS.Store.JetStream(), master, 1)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := jetstreamext.GetBatch(ctx, env.NATS.Store.JetStream(), eventstore.StreamName, 10000,
		jetstreamext.GetBatchSubject(eventstore.SubjectPrefix+"."+orgID+".>"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m, err := range msgs {
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal(m.Data, &env); err != nil {
			t.Fatal(err)
		}
		n++
		if _, err := keys.Open(ctx, orgID, env.Payload, nil); !errors.Is(err, eventstore.ErrNoKey) && !errors.Is(err, eventstore.ErrDecrypt) {
			t.Fatalf("opening event %d of the erased org with the master key: %v, want ErrNoKey or ErrDecrypt", m.Sequence, err)
		}
	}
	if n < 5 {
		t.Fatalf("found %d events of the erased org in the log, want them all kept (at least 5)", n)
	}
	fresh, err := eventstore.Open(ctx, env.NATS.Conn, master, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fresh.Load(ctx, eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateOrganization, ID: orgID})
	var erased *eventstore.ErasedError
	if !errors.As(err, &erased) || erased.OrgID != orgID || !errors.Is(err, eventstore.ErrNoKey) {
		t.Fatalf("a fresh store loading the erased org: %v, want ErasedError wrapping ErrNoKey", err)
	}
}

// scanForNeedles reads every file of the embedded NATS server's data dir and a
// pg_dump of the test database, and fails on any needle found.
func scanForNeedles(t *testing.T, env *apitest.Env, needles []string) {
	t.Helper()
	var files strings.Builder
	count := 0
	err := filepath.WalkDir(env.NATS.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // compacted away while walking
		}
		if err != nil {
			return err
		}
		count++
		files.Write(b)
		files.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count == 0 || !strings.Contains(files.String(), "OrganizationErased") {
		t.Fatalf("the NATS data dir dump (%d files) does not look complete", count)
	}
	dump, err := exec.Command(pgDump(t), "--no-owner", env.DatabaseURL).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !strings.Contains(string(dump), "@erase.test") {
		t.Fatal("the pg_dump does not look complete: no user in it")
	}
	for _, n := range needles {
		if strings.Contains(files.String(), n) {
			t.Errorf("found %.40q in the NATS data dir after the erasure", n)
		}
		if strings.Contains(string(dump), n) {
			t.Errorf("found %.40q in pg_dump after the erasure", n)
		}
	}
}

func pgDump(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(matches) == 0 {
		t.Fatal("pg_dump not found")
	}
	return matches[len(matches)-1]
}

// expectNoRows checks every table of every read-model schema for a row of the org.
func expectNoRows(t *testing.T, url, orgID string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.columns
		WHERE column_name = 'org_id' AND table_schema LIKE 'keyledger\_rm\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("found %d read-model tables with org_id, want them all", len(tables))
	}
	for _, tbl := range tables {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+tbl+` WHERE org_id = $1`, orgID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s holds %d rows of the erased org", tbl, n)
		}
	}
}

// countChangeNotices counts the org's notices in the change stream.
func countChangeNotices(t *testing.T, env *apitest.Env, orgID string) int {
	t.Helper()
	msgs, err := jetstreamext.GetBatch(context.Background(), env.NATS.Store.JetStream(), wire.ChangesStream, 10000,
		jetstreamext.GetBatchSubject(wire.ChangesSubjectPrefix+"."+orgID+".>"))
	if errors.Is(err, jetstreamext.ErrNoMessages) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func expectNoChangeNotices(t *testing.T, env *apitest.Env, orgID string) {
	t.Helper()
	if n := countChangeNotices(t, env, orgID); n != 0 {
		t.Fatalf("the change stream still holds %d notices of the erased org", n)
	}
}
