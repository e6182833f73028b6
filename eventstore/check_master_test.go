package eventstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// A master key that did not seal the installation's keys is told apart at start
// (serve refuses to start on it); the one that did, and a fresh installation, pass.
func TestCheckMasterRefusesAnotherMasterKey(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := eventstoretest.New(t)
	if err := env.Store.Keyring().CheckMaster(ctx); err != nil {
		t.Fatalf("a fresh installation: %v", err)
	}
	if _, err := env.Store.Keyring().Seal(ctx, domain.PlatformScope, []byte("x"), []byte("aad")); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.Keyring().CheckMaster(ctx); err != nil {
		t.Fatalf("the master key that sealed the keys: %v", err)
	}
	other, err := eventstore.ParseMasterKey("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100")
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := eventstore.Open(ctx, env.Conn, other, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := wrong.Keyring().CheckMaster(ctx); !errors.Is(err, eventstore.ErrDecrypt) {
		t.Fatalf("another master key: %v, want ErrDecrypt", err)
	}
}
