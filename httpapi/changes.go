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
	// A new subscriber starts from now (what the read models show); one that resumes
	// names the last event it saw, and 0 replays the organization's whole feed.
	raw := c.Get("Last-Event-ID", c.Query("last_event_id"))
	var after uint64
	if raw == "" {
		after, err = s.rm.Checkpoint(c.UserContext())
		if err != nil {
			return err
		}
	} else if after, err = strconv.ParseUint(raw, 10, 64); err != nil {
		return errInvalidRequest("Last-Event-ID must be an event sequence.")
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
