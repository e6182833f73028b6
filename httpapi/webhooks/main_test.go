package webhooks_test

import (
	"testing"

	"github.com/keyledger/keyledger/projections/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
