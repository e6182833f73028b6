package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

// sseHeartbeat keeps idle change streams (and the proxies on their way) alive.
const sseHeartbeat = 15 * time.Second

// accessRecheck is how often an open stream checks that its caller still has access.
// API.md ends a stream within 5 s of the caller losing access; a loss is seen at the
// next check, which itself may take up to accessCheckTimeout.
const (
	accessRecheck      = 2 * time.Second
	accessCheckTimeout = 2 * time.Second
)

// changes streams the organization's change notices as Server-Sent Events: an event's
// id is the event log sequence (on the last notice of that log event), so a client resumes with Last-Event-ID (or
// ?last_event_id=) and misses nothing. Notices never carry a value or a mask.
func (s *Server) changes(c *fiber.Ctx) error {
	org, _, err := s.orgAccess(c)
	if err != nil {
		return err
	}
	// The credentials are checked again while the stream is open: a member removed, a
	// token revoked or expired, or a session logged out must stop receiving notices.
	creds := credentialsOf(c)
	// A new subscriber starts from now (what the read models show); one that resumes
	// names the last event it saw, and 0 replays the organization's whole feed.
	raw := c.Get("Last-Event-ID", c.Query("last_event_id"))
	var after uint64
	if raw == "" {
		after, err = s.rm.Progress.Checkpoint(c.UserContext())
		if err != nil {
			return err
		}
	} else if after, err = strconv.ParseUint(raw, 10, 64); err != nil {
		return errInvalidRequest("Last-Event-ID must be an event sequence.")
	} else if err := s.pastTheLog(c.UserContext(), "Last-Event-ID", after, "no stream named it; connect without it to start from now."); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(s.streams)
	feed, err := s.feed.Follow(ctx, org.ID, after)
	if err != nil {
		cancel()
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		beat := time.NewTicker(sseHeartbeat)
		defer beat.Stop()
		recheck := time.NewTicker(accessRecheck)
		defer recheck.Stop()
		// The opening block names where the stream starts, so that a client that
		// reconnects before any notice came resumes from here, not from "now".
		if _, err := fmt.Fprintf(w, ": keyledger change feed\nid: %d\nretry: 2000\n\n", after); err != nil || w.Flush() != nil {
			return
		}
		for {
			select {
			case n, ok := <-feed:
				if !ok {
					return
				}
				data, err := json.Marshal(n)
				if err != nil {
					return
				}
				// One event can make several notices (one per environment); only the last
				// carries the id, so a client that resumes from it has had them all.
				if n.Part == n.Parts-1 {
					fmt.Fprintf(w, "id: %d\n", n.Seq)
				}
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", n.Type, data)
			case <-beat.C:
				fmt.Fprint(w, ": heartbeat\n\n")
			case <-recheck.C:
				if !s.streamAllowed(ctx, creds, org.ID) {
					// Ending the response is the signal: a client that reconnects is
					// refused (401 or 404) like any other request.
					return
				}
				continue
			case <-ctx.Done():
				return
			}
			if err := w.Flush(); err != nil {
				// The client went away.
				return
			}
		}
	})
	return nil
}

// streamAllowed runs the request's checks again for an open stream: the credentials
// (the session, a personal token, expiry included; from the authentication cache, which
// revocations and logouts invalidate on every replica) and
// the caller's access to the organization. Any failure ends the stream, a failed check
// included: a client resumes with Last-Event-ID and is checked afresh.
func (s *Server) streamAllowed(ctx context.Context, creds credentials, orgID string) bool {
	ctx, cancel := context.WithTimeout(ctx, accessCheckTimeout)
	defer cancel()
	id, err := s.identifyCredentials(ctx, creds)
	if err == nil {
		_, _, err = s.orgAccessOf(ctx, id.identity, orgID)
	}
	switch {
	case err == nil:
		return true
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// The stream is ending anyway (client gone, server shutting down).
	case s.isAccessLost(err):
		s.log.Info("change stream closed: the caller lost access", "org", orgID)
	default:
		s.log.Warn("change stream closed: access check failed", "org", orgID, "err", err)
	}
	return false
}

// isAccessLost tells a refusal (unauthenticated, not found, forbidden) from a check
// that could not be made.
func (s *Server) isAccessLost(err error) bool {
	p, _ := toProblem(err, s.unavailable)
	return p.Status == fiber.StatusUnauthorized || p.Status == fiber.StatusNotFound || p.Status == fiber.StatusForbidden
}
