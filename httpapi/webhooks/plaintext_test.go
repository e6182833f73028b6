package webhooks_test

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Nothing a webhook holds that could be secret (its URL with a token, its description,
// its signing secret, the secret names in its deliveries' bodies, the endpoint in an
// error) is readable in any file of the NATS data directory or in the read models.
func TestNothingReadableAtRest(t *testing.T) {
	t.Parallel()
	env := newEnv(t, 0)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	rc := newReceiver(t, func(_ received, n int) int {
		if n == 1 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	hookURL := rc.URL + "/hook?token=URLTOKEN_Zx81q"
	var w createdWebhook
	alice.Do(t, "POST", "/orgs/"+org.ID+"/webhooks", map[string]any{"url": hookURL, "description": "HOOKDESC_77Lm"}).
		Expect(t, http.StatusCreated).JSON(t, &w)
	alice.CreateSecret(t, org.ID, "HOOKED_NAME_Q3V", map[string]string{"production": "HOOKED_VALUE_9k"})
	rc.waitFor(t, "a retried delivery", func(g []received) bool { return len(g) >= 2 })
	deadline := time.Now().Add(time.Minute)
	for {
		ds := deliveries(t, alice, org.ID, w.ID)
		if len(ds) == 1 && ds[0].Status == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %+v", ds)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(string(rc.requests()[0].body), "HOOKED_NAME_Q3V") {
		t.Fatal("the receiver did not get the name: the test checks nothing")
	}

	var files strings.Builder
	err := filepath.WalkDir(env.NATS.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(files.String(), "KEYLEDGER_WEBHOOK_DELIVERIES") {
		t.Fatal("the data directory dump has no delivery bucket: it is not complete")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows strings.Builder
	var schema string
	if err := conn.QueryRow(ctx, `SELECT schema FROM public.keyledger_read_model WHERE id = 1`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	r, err := conn.Query(ctx, `SELECT w::text FROM `+pgx.Identifier{schema, "webhooks"}.Sanitize()+` w`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		rows.WriteString(s)
	}
	if r.Err() != nil || rows.Len() == 0 {
		t.Fatalf("no webhook row read (%v)", r.Err())
	}
	for _, s := range []string{"URLTOKEN_Zx81q", "HOOKDESC_77Lm", "HOOKED_NAME_Q3V", "HOOKED_VALUE_9k", w.SigningSecret, strings.TrimPrefix(w.SigningSecret, "whsec_")} {
		if strings.Contains(files.String(), s) {
			t.Errorf("%q is readable in the NATS data directory", s)
		}
		if strings.Contains(rows.String(), s) {
			t.Errorf("%q is readable in the webhooks table", s)
		}
	}
}
