package embedded_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

func TestEmbeddedServerLocksItsDirectory(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	_, err := embedded.StartEmbedded(context.Background(), embedded.EmbeddedOptions{Dir: env.Dir})
	if !errors.Is(err, embedded.ErrDirLocked) {
		t.Fatalf("second server on the same dir: %v, want ErrDirLocked", err)
	}
	// The refusal names the process in the way (this one).
	if !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("refusal %q does not name the holder %d", err, os.Getpid())
	}
}

// A server that stops releases its directory: the next one starts there, and a client
// of it gets JetStream.
func TestEmbeddedServerRestartsOnItsDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	first, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	first.Shutdown()
	second, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: dir})
	if err != nil {
		t.Fatalf("start after a clean stop: %v", err)
	}
	defer second.Shutdown()
	nc, err := second.Connect("t")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if js, _ := nc.ConnectedServerJetStream(); !js {
		t.Fatal("the embedded server offers no JetStream")
	}
}
