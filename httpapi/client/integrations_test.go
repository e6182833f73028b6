package client_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

// skipIfMissing skips the test when the server answers 404 for an endpoint the caller
// must reach (an owner on its own organization): the endpoint is not built yet.
func skipIfMissing(t *testing.T, err error, endpoint string) {
	t.Helper()
	if client.IsCode(err, client.CodeNotFound) {
		t.Skipf("the server has no %s endpoint yet (404 for an org owner)", endpoint)
	}
}

// acme is an organization owned by alice with two secrets.
func acme(t *testing.T, s server) (*client.Client, client.Org) {
	t.Helper()
	ctx := testContext(t)
	alice, _ := s.signUp(t, "alice@example.com", "Alice")
	org, err := alice.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range map[string]map[string]string{
		"DATABASE_URL": {client.Production: "postgres://prod", client.Staging: "postgres://stg"},
		"MULTI_LINE":   {client.Production: "a\n'b' \"c\" $d #e"},
	} {
		if _, err := alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: name, Values: values}); err != nil {
			t.Fatal(err)
		}
	}
	return alice, org
}

func TestServiceTokensAndValues(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, org := acme(t, s)

	own, err := alice.Values(ctx, org.ID, client.Production)
	skipIfMissing(t, err, "values")
	if err != nil || len(own.Values) != 2 || own.Values["MULTI_LINE"] != "a\n'b' \"c\" $d #e" || own.Seq == 0 {
		t.Fatalf("values as the owner: %d values, seq %d, %v", len(own.Values), own.Seq, err)
	}

	issued, err := alice.CreateServiceToken(ctx, org.ID, client.CreateServiceTokenRequest{Name: "deploy", Environments: []string{client.Production}})
	skipIfMissing(t, err, "service-tokens")
	if err != nil || !strings.HasPrefix(issued.Token, "kl_st_") {
		t.Fatalf("create service token: %+v, %v", issued.ID, err)
	}
	list, err := alice.ListServiceTokens(ctx, org.ID)
	if err != nil || len(list) != 1 || list[0].ID != issued.ID || list[0].Name != "deploy" ||
		len(list[0].Environments) != 1 || list[0].Environments[0] != client.Production {
		t.Fatalf("list service tokens: %+v, %v", list, err)
	}
	svc := mustClient(t, s.env.BaseURL, client.WithToken(issued.Token))
	vals, err := svc.Values(ctx, org.ID, client.Production)
	if err != nil || vals.Values["DATABASE_URL"] != "postgres://prod" {
		t.Fatalf("values with the service token: %v", err)
	}
	_, err = svc.Values(ctx, org.ID, client.Staging)
	wantProblem(t, err, http.StatusForbidden, client.CodeForbidden)
	self, err := svc.CurrentServiceToken(ctx)
	if err != nil || self.ID != issued.ID || self.OrgID != org.ID || self.OrgName != "Acme" || self.Name != "deploy" ||
		len(self.Environments) != 1 || self.Environments[0] != client.Production {
		t.Fatalf("the service token asks who it is: %+v, %v", self, err)
	}
	if _, err := alice.CurrentServiceToken(ctx); err == nil {
		t.Fatal("CurrentServiceToken with a user's session: no error")
	}
	if err := alice.RevokeServiceToken(ctx, org.ID, issued.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	_, err = svc.Values(ctx, org.ID, client.Production)
	wantProblem(t, err, http.StatusUnauthorized, client.CodeUnauthenticated)
	_, err = svc.CurrentServiceToken(ctx)
	wantProblem(t, err, http.StatusUnauthorized, client.CodeUnauthenticated)
}

func TestChanges(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, org := acme(t, s)

	// From the start: the three values acme set, in order.
	all, err := alice.Changes(ctx, org.ID, 0)
	skipIfMissing(t, err, "changes")
	if err != nil {
		t.Fatalf("changes: %v", err)
	}
	defer all.Close()
	var history []client.Notice
	for len(history) < 3 {
		history = append(history, nextNotice(t, all))
	}
	// One event (a secret created with two values) makes one notice per environment,
	// all with the event's sequence.
	if history[0].Seq > history[1].Seq || history[1].Seq > history[2].Seq || history[0].Seq == history[2].Seq || history[0].OrgID != org.ID {
		t.Fatalf("history %+v", history)
	}
	all.Close()

	// Resumed after the last of them: only what comes next.
	stream, err := alice.Changes(ctx, org.ID, history[2].Seq)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	defer stream.Close()
	sec, err := alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: "NEW_ONE", Values: map[string]string{client.Staging: "v"}})
	if err != nil {
		t.Fatal(err)
	}
	n := nextNotice(t, stream)
	if n.SecretID != sec.ID || n.Name != "NEW_ONE" || n.Env != client.Staging || n.NewVersion != 1 || n.Seq <= history[2].Seq {
		t.Fatalf("notice %+v", n)
	}
	stream.Close()
	if _, ok := <-stream.Notices(); ok || stream.Err() != nil {
		t.Fatalf("after Close: open channel or error %v", stream.Err())
	}

	_, err = s.anon.Changes(ctx, org.ID, 0)
	wantProblem(t, err, http.StatusUnauthorized, client.CodeUnauthenticated)
}

func TestAudit(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, org := acme(t, s)

	page, err := alice.ListAudit(ctx, org.ID, client.AuditFilter{Action: "secret.created", Limit: 1})
	skipIfMissing(t, err, "audit")
	if err != nil || len(page.Items) != 1 || page.Items[0].Action != "secret.created" || page.Items[0].Outcome != "success" ||
		page.Items[0].Actor.Email != "alice@example.com" || page.NextCursor == "" {
		t.Fatalf("audit page: %+v, %v", page, err)
	}
	n := 0
	for e, err := range alice.AllAudit(ctx, org.ID, client.AuditFilter{Action: "secret.created", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.UserAgent != "client-test" {
			t.Errorf("user agent %q", e.UserAgent)
		}
		n++
	}
	// One entry per environment that got a value: two for DATABASE_URL, one for MULTI_LINE.
	if n != 3 {
		t.Fatalf("%d secret.created entries, want 3", n)
	}
	for _, format := range []string{client.ExportJSONL, client.ExportCSV} {
		rc, err := alice.ExportAudit(ctx, org.ID, format, client.AuditFilter{})
		if err != nil {
			t.Fatalf("export %s: %v", format, err)
		}
		lines := readLines(t, rc)
		switch format {
		case client.ExportCSV:
			if len(lines) < 3 || lines[0] != "seq,at,action,outcome,actor_email,secret_id,secret_name,env,ip,user_agent" {
				t.Fatalf("csv %q", lines)
			}
		case client.ExportJSONL:
			var e client.AuditEntry
			if len(lines) < 2 || json.Unmarshal([]byte(lines[0]), &e) != nil || e.Action == "" {
				t.Fatalf("jsonl %q", lines)
			}
		}
	}
	v, err := alice.VerifyAudit(ctx, org.ID)
	if err != nil || !v.OK || v.Checked == 0 || v.Head == "" {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	_, err = alice.ListAudit(context.Background(), "00000000-0000-0000-0000-000000000000", client.AuditFilter{})
	wantProblem(t, err, http.StatusNotFound, client.CodeNotFound)
}

func nextNotice(t *testing.T, s *client.ChangeStream) client.Notice {
	t.Helper()
	select {
	case n, ok := <-s.Notices():
		if !ok {
			t.Fatalf("the stream ended: %v", s.Err())
		}
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notice within 10 s")
	}
	return client.Notice{}
}

func readLines(t *testing.T, rc io.ReadCloser) []string {
	t.Helper()
	defer rc.Close()
	var out []string
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A member removed while following the feed: the server ends the stream, and the
// client's reconnection is refused, so the stream ends with that refusal.
func TestChangesEndWhenTheMemberIsRemoved(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, org := acme(t, s)
	bob, bobUser := s.signUp(t, "bob@example.com", "Bob")
	if _, err := alice.AddMember(ctx, org.ID, "bob@example.com", "viewer"); err != nil {
		t.Fatal(err)
	}
	stream, err := bob.Changes(ctx, org.ID, client.FromNow)
	skipIfMissing(t, err, "changes")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if err := alice.RemoveMember(ctx, org.ID, bobUser.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-stream.Notices():
			if ok {
				continue
			}
			wantProblem(t, stream.Err(), http.StatusNotFound, client.CodeNotFound)
			return
		case <-deadline:
			t.Fatal("the removed member's stream is still open")
		}
	}
}
