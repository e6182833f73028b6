package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// Notice is one change of a secret, from the change feed. It never carries a value or
// a mask. OldVersion or NewVersion is 0 when the change has none (a first value, a
// removed one). The shape is the wire package's, which the server's feed renders; like
// this package, wire depends on the standard library only, so an integration that
// imports it does not pull in NATS.
type Notice = wire.ChangeNotice

// ChangeStream delivers an organization's change notices until its context ends or
// Close is called. It reconnects by itself after a broken connection or a 5xx,
// resuming after the last notice it delivered (Last-Event-ID).
type ChangeStream struct {
	notices chan Notice
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	err     error
}

// Notices is closed when the stream ends; Err then says why.
func (s *ChangeStream) Notices() <-chan Notice { return s.notices }

// Err is nil while the stream runs and after it was stopped by its context or Close;
// otherwise it is the error that ended it (such as a *Error with status 401 once the
// token is revoked).
func (s *ChangeStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the stream and waits until Notices is closed.
func (s *ChangeStream) Close() {
	s.cancel()
	<-s.done
}

// Changes subscribes to an organization's change feed. With lastEventID > 0 the
// server resumes after that stream sequence; with 0 it sends every notice it still
// keeps, then new ones; with FromNow only what happens from now on. The first connection is made before Changes returns, so a
// refusal (401, 404) is its error.
func (c *Client) Changes(ctx context.Context, org string, lastEventID uint64) (*ChangeStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	resp, err := c.connectChanges(ctx, org, lastEventID)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &ChangeStream{notices: make(chan Notice), cancel: cancel, done: make(chan struct{})}
	go s.run(ctx, c, org, lastEventID, resp)
	return s, nil
}

func (c *Client) connectChanges(ctx context.Context, org string, lastEventID uint64) (*http.Response, error) {
	r := request{method: http.MethodGet, path: orgPath(org, "changes"), accept: "text/event-stream"}
	if lastEventID != FromNow {
		r.lastEventID = strconv.FormatUint(lastEventID, 10)
	}
	return c.send(ctx, r)
}

// FromNow, as Changes' lastEventID, subscribes to what happens from now on: the server
// opens the stream at its current position (and later reconnections resume from there).
const FromNow = ^uint64(0)

// reconnect delays: the server's retry field wins over the default; failures in a row
// back off up to maxReconnectDelay.
const (
	defaultReconnectDelay = time.Second
	maxReconnectDelay     = 30 * time.Second
)

func (s *ChangeStream) run(ctx context.Context, c *Client, org string, after uint64, resp *http.Response) {
	defer close(s.done)
	defer close(s.notices)
	pos := streamPosition{last: after}
	delay := defaultReconnectDelay
	for {
		retry, err := s.read(ctx, resp.Body, &pos)
		resp.Body.Close()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, io.EOF) && !IsUnavailable(err) {
			s.fail(err)
			return
		}
		if retry > 0 {
			delay = retry
		}
		for {
			if !sleep(ctx, delay) {
				return
			}
			resp, err = c.connectChanges(ctx, org, pos.resumeAfter())
			if err == nil {
				delay = defaultReconnectDelay
				break
			}
			if ctx.Err() != nil {
				return
			}
			if !IsUnavailable(err) {
				s.fail(err)
				return
			}
			delay = min(delay*2, maxReconnectDelay)
		}
	}
}

// streamPosition is how far a stream got. One event makes one notice per environment,
// all with the event's sequence, and a connection can break between them: a
// reconnection resumes before the last sequence and skips the notices of it that
// were already delivered.
type streamPosition struct {
	last uint64
	// seenAtLast holds the notices of sequence last delivered by this stream.
	seenAtLast map[string]bool
}

func noticeKey(n Notice) string { return n.Type + "\x00" + n.SecretID + "\x00" + n.Env }

func (p *streamPosition) resumeAfter() uint64 {
	if len(p.seenAtLast) == 0 || p.last == 0 {
		return p.last
	}
	return p.last - 1
}

// start records the position a stream opened at, before any notice.
func (p *streamPosition) start(id string) {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil && n > p.last {
		p.last, p.seenAtLast = n, map[string]bool{}
	}
}

// admit reports whether n is new, and records it.
func (p *streamPosition) admit(n Notice) bool {
	switch {
	case n.Seq == 0:
		return true // nothing to order it by
	case n.Seq > p.last:
		p.last, p.seenAtLast = n.Seq, map[string]bool{}
	case n.Seq < p.last || len(p.seenAtLast) == 0 || p.seenAtLast[noticeKey(n)]:
		return false
	}
	p.seenAtLast[noticeKey(n)] = true
	return true
}

func (s *ChangeStream) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// read delivers the new notices of one connection; it returns the last retry delay
// the server asked for and why the connection ended.
func (s *ChangeStream) read(ctx context.Context, body io.Reader, pos *streamPosition) (time.Duration, error) {
	var retry time.Duration
	err := readEvents(body, func(ev sseEvent) bool {
		if ev.retry > 0 {
			retry = ev.retry
		}
		if ev.data == "" && ev.id != "" {
			// The opening block says where the stream starts: resume from there.
			pos.start(ev.id)
			return true
		}
		n, ok := ev.notice()
		if !ok || !pos.admit(n) {
			return true
		}
		select {
		case s.notices <- n:
			return true
		case <-ctx.Done():
			return false
		}
	})
	return retry, err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	id    string
	event string
	data  string
	retry time.Duration
}

// notice decodes an event's data; events that are not notices (keep-alives, other
// event types a newer server may add) are skipped.
func (ev sseEvent) notice() (Notice, bool) {
	if ev.data == "" {
		return Notice{}, false
	}
	var n Notice
	if err := json.Unmarshal([]byte(ev.data), &n); err != nil || n.Type == "" {
		return Notice{}, false
	}
	if n.Seq == 0 {
		n.Seq, _ = strconv.ParseUint(ev.id, 10, 64)
	}
	return n, true
}

// maxEventLine bounds one line of the stream.
const maxEventLine = 1 << 20

// readEvents parses a text/event-stream as the HTML standard describes it and calls fn
// for every event (an event carries only the fields seen since the previous blank
// line; retry is reported with the event it came with). fn returns false to stop.
// It returns io.EOF when the stream ends.
func readEvents(r io.Reader, fn func(sseEvent) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxEventLine)
	sc.Split(scanSSELines)
	var ev sseEvent
	var data strings.Builder
	hasData := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData || ev.retry > 0 {
				ev.data = strings.TrimSuffix(data.String(), "\n")
				if !fn(ev) {
					return nil
				}
			}
			ev, hasData = sseEvent{id: ev.id}, false
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				ev.id = value
			}
		case "event":
			ev.event = value
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				ev.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.EOF
}

// scanSSELines splits on CRLF, LF or CR, the three line ends of the format.
func scanSSELines(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // a CR at the end of the buffer: wait for the next byte
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
