package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// auditExportTimeout bounds one export stream.
const auditExportTimeout = 30 * time.Minute

func auditItemOut(e projections.AuditEntry) wire.AuditItem {
	return wire.AuditItem{
		ID: e.ID(), Seq: e.Seq, At: e.At.UTC(), Action: e.Action, Outcome: e.Outcome,
		Actor:    wire.Actor{ID: e.ActorID, Email: e.ActorEmail},
		SecretID: optional(e.SecretID), SecretName: optional(e.SecretName), Env: optional(e.Env),
		IP: e.IP, UserAgent: e.UserAgent, Details: e.Details, Names: e.Names,
	}
}

// auditFilter reads the trail's query parameters; a bad one is invalid_request.
func auditFilter(c *fiber.Ctx) (projections.AuditFilter, error) {
	f := projections.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action"), SecretID: c.Query("secret_id"), Cursor: c.Query("cursor")}
	env, _, err := queryEnv(c, false)
	if err != nil {
		return f, err
	}
	f.Env = env
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if raw := c.Query(name); raw != "" {
			t, err := queryTime(name, raw)
			if err != nil {
				return f, err
			}
			*dst = t
		}
	}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > projections.MaxLimit {
			return f, errInvalidRequest("limit must be an integer from 1 to 1000.")
		}
		f.Limit = n
	}
	return f, nil
}

// badQuery turns the read model's validation of a query parameter (the audit trail's
// filter, the access review's secret_id) into invalid_request: a query parameter is
// not a body field.
func badQuery(err error) error {
	var de *domain.Error
	if errors.As(err, &de) && de.Code == domain.CodeValidation && len(de.Fields) > 0 {
		return errInvalidRequest(de.Fields[0].Field + " " + de.Fields[0].Message + ".")
	}
	return err
}

func (s *Server) listAudit(c *fiber.Ctx) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	org, err := s.manager(c)
	if err != nil {
		return err
	}
	entries, next, err := s.rm.Audit.ListAudit(c.UserContext(), org.ID, f)
	if err != nil {
		return badQuery(err)
	}
	items := make([]wire.AuditItem, 0, len(entries))
	for _, e := range entries {
		items = append(items, auditItemOut(e))
	}
	return c.JSON(wire.Page[wire.AuditItem]{Items: items, NextCursor: next}.Encodable())
}

// csvHeader is the export's header row, as API.md fixes it.
var csvHeader = []string{"seq", "at", "action", "outcome", "actor_email", "secret_id", "secret_name", "env", "ip", "user_agent"}

// exportAudit streams the whole filtered trail as CSV or JSON Lines, row by row as
// Postgres sends them: memory stays constant however long the trail is.
func (s *Server) exportAudit(c *fiber.Ctx) error {
	format := c.Query("format", "csv")
	if format != "csv" && format != "jsonl" {
		return errInvalidRequest("format must be csv or jsonl.")
	}
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	if f.Cursor != "" || f.Limit != 0 {
		return errInvalidRequest("export takes no cursor or limit: it streams the whole filtered trail.")
	}
	// The filter is checked before the answer starts: once it has, a refusal could
	// only end the stream (an action that is not one answered 200 with no body).
	if err := f.Check(); err != nil {
		return badQuery(err)
	}
	org, err := s.manager(c)
	if err != nil {
		return err
	}
	name := "audit-" + org.ID + "." + format
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	} else {
		c.Set(fiber.HeaderContentType, "application/x-ndjson")
	}
	// The body is read from a pipe the export writes into: a failure part-way (the
	// database gone, the export's time up) closes the pipe with the error, and the
	// server then ends the response without its last chunk, so the client sees a
	// broken transfer, never a clean end of a shorter trail. (A stream writer has no
	// way to fail: the export ended early and answered a complete 200.) The client
	// going away closes the pipe's reader, which ends the export's next write.
	pr, pw := io.Pipe()
	go s.streamAudit(pw, org.ID, format, f)
	c.Context().SetBodyStream(pr, -1)
	return nil
}

// streamAudit writes the filtered trail of orgID into pw and closes pw with the error
// that ended it early, if any.
func (s *Server) streamAudit(pw *io.PipeWriter, orgID, format string, f projections.AuditFilter) {
	ctx, cancel := context.WithTimeout(context.Background(), auditExportTimeout)
	defer cancel()
	w := bufio.NewWriterSize(pw, 32<<10)
	write := exportWriter(format, w)
	n := 0
	err := s.rm.Audit.StreamAudit(ctx, orgID, f, func(e projections.AuditEntry) error {
		if err := write(e); err != nil {
			return err
		}
		if n++; n%500 == 0 {
			return w.Flush()
		}
		return nil
	})
	if err == nil {
		err = write(projections.AuditEntry{})
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		s.log.Warn("audit export ended early", "org", orgID, "rows", n, "err", err)
		pw.CloseWithError(fmt.Errorf("audit export ended early: %w", err))
		return
	}
	_ = pw.Close()
}

// exportWriter returns a function that writes one entry; the zero entry flushes.
func exportWriter(format string, w *bufio.Writer) func(projections.AuditEntry) error {
	if format == "jsonl" {
		enc := json.NewEncoder(w)
		return func(e projections.AuditEntry) error {
			if e.EventID == "" {
				return nil
			}
			return enc.Encode(auditItemOut(e))
		}
	}
	cw := csv.NewWriter(w)
	header := false
	return func(e projections.AuditEntry) error {
		if !header {
			header = true
			if err := cw.Write(csvHeader); err != nil {
				return err
			}
		}
		if e.EventID != "" {
			if err := cw.Write(csvRow(e)); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
}

// csvRow is one entry as a CSV record, every cell made inert for spreadsheets.
func csvRow(e projections.AuditEntry) []string {
	row := []string{strconv.FormatUint(e.Seq, 10), e.At.UTC().Format(time.RFC3339Nano), e.Action, e.Outcome,
		e.ActorEmail, e.SecretID, e.SecretName, e.Env, e.IP, e.UserAgent}
	for i, cell := range row {
		row[i] = csvCell(cell)
	}
	return row
}

// csvCell prefixes with ' a cell that a spreadsheet would read as a formula (or, after
// a tab or carriage return, as the start of one). Clients choose their user agent and
// may choose an email such as "=cmd@example.com": without the prefix, an auditor who
// opens the export would run the formula an attacker wrote. Every cell is treated the
// same, so a column added later is safe too.
func csvCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

func (s *Server) verifyAudit(c *fiber.Ctx) error {
	org, err := s.manager(c)
	if err != nil {
		return err
	}
	res, err := s.rm.Audit.VerifyAudit(c.UserContext(), org.ID, s.store)
	if err != nil {
		return err
	}
	// A conversion, not a copy: it stops compiling if the read model's result and the
	// wire shape drift apart.
	return c.JSON(wire.AuditVerification(res))
}
