package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnavailable means the read models' database could not be reached, or did not
// answer in time: PostgreSQL down, restarting, refusing connections, or frozen. It is
// not "no rows", and not a fault of the request: the API answers it 503 with
// Retry-After, and the same request may succeed later. A read that failed so reports
// it wrapped around the database's own error.
var ErrUnavailable = errors.New("projections: the read models' database is unavailable")

// readTimeout bounds a read of the API (a grid page, a secret, a member list): every
// round trip of its transaction, on the connection it took. PostgreSQL answers these
// in milliseconds; one that has not answered in this time is stopped or frozen (a
// SIGSTOPped server, a network that drops packets silently, a pool whose every
// connection waits on such a server), and the request is answered 503 instead of
// hanging as long as the client waits. Long reads by design (the values fetch, the
// audit export and verification) take their own context's bound, and connecting is
// bounded by connectTimeout for all.
const readTimeout = 15 * time.Second

// connectTimeout bounds each new connection to PostgreSQL (the TCP connection, TLS and
// authentication) unless the database URL sets connect_timeout: a server that accepts
// connections and then says nothing (frozen, or its host paging) otherwise held a
// start-up, or a pool's new connection, forever.
const connectTimeout = 10 * time.Second

// readErr is err, wrapped in ErrUnavailable when it says that PostgreSQL could not be
// reached or did not answer in time: a connection that failed or broke, a deadline
// that passed (a bounded read's, or a context's), and PostgreSQL's answers that it is
// shutting down, starting, or out of connections. Anything else (a query's error, a
// decoding failure, the caller's cancellation) is left as it is.
func readErr(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !unreachable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// unreachable says whether err is a failure to reach PostgreSQL or to hear from it.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: admin or crash shutdown, cannot
		// connect now (starting up, or in recovery); 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	// SafeToRetry: failed before anything was sent, as on a connection the server (or
	// the network) closed under a pooled connection ("conn closed").
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed)
}
