package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// accessInstant reads ?at= (RFC 3339; default now). An instant in the future is
// refused: the log cannot say who will have access.
func (s *Server) accessInstant(c *fiber.Ctx) (time.Time, error) {
	now := s.now().UTC()
	raw := c.Query("at")
	if raw == "" {
		return now, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, errInvalidRequest("at must be an RFC 3339 time.")
	}
	if t.After(now) {
		return time.Time{}, errInvalidRequest("at must not be in the future.")
	}
	return t.UTC(), nil
}

// accessReview answers who could do what to one secret at an instant (owners and
// admins only), from the log: the caller's right to ask is checked now, the answer is
// about then.
func (s *Server) accessReview(c *fiber.Ctx) error {
	org, err := s.manager(c)
	if err != nil {
		return err
	}
	secretID := c.Query("secret_id")
	if secretID == "" {
		return errInvalidRequest("secret_id is required.")
	}
	// A secret_id that is not a UUID is a bad query parameter, as the audit trail's
	// is (API.md: 400 invalid_request); a UUID that names no secret is 404 below.
	if !isQueryUUID(secretID) {
		return errInvalidRequest("secret_id must be a UUID.")
	}
	at, err := s.accessInstant(c)
	if err != nil {
		return err
	}
	review, err := projections.AccessAt(c.UserContext(), s.store, org.ID, secretID, at)
	if err != nil {
		return err
	}
	return c.JSON(accessReviewOut(review))
}

// isQueryUUID reports whether s is a UUID in its 36-character hyphenated form (either
// case), the one form of an id in a query parameter.
func isQueryUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func accessReviewOut(r projections.AccessReview) wire.AccessReview {
	out := wire.AccessReview{At: r.At.UTC(), SecretID: r.SecretID, SecretName: r.SecretName, OwnerID: r.OwnerID,
		Subjects: make([]wire.AccessSubject, 0, len(r.Subjects))}
	for _, s := range r.Subjects {
		ws := wire.AccessSubject{Kind: s.Kind, ID: s.ID, Email: s.Email, Name: s.Name, Role: string(s.Role),
			Superadmin: s.Superadmin, Can: make([]string, 0, len(s.Can))}
		for _, e := range s.Environments {
			ws.Environments = append(ws.Environments, string(e))
		}
		if s.ExpiresAt != nil {
			t := s.ExpiresAt.UTC()
			ws.ExpiresAt = &t
		}
		for _, a := range s.Can {
			ws.Can = append(ws.Can, string(a))
		}
		out.Subjects = append(out.Subjects, ws)
	}
	return out
}
