package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

// serve with a tiny KEYLEDGER_DATA_KEY_MAX_ENCRYPTIONS rotates an organization's data
// key by itself as secrets are written: the keys list grows, exactly one version is
// active, and every value written under an older version still reveals.
func TestServeRotatesTheDataKeyPastTheLimit(t *testing.T) {
	t.Parallel()
	base := startServe(t, map[string]string{"KEYLEDGER_DATA_KEY_MAX_ENCRYPTIONS": "10"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	anon, err := client.New(base)
	if err != nil {
		t.Fatal(err)
	}
	login, err := anon.Login(ctx, "admin@example.com", "tall-lamp-seven-oaks")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(base, client.WithToken(login.Token))
	if err != nil {
		t.Fatal(err)
	}
	org, err := c.CreateOrg(ctx, "Limits")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i := range 8 {
		name, value := fmt.Sprintf("KEY_%d", i), fmt.Sprintf("value-%d", i)
		s, err := c.CreateSecret(ctx, org.ID, client.CreateSecretRequest{Name: name, Values: map[string]string{"production": value}})
		if err != nil {
			t.Fatal(err)
		}
		ids[value] = s.ID
	}
	keys, err := c.ListDataKeys(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for i, k := range keys {
		if k.Version != i+1 {
			t.Fatalf("versions out of order: %+v", keys)
		}
		if k.State == "active" {
			active++
		}
	}
	// Eight secrets take well over ten seals (event, value, read-model name and
	// description, change notice): at least two rotations.
	if len(keys) < 3 || active != 1 || keys[len(keys)-1].State != "active" {
		t.Fatalf("keys after 8 secrets with a limit of 10: %+v", keys)
	}
	for value, id := range ids {
		got, err := c.RevealSecret(ctx, org.ID, id, "production")
		if err != nil || got.Value != value {
			t.Fatalf("reveal %s: %q %v", value, got.Value, err)
		}
	}
}
