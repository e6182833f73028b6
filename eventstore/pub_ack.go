package eventstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The log's appends are published by publishLogMsg rather than jetstream's
// PublishMsg: that decodes every acknowledgement with encoding/json (2.2 % of the
// server's CPU in the create phase at 100,000 secrets, a reflective decode of two
// fields), wraps the context in a timer of its own and builds the headers from
// options. An append sets its headers itself, and its acknowledgement is read by
// parsePubAck, which knows the two shapes a stream answers a stored message with and
// leaves any other answer (errors, batches) to encoding/json, as jetstream does.

// logPublishTimeout bounds a publish whose context has none, as jetstream's default
// (5 s) does.
const logPublishTimeout = 5 * time.Second

// boundPublish is ctx bounded by logPublishTimeout when it has no deadline of its own.
func boundPublish(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, logPublishTimeout)
}

// publishLogMsg publishes msg, whose headers say what the stream is to check, and
// returns the stream's acknowledgement. It answers as jetstream's PublishMsg does:
// nobody listening is sent again twice, 250 ms apart, then jetstream.ErrNoStreamResponse;
// a refusal is the stream's *jetstream.APIError; an answer that is no acknowledgement
// is jetstream.ErrInvalidJSAck.
func publishLogMsg(ctx context.Context, nc *nats.Conn, msg *nats.Msg) (*jetstream.PubAck, error) {
	ctx, cancel := boundPublish(ctx)
	defer cancel()
	resp, err := nc.RequestMsgWithContext(ctx, msg)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < jetstream.DefaultPubRetryAttempts; r++ {
		select {
		case <-ctx.Done():
		case <-time.After(jetstream.DefaultPubRetryWait):
		}
		resp, err = nc.RequestMsgWithContext(ctx, msg)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, jetstream.ErrNoStreamResponse
	}
	if err != nil {
		return nil, err
	}
	return parsePubAck(resp.Data)
}

// pubAckAnswer is a stream's answer to a publish, as jetstream decodes it.
type pubAckAnswer struct {
	Error *jetstream.APIError `json:"error,omitempty"`
	*jetstream.PubAck
}

// parsePubAck reads a stream's answer to a publish: the acknowledgement of a stored
// (or duplicate) message through readPubAck, anything else as jetstream reads it.
func parsePubAck(data []byte) (*jetstream.PubAck, error) {
	if ack, ok := readPubAck(data); ok {
		return ack, nil
	}
	var answer pubAckAnswer
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, jetstream.ErrInvalidJSAck
	}
	if answer.Error != nil {
		return nil, fmt.Errorf("nats: %w", answer.Error)
	}
	if answer.PubAck == nil || answer.PubAck.Stream == "" {
		return nil, jetstream.ErrInvalidJSAck
	}
	return answer.PubAck, nil
}

// readPubAck reads the acknowledgement nats-server writes for a stored message from
// its template, {"stream":"<name>","seq":<n>} or {"stream":"<name>","domain":"<domain>","seq":<n>},
// and for a duplicate, the same with ,"duplicate": true before the brace. ok is false
// for anything else, names with escapes included, and the caller decodes it as JSON.
func readPubAck(data []byte) (ack *jetstream.PubAck, ok bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"stream":"`))
	if !ok {
		return nil, false
	}
	stream, rest, ok := plainString(rest)
	if !ok || stream == "" {
		return nil, false
	}
	var domain string
	if r, found := bytes.CutPrefix(rest, []byte(`,"domain":"`)); found {
		if domain, rest, ok = plainString(r); !ok {
			return nil, false
		}
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"seq":`)); !ok {
		return nil, false
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 || (end > 1 && rest[0] == '0') {
		return nil, false
	}
	seq, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	if err != nil {
		return nil, false
	}
	ack = &jetstream.PubAck{Stream: stream, Sequence: seq, Domain: domain}
	switch tail := rest[end:]; {
	case string(tail) == `}`:
	case string(tail) == `,"duplicate": true}`:
		ack.Duplicate = true
	default:
		return nil, false
	}
	return ack, true
}

// plainString reads a JSON string's text up to its closing quote, when it is
// printable ASCII without escapes (a stream name or domain is), and what follows the
// quote.
func plainString(b []byte) (s string, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return string(b[:i]), b[i+1:], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", nil, false
		}
	}
	return "", nil, false
}
