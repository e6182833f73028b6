package httpapi

import (
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
)

// headerSeq carries the stream sequence a command produced.
const headerSeq = "X-Keyledger-Seq"

// waitFor waits, at most WaitTimeout, until the read models reflect seq. A projection
// that lags longer is logged and the request goes on with what the read model has:
// the command itself has already been recorded.
func (s *Server) waitFor(c *fiber.Ctx, seq uint64) {
	if seq == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.waitTimeout)
	defer cancel()
	if err := s.rm.Progress.WaitFor(ctx, seq); err != nil {
		s.log.Warn("projection did not reach the sequence in time", "seq", seq, "err", err)
	}
}

// settle is called after a command succeeded: it names the command's sequence in
// X-Keyledger-Seq, marks a replay of an earlier request's result, and waits (bounded)
// until the read models reflect it, so that a later read shows the change. A command
// that changed nothing has no sequence of its own; the log's head stands in for it
// when the log answers. Nothing here fails: the command is recorded, and its answer
// is a success whatever the read side says.
func (s *Server) settle(c *fiber.Ctx, res commands.Result) {
	if res.Replayed {
		c.Set(headerReplayed, "true")
	}
	seq := res.Seq
	if seq == 0 {
		head, err := s.store.LastSeq(c.UserContext())
		if err != nil {
			s.log.Warn("log head for a command that changed nothing", "err", err)
			return
		}
		seq = head
	}
	c.Set(headerSeq, strconv.FormatUint(seq, 10))
	s.waitFor(c, seq)
}

// refused is called when a command failed: a refusal the command recorded in the log
// is waited for, so the audit trail shows it when the response arrives.
func (s *Server) refused(c *fiber.Ctx, err error) error {
	var audited *commands.AuditedError
	if errors.As(err, &audited) && audited.Seq > 0 {
		s.waitFor(c, audited.Seq)
	}
	return err
}
