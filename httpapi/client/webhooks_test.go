package client_test

import (
	"strings"
	"testing"

	"github.com/keyledger/keyledger/httpapi/client"
)

func TestWebhooks(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, org := acme(t, s)

	_, err := alice.CreateWebhook(ctx, org.ID, client.CreateWebhookRequest{URL: "http://127.0.0.1:9/hook"})
	if !client.IsCode(err, client.CodeValidationFailed) {
		t.Fatalf("a loopback webhook: %v, want validation_failed", err)
	}
	w, err := alice.CreateWebhook(ctx, org.ID, client.CreateWebhookRequest{URL: "https://93.184.215.14/hook", Environments: []string{client.Production}, Description: "ci"})
	if err != nil || !strings.HasPrefix(w.SigningSecret, "whsec_") || w.URL != "https://93.184.215.14/hook" || len(w.Environments) != 1 {
		t.Fatalf("create: %+v, %v", w, err)
	}
	list, err := alice.ListWebhooks(ctx, org.ID)
	if err != nil || len(list) != 1 || list[0].ID != w.ID || list[0].SigningSecret != "" || list[0].Description != "ci" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	ds, err := alice.WebhookDeliveries(ctx, org.ID, w.ID, 10)
	if err != nil || ds == nil {
		t.Fatalf("deliveries: %+v, %v", ds, err)
	}
	if _, err := alice.RedeliverWebhook(ctx, org.ID, w.ID, "00000000-0000-4000-8000-000000000000"); !client.IsCode(err, client.CodeNotFound) {
		t.Fatalf("redeliver a missing delivery: %v", err)
	}
	if err := alice.DeleteWebhook(ctx, org.ID, w.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := alice.ListWebhooks(ctx, org.ID); err != nil || len(list) != 0 {
		t.Fatalf("after delete: %+v, %v", list, err)
	}
}
