package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/storeerr"
)

const (
	headerIdempotencyKey = "Idempotency-Key"
	// headerReplayed marks a response that was replayed from the idempotency store.
	headerReplayed    = "Idempotent-Replayed"
	maxIdempotencyKey = 255
)

// storedResponse is what the idempotency store keeps of a request sent with a key:
// the hash of the request, and for a refusal (4xx) the response itself. A success is
// not kept here: the command's events carry the key and the request hash into the
// log, and a retry is answered from there by the command itself, which re-checks the
// caller's membership and never hands a credential out twice. Reveal responses, which
// hold values, never get here.
type storedResponse struct {
	Request     string `json:"request"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Seq         string `json:"seq,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// requestHash identifies a request: method, URL (query included) and body.
func requestHash(c *fiber.Ctx) string {
	h := sha256.New()
	h.Write([]byte(c.Method()))
	h.Write([]byte{0})
	h.Write([]byte(c.OriginalURL()))
	h.Write([]byte{0})
	h.Write(c.Body())
	return hex.EncodeToString(h.Sum(nil))
}

// idempotent binds an Idempotency-Key to the first request that used it (the same key
// with another request is 422 idempotency_key_reused) and replays a refusal (4xx)
// retried with the same key. A retry of a command that succeeded runs the command
// again, which finds its first result in the log and changes nothing. 5xx responses
// are not kept: they may be retried for real.
func (s *Server) idempotent(c *fiber.Ctx) error {
	key := c.Get(headerIdempotencyKey)
	if key == "" {
		return c.Next()
	}
	if len(key) > maxIdempotencyKey {
		return errInvalidRequest("Idempotency-Key must be at most 255 characters.")
	}
	// The same name the command's events carry in the log: the caller and the key,
	// not the request, so that the same key with another request is recognised.
	storeKey := commands.IdempotencyKeyHash(identityOf(c).UserID, key)
	hash := requestHash(c)
	b, err := s.idem.Get(c.UserContext(), storeKey)
	switch {
	case err == nil:
		var rec storedResponse
		if err := json.Unmarshal(b, &rec); err != nil {
			return err
		}
		if rec.Request != hash {
			return domain.Errorf(domain.CodeIdempotencyKeyReused, "This Idempotency-Key was already used with another request; send a new key.")
		}
		if rec.Status >= 400 {
			return replay(c, rec)
		}
	case !errors.Is(err, storeerr.ErrNotFound):
		return err
	default:
		// Bind the key before the command runs: after a crash between the command and
		// its answer, a retry with another body is still told apart.
		if err := s.rememberRequest(c, storeKey, storedResponse{Request: hash}); err != nil {
			s.log.Warn("remember idempotency key", "err", err)
		}
	}
	if err := c.Next(); err != nil {
		// Write the problem now, so that it can be remembered like any response.
		if herr := s.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	resp := c.Response()
	status := resp.StatusCode()
	if status < 400 || status >= fiber.StatusInternalServerError {
		return nil
	}
	rec := storedResponse{
		Request: hash, Status: status,
		ContentType: string(resp.Header.ContentType()),
		Seq:         string(resp.Header.Peek(headerSeq)),
		Body:        append([]byte(nil), resp.Body()...),
	}
	if err := s.rememberRequest(c, storeKey, rec); err != nil {
		s.log.Warn("remember idempotent response", "err", err)
	}
	return nil
}

func (s *Server) rememberRequest(c *fiber.Ctx, storeKey string, rec storedResponse) error {
	enc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.idem.Put(c.UserContext(), storeKey, enc)
}

func replay(c *fiber.Ctx, rec storedResponse) error {
	if rec.ContentType != "" {
		c.Set(fiber.HeaderContentType, rec.ContentType)
	}
	if rec.Seq != "" {
		c.Set(headerSeq, rec.Seq)
	}
	c.Set(headerReplayed, "true")
	c.Status(rec.Status)
	if len(rec.Body) == 0 {
		return nil
	}
	return c.Send(rec.Body)
}
