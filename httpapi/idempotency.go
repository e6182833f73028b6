package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/eventstore"
)

const (
	headerIdempotencyKey = "Idempotency-Key"
	// headerReplayed marks a response that was replayed from the idempotency store.
	headerReplayed    = "Idempotent-Replayed"
	maxIdempotencyKey = 255
)

// storedResponse is a mutation's first response, as a retry gets it back. The bucket
// seals it; reveal responses, which hold values, never get here.
type storedResponse struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	Seq         string `json:"seq,omitempty"`
	Location    string `json:"location,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// idempotencyKey is the store key of a request: the caller, the method, the URL
// (query included) and the client's key.
func idempotencyKey(userID, method, url, key string) string {
	sum := sha256.Sum256([]byte(userID + "\x00" + method + "\x00" + url + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// idempotent replays the first response of a mutation retried with the same
// Idempotency-Key by the same user, and changes nothing the second time. Responses
// below 500 are remembered for IdempotencyTTL; a 5xx may be retried for real.
func (s *Server) idempotent(c *fiber.Ctx) error {
	key := c.Get(headerIdempotencyKey)
	if key == "" {
		return c.Next()
	}
	if len(key) > maxIdempotencyKey {
		return errInvalidRequest("Idempotency-Key must be at most 255 characters.")
	}
	storeKey := idempotencyKey(identityOf(c).UserID, c.Method(), c.OriginalURL(), key)
	b, err := s.idem.Get(c.UserContext(), storeKey)
	switch {
	case err == nil:
		return replay(c, b)
	case !errors.Is(err, eventstore.ErrNotFound):
		return err
	}
	if err := c.Next(); err != nil {
		// Write the problem now, so that it can be remembered like any response.
		if herr := s.errorHandler(c, err); herr != nil {
			return herr
		}
	}
	resp := c.Response()
	if resp.StatusCode() >= fiber.StatusInternalServerError {
		return nil
	}
	rec := storedResponse{
		Status:      resp.StatusCode(),
		ContentType: string(resp.Header.ContentType()),
		Seq:         string(resp.Header.Peek(headerSeq)),
		Location:    string(resp.Header.Peek(fiber.HeaderLocation)),
		Body:        append([]byte(nil), resp.Body()...),
	}
	enc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := s.idem.Put(c.UserContext(), storeKey, enc); err != nil {
		s.log.Warn("remember idempotent response", "err", err)
	}
	return nil
}

func replay(c *fiber.Ctx, b []byte) error {
	var rec storedResponse
	if err := json.Unmarshal(b, &rec); err != nil {
		return err
	}
	if rec.ContentType != "" {
		c.Set(fiber.HeaderContentType, rec.ContentType)
	}
	if rec.Seq != "" {
		c.Set(headerSeq, rec.Seq)
	}
	if rec.Location != "" {
		c.Set(fiber.HeaderLocation, rec.Location)
	}
	c.Set(headerReplayed, "true")
	c.Status(rec.Status)
	if len(rec.Body) == 0 {
		return nil
	}
	return c.Send(rec.Body)
}
