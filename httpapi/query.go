package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/domain"
)

// The readers of query parameters that several routes share. checkQuery (middleware.go)
// has already refused a parameter given twice or that is not text.

// queryEnv reads ?env=: the environment, and whether the request gave one. An empty
// env reads as none, as a filter left blank does, unless emptyIsBad: a DELETE, for
// which none means the whole secret, refuses it. Any other value that is not an
// environment is invalid_request.
func queryEnv(c *fiber.Ctx, emptyIsBad bool) (env domain.Environment, given bool, err error) {
	raw := c.Query("env")
	if raw == "" && !(emptyIsBad && c.Context().QueryArgs().Has("env")) {
		return "", false, nil
	}
	if env, err = domain.ParseEnvironment(raw); err != nil {
		return "", false, errInvalidRequest("env must be one of development, staging, production.")
	}
	return env, true, nil
}

// queryTime reads the time parameter name (RFC 3339). An instant before 1970 reads as
// 1970-01-01T00:00:00Z, which selects the same (nothing Keyledger records is older):
// the read models take the zero time.Time for "no bound", and year 1's first instant,
// which RFC 3339 can write, read as none at all (to=0001-01-01T00:00:00Z listed the
// whole trail, as_of= of it the grid as it is now).
func queryTime(name, raw string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, errInvalidRequest(name + " must be an RFC 3339 time.")
	}
	if epoch := time.Unix(0, 0); t.Before(epoch) {
		return epoch.UTC(), nil
	}
	return t, nil
}

// pastTheLog refuses (invalid_request) a sequence a request names as name that is past
// the log's last event: no event has it, and waiting for it would wait in silence (a
// change feed resumed from it, a read at min_seq of it). hint says what to do instead.
func (s *Server) pastTheLog(ctx context.Context, name string, seq uint64, hint string) error {
	head, err := s.store.LastSeq(ctx)
	if err != nil {
		return err
	}
	if seq > head {
		return errInvalidRequest(fmt.Sprintf("%s %d is past the log's last event (%d): %s", name, seq, head, hint))
	}
	return nil
}
