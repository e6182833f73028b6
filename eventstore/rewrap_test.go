package eventstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// keys rotate: after Rewrap only the new master key opens the data keys, and what was
// sealed before opens unchanged with it.
func TestRewrapMovesDataKeysToANewMasterKey(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	ref := eventstore.ValueRef{OrgID: "o1", SecretID: "s1", Env: domain.Production, ValueVersion: 1}
	sealed, err := env.Store.Keyring().SealValue(ctx, ref, domain.NewPlaintext("before-rotation"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := eventstore.ParseMasterKey("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100")
	if err != nil {
		t.Fatal(err)
	}
	n, err := env.Store.Keyring().Rewrap(ctx, next)
	if err != nil || n < 1 {
		t.Fatalf("rewrapped %d: %v", n, err)
	}
	again, err := env.Store.Keyring().Rewrap(ctx, next)
	if err != nil || again != 0 {
		t.Fatalf("second rewrap: %d %v", again, err)
	}
	withNew, err := eventstore.NewKeyring(ctx, env.Store.JetStream(), next, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := withNew.OpenValue(ctx, ref, sealed)
	if err != nil || got.Reveal() != "before-rotation" {
		t.Fatalf("open with the new master key: %v", err)
	}
	old, _ := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	withOld, err := eventstore.NewKeyring(ctx, env.Store.JetStream(), old, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withOld.OpenValue(ctx, ref, sealed); !errors.Is(err, eventstore.ErrDecrypt) {
		t.Fatalf("open with the old master key: %v, want ErrDecrypt", err)
	}
}
