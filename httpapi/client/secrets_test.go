package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

func ptr[T any](v T) *T { return &v }

// A value that is not UTF-8 is refused before anything is sent: JSON would carry each
// such byte as U+FFFD, and the server would store that.
func TestValuesThatAreNotTextAreNotSent(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, _ := s.signUp(t, "alice@example.com", "Alice")
	org, err := alice.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	bad := "sk_\xff\xfe"
	if _, err := alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: "BLOB", Values: map[string]string{client.Production: bad}}); !errors.Is(err, client.ErrNotText) {
		t.Fatalf("create: %v, want ErrNotText", err)
	}
	// Nothing was created: the name is free.
	sec, err := alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: "BLOB", Values: map[string]string{client.Production: "text"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.UpdateSecret(ctx, org.ID, sec.ID, client.UpdateSecretRequest{Values: map[string]*string{client.Production: &bad}}); !errors.Is(err, client.ErrNotText) || strings.Contains(err.Error(), "sk_") {
		t.Fatalf("update: %v, want ErrNotText without the value", err)
	}
	// So is any other text the client sends: a description, say.
	if _, err := alice.UpdateSecret(ctx, org.ID, sec.ID, client.UpdateSecretRequest{Description: &bad}); !errors.Is(err, client.ErrNotText) {
		t.Fatalf("description: %v, want ErrNotText", err)
	}
	got, err := alice.RevealSecret(ctx, org.ID, sec.ID, client.Production)
	if err != nil || got.Value != "text" || got.Version != 1 {
		t.Fatalf("after the refused update: %+v %v", got, err)
	}
}

func TestSecretLifecycle(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, aliceUser := s.signUp(t, "alice@example.com", "Alice")
	org, err := alice.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}

	live := "sk_live_0123456789abcdefghijklmnopqrstuvwxyzRgA1"
	var seq uint64
	sec, err := alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{
		Name: "stripe_key", Description: "Stripe", Values: map[string]string{client.Production: live, client.Development: "dev-value"},
	}, client.Seq(&seq))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if sec.Name != "STRIPE_KEY" || sec.Version != 1 || sec.Owner.ID != aliceUser.ID || seq == 0 ||
		!sec.Environments.Production.Set || sec.Environments.Production.Mask != "sk_live_***RgA1" ||
		sec.Environments.Staging.Set || !sec.Permissions.Reveal || !sec.Permissions.Modify {
		t.Fatalf("created %+v (seq %d)", sec, seq)
	}
	if sec.Environments.Env(client.Development).Version != 1 || sec.Environments.Env("nope").Set {
		t.Errorf("Environments.Env misreads %+v", sec.Environments)
	}
	_, err = alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: "STRIPE_KEY"})
	e := wantProblem(t, err, http.StatusConflict, client.CodeSecretNameTaken)
	if e.Detail != `A secret named "STRIPE_KEY" already exists in this organization.` {
		t.Errorf("detail %q", e.Detail)
	}

	got, err := alice.GetSecret(ctx, org.ID, sec.ID, client.MinSeq(seq))
	if err != nil || got.ID != sec.ID || got.Description != "Stripe" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	rev, err := alice.RevealSecret(ctx, org.ID, sec.ID, client.Production)
	if err != nil || rev.Value != live || rev.Env != client.Production || rev.Version != 1 || rev.HideAfterSeconds != 30 {
		t.Fatalf("reveal: %+v, %v", rev.Env, err)
	}
	_, err = alice.RevealSecret(ctx, org.ID, sec.ID, client.Staging)
	wantProblem(t, err, http.StatusNotFound, client.CodeNotFound)

	// A string sets a value, nil removes one, a missing environment stays.
	upd, err := alice.UpdateSecret(ctx, org.ID, sec.ID, client.UpdateSecretRequest{
		Description: ptr("Stripe live key"),
		Values:      map[string]*string{client.Staging: ptr("stg-value"), client.Development: nil},
	})
	if err != nil || upd.Version != 2 || upd.Description != "Stripe live key" || !upd.Environments.Staging.Set ||
		upd.Environments.Development.Set || !upd.Environments.Production.Set {
		t.Fatalf("update: %+v, %v", upd, err)
	}
	_, err = alice.UpdateSecret(ctx, org.ID, sec.ID, client.UpdateSecretRequest{
		Values: map[string]*string{client.Staging: ptr("again")}, ExpectedVersion: ptr(1),
	})
	wantProblem(t, err, http.StatusConflict, client.CodeVersionConflict)
	upd, err = alice.UpdateSecret(ctx, org.ID, sec.ID, client.UpdateSecretRequest{
		Values: map[string]*string{client.Staging: ptr("stg-value-2")}, ExpectedVersion: ptr(2),
	})
	if err != nil || upd.Version != 3 || upd.Environments.Staging.Version != 2 {
		t.Fatalf("update with expected_version: %+v, %v", upd, err)
	}

	versions, err := alice.SecretVersions(ctx, org.ID, sec.ID, client.Staging)
	// Staging got its first value from an update of the secret.
	if err != nil || len(versions) != 2 || versions[0].Version != 2 || versions[0].Action != client.ActionUpdated ||
		versions[1].Version != 1 || versions[0].Actor.ID != aliceUser.ID || versions[0].At.IsZero() || versions[0].Mask != "***" {
		t.Fatalf("staging versions: %+v, %v", versions, err)
	}
	all, err := alice.SecretVersions(ctx, org.ID, sec.ID, "")
	if err != nil || len(all) != 5 || all[len(all)-1].Action != client.ActionCreated {
		t.Fatalf("all versions: %d, %v", len(all), err)
	}
	rolled, err := alice.RollbackSecret(ctx, org.ID, sec.ID, client.Staging, 1)
	if err != nil || rolled.Environments.Staging.Version != 3 {
		t.Fatalf("rollback: %+v, %v", rolled, err)
	}
	rev, err = alice.RevealSecret(ctx, org.ID, sec.ID, client.Staging)
	if err != nil || rev.Value != "stg-value" || rev.Version != 3 {
		t.Fatalf("reveal after rollback: version %d, %v", rev.Version, err)
	}

	if err := alice.DeleteSecret(ctx, org.ID, sec.ID, client.Production); err != nil {
		t.Fatalf("delete production: %v", err)
	}
	got, err = alice.GetSecret(ctx, org.ID, sec.ID)
	if err != nil || got.Environments.Production.Set || !got.Environments.Staging.Set {
		t.Fatalf("after deleting production: %+v, %v", got, err)
	}
	if err := alice.DeleteSecret(ctx, org.ID, sec.ID, ""); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = alice.GetSecret(ctx, org.ID, sec.ID)
	wantProblem(t, err, http.StatusNotFound, client.CodeNotFound)
	if _, err := alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: "STRIPE_KEY"}); err != nil {
		t.Fatalf("the name is not free again: %v", err)
	}
}

func TestListSecrets(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, _ := s.signUp(t, "alice@example.com", "Alice")
	org, err := alice.CreateOrg(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		values := map[string]string{client.Development: fmt.Sprintf("value-%d", i)}
		if i%2 == 0 {
			values[client.Production] = "prod"
		}
		if _, err := alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: fmt.Sprintf("KEY_%d", i), Values: values}); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	time.Sleep(10 * time.Millisecond)
	if _, err := alice.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: "LATER"}); err != nil {
		t.Fatal(err)
	}

	page, err := alice.ListSecrets(ctx, org.ID, client.SecretFilter{Limit: 3})
	if err != nil || len(page.Items) != 3 || page.NextCursor == "" || page.Items[0].Name != "KEY_0" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	var names []string
	for sec, err := range alice.AllSecrets(ctx, org.ID, client.SecretFilter{Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, sec.Name)
	}
	if len(names) != 8 || names[0] != "KEY_0" || names[7] != "LATER" {
		t.Fatalf("all names %v", names)
	}
	page, err = alice.ListSecrets(ctx, org.ID, client.SecretFilter{Env: client.Production})
	if err != nil || len(page.Items) != 4 || page.NextCursor != "" {
		t.Fatalf("production: %d items, %v", len(page.Items), err)
	}
	page, err = alice.ListSecrets(ctx, org.ID, client.SecretFilter{Q: "key_1"})
	if err != nil || len(page.Items) != 1 || page.Items[0].Name != "KEY_1" {
		t.Fatalf("q: %+v, %v", page.Items, err)
	}
	page, err = alice.ListSecrets(ctx, org.ID, client.SecretFilter{AsOf: before})
	if err != nil || len(page.Items) != 7 {
		t.Fatalf("as_of: %d items, %v", len(page.Items), err)
	}
	_, err = alice.ListSecrets(ctx, org.ID, client.SecretFilter{Limit: 5000})
	wantProblem(t, err, http.StatusBadRequest, client.CodeInvalidRequest)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, _ := s.signUp(t, "alice@example.com", "Alice")
	org, err := alice.CreateOrg(ctx, "Acme", client.IdempotencyKey("org-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := alice.CreateOrg(ctx, "Acme", client.IdempotencyKey("org-1"))
	if err != nil || again.ID != org.ID {
		t.Fatalf("replayed create: %+v, %v (first %s)", again, err, org.ID)
	}
	req := client.CreateSecretRequest{Name: "TOKEN", Values: map[string]string{client.Staging: "v"}}
	first, err := alice.CreateSecret(ctx, org.ID, req, client.IdempotencyKey("secret-1"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := alice.CreateSecret(ctx, org.ID, req, client.IdempotencyKey("secret-1"))
	if err != nil || second.ID != first.ID || second.Version != 1 {
		t.Fatalf("replayed secret: %+v, %v", second, err)
	}
	_, err = alice.CreateSecret(ctx, org.ID, req, client.IdempotencyKey("secret-2"))
	wantProblem(t, err, http.StatusConflict, client.CodeSecretNameTaken)
	orgs, err := alice.ListOrgs(ctx)
	if err != nil || len(orgs) != 1 {
		t.Fatalf("orgs after a replay: %+v, %v", orgs, err)
	}
}
