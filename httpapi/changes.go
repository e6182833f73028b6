package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

// sseHeartbeat keeps idle change streams (and the proxies on their way) alive.
const sseHeartbeat = 15 * time.Second

// changes streams the organization's change notices as Server-Sent Events: an event's
// id is the event log sequence (on the last notice of that log event), so a client resumes with Last-Event-ID (or
// ?last_event_id=) and misses nothing. Notices never carry a value or a mask.
func (s *Server) changes(c *fiber.Ctx) error {
	org, _, err := s.orgAccess(c)
	if err != nil {
		return err
	}
	after := uint64(0)
	raw := c.Get("Last-Event-ID", c.Query("last_event_id"))
	if raw != "" {
		n, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			return errInvalidRequest("Last-Event-ID must be an event sequence.")
		}
		after = n
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
		if _, err := fmt.Fprint(w, ": keyledger change feed\nretry: 2000\n\n"); err != nil || w.Flush() != nil {
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
