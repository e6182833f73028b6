package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/projections/pgtest"
)

// TestReplayAndAuditVerifySayTheOrgWasErased: after an erasure, `keyledger replay` and
// `keyledger audit verify` on the org say that it was erased and at which sequence,
// instead of failing on its events, which no longer open; another org still replays.
func TestReplayAndAuditVerifySayTheOrgWasErased(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, dbURL := t.TempDir(), pgtest.NewDatabase(t)
	c := &config{Dev: true, DataDir: dir, DatabaseURL: dbURL, MasterKey: eventstoretest.TestMasterKey, LogLevel: "error", changesMaxAge: "7d", Replicas: 1,
		DataKeyMaxEncryptions: eventstore.DefaultDataKeyMaxEncryptions, webhookTimeout: "10s"}
	if err := c.finish(); err != nil {
		t.Fatal(err)
	}
	p, err := openLog(ctx, c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	user, err := p.handlers.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "cli-erase@example.com", Name: "Cli", Password: domain.NewPlaintext("correct horse battery staple")})
	if err != nil {
		t.Fatal(err)
	}
	m := commands.Meta{UserID: user.ID}
	var orgs []string
	for _, name := range []string{"Erased Co", "Kept Co"} {
		o, err := p.handlers.CreateOrganization.Handle(ctx, m, commands.CreateOrganization{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.handlers.CreateSecret.Handle(ctx, m, commands.CreateSecret{OrgID: o.ID, Name: "CLI_SECRET",
			Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("cli-value")}}); err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o.ID)
	}
	erased, err := p.handlers.EraseOrganization.Handle(ctx, m, commands.EraseOrganization{OrgID: orgs[0], Confirm: "Erased Co"})
	if err != nil {
		t.Fatal(err)
	}
	p.close()

	flags := []string{"--dev", "--data-dir", dir, "--database-url", dbURL, "--master-key", eventstoretest.TestMasterKey, "--log-level", "error"}
	for _, cmd := range [][]string{{"replay"}, {"audit", "verify"}} {
		res := runLine(t, nil, append(append(cmd, flags...), "--org", orgs[0])...)
		if res.err != nil {
			t.Fatalf("keyledger %s on the erased org: %v\nstderr %s", cmd, res.err, res.stderr)
		}
		var out erasedOrg
		if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
			t.Fatalf("keyledger %s: %v in %q", cmd, err, res.stdout)
		}
		if !out.Erased || out.OrgID != orgs[0] || out.Seq != erased.Seq || out.By != user.ID ||
			!strings.Contains(res.stderr, "erased (crypto-shredded) at sequence "+strconv.FormatUint(erased.Seq, 10)) {
			t.Fatalf("keyledger %s on the erased org: stdout %s stderr %s, want erased at %d", cmd, res.stdout, res.stderr, erased.Seq)
		}
	}
	res := runLine(t, nil, append([]string{"replay"}, append(flags, "--org", orgs[1])...)...)
	if res.err != nil || !strings.Contains(res.stdout, "CLI_SECRET") || strings.Contains(res.stdout, `"erased"`) {
		t.Fatalf("replay of the org that was kept: %v\nstdout %s\nstderr %s", res.err, res.stdout, res.stderr)
	}
}
