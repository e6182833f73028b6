package eventstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// TestAcknowledgedAppendsSurviveKill9 runs an appender in a child process, kills it
// with SIGKILL in the middle of a stream of appends, and checks that every append it
// had acknowledged is in the log when the embedded server starts again on its files.
func TestAcknowledgedAppendsSurviveKill9(t *testing.T) {
	if os.Getenv("KEYLEDGER_APPENDER_DIR") != "" {
		t.Skip("this is the child's run")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAppenderChild$", "-test.v")
	cmd.Env = append(os.Environ(), "KEYLEDGER_APPENDER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if seq, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
			n, _ := strconv.ParseUint(seq, 10, 64)
			acked[n] = true
			if len(acked) == 200 {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
	}
	_ = cmd.Wait()
	if len(acked) < 200 {
		t.Fatalf("the child acknowledged only %d appends", len(acked))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect("check")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	key, _ := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	s, err := eventstore.Open(ctx, nc, key, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.LoadScope(ctx, "11111111-1111-1111-1111-111111111111", 0)
	if err != nil {
		t.Fatal(err)
	}
	have := map[uint64]bool{}
	for _, e := range events {
		have[e.Seq] = true
	}
	for seq := range acked {
		if !have[seq] {
			t.Errorf("acknowledged append %d is lost", seq)
		}
	}
}

// TestAppenderChild is the child of TestAcknowledgedAppendsSurviveKill9.
func TestAppenderChild(t *testing.T) {
	dir := os.Getenv("KEYLEDGER_APPENDER_DIR")
	if dir == "" {
		t.Skip("run only as the child of TestAcknowledgedAppendsSurviveKill9")
	}
	ctx := context.Background()
	srv, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect("appender")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	s, err := eventstore.Open(ctx, nc, key, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		r, err := s.Append(ctx, eventstore.Pending{Aggregate: secretAgg(fmt.Sprintf("77777777-7777-7777-7777-%012d", i)), Position: 1, Events: []domain.Event{created(fmt.Sprint("K", i))}})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("ACK %d\n", r.Seq())
	}
}
