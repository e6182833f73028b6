package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvDatabaseURL names the environment variable with the URL of a PostgreSQL
// server the tests may use instead of starting their own.
const EnvDatabaseURL = "KEYLEDGER_TEST_DATABASE_URL"

// startTimeout bounds finding and starting the server, image pulls included.
const startTimeout = 5 * time.Minute

// createTimeout bounds creating or dropping one database.
const createTimeout = time.Minute

// binary is the one piece of package state: every test in a test binary
// shares one server, and NewDatabase(tb) has nowhere else to find it. Main
// opens and closes it around the tests.
var binary suite

// suite is the server a test binary shares, started on first use.
type suite struct {
	mu      sync.Mutex
	inMain  bool
	started bool
	srv     *server
	err     error
	logger  *slog.Logger
}

// Main runs a package's tests and then stops the PostgreSQL server they used,
// whatever the outcome, and exits with the tests' code. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	binary.begin(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	code := m.Run()
	if err := binary.end(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stopping the test PostgreSQL server: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// NewDatabase creates a database no other test uses and returns its URL. The
// database is dropped, with any connections still open to it, when tb ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout)
	defer cancel()
	srv, err := binary.server(ctx)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	name := databaseName(tb.Name())
	start := time.Now()
	dbURL, err := srv.createDatabase(ctx, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Logf("pgtest: database %s created in %v", name, time.Since(start).Round(time.Millisecond))
	tb.Cleanup(func() {
		// tb.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
		defer cancel()
		if err := srv.dropDatabase(ctx, name); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return dbURL
}

func (s *suite) begin(logger *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inMain, s.started, s.srv, s.err, s.logger = true, false, nil, nil, logger
}

// server returns the shared server, starting it on first use. Callers wait
// for a start in progress; a failed start is reported to every caller rather
// than retried by each.
func (s *suite) server(ctx context.Context) (*server, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inMain {
		return nil, fmt.Errorf("NewDatabase needs the package's TestMain to call pgtest.Main(m), " +
			"which stops the PostgreSQL server after the tests")
	}
	if !s.started {
		s.started = true
		// The server outlives the test that happens to start it.
		startCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
		defer cancel()
		s.srv, s.err = startServer(startCtx, s.logger)
	}
	return s.srv, s.err
}

func (s *suite) end() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inMain = false
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.srv.close(ctx)
	s.srv = nil
	return err
}

// databaseName is a valid, unique PostgreSQL identifier that still tells
// which test made it, for whoever looks at a shared server: the start and the
// end of the test's name (the subtest part is at the end) and a random suffix.
func databaseName(testName string) string {
	var clean strings.Builder
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			clean.WriteRune(r)
		} else {
			clean.WriteByte('_')
		}
	}
	name := clean.String()
	const keep = 20 // each from the start and the end; identifiers stop at 63 bytes
	if len(name) > 2*keep {
		name = name[:keep] + "_" + name[len(name)-keep:]
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix) // crypto/rand.Read never returns an error
	return "kltest_" + name + "_" + hex.EncodeToString(suffix)
}
