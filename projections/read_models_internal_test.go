package projections

import (
	"context"
	"testing"

	"github.com/keyledger/keyledger/projections/pgtest"
)

// openTestReadModels opens read models on a fresh database, without a keyring, closed
// when the test ends.
func openTestReadModels(t *testing.T) *ReadModels {
	t.Helper()
	rm, err := Open(context.Background(), pgtest.NewDatabase(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rm.Close)
	return rm
}
