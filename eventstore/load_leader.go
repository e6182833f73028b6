package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// On a clustered log, a direct get may be answered by any replica of the stream,
// among them a follower that has not applied the newest messages yet (nats-server
// turns a follower's direct gets on once it is 90 % synchronized): a load through
// direct gets alone could miss an event the log has acknowledged (a token's
// revocation, the update a reveal must not answer from before). Commands would catch
// that at their expected-sequence append; what answers from a load without appending
// (authentication, reveals, replayed answers) would not. So on a cluster every load
// ends by asking the stream's leader, which answers from the log as acknowledged,
// for the aggregate's next message after the last one read, and reads on through the
// leader whatever the direct gets missed. The embedded, single-server log answers
// every direct get itself and is not asked twice.

// leaderTimeout bounds one request to a stream's leader: without a leader (an
// election) the request gets no answer at all.
const leaderTimeout = 5 * time.Second

// errCodeNoMessage is JetStream's "no message found".
const errCodeNoMessage = 10037

// MsgRequest names the message a stream's leader is asked for: the first on NextFor
// (a wildcard allowed) at or after Seq, or the last on LastFor.
type MsgRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
}

// LeaderMsg is one message as a stream's leader returns it.
type LeaderMsg struct {
	Subject string    `json:"subject"`
	Seq     uint64    `json:"seq"`
	Header  []byte    `json:"hdrs"`
	Data    []byte    `json:"data"`
	Time    time.Time `json:"time"`
}

// GetFromLeader asks stream's leader for the message req names: what the log holds as
// acknowledged, where a direct get may be answered by a follower from behind (and the
// jetstream package takes the direct path whenever the stream allows it). ok is false
// when there is no such message; an unanswered request wraps ErrUnavailable.
func GetFromLeader(ctx context.Context, js jetstream.JetStream, stream string, req MsgRequest) (m LeaderMsg, ok bool, err error) {
	body, err := json.Marshal(req)
	if err != nil {
		return LeaderMsg{}, false, fmt.Errorf("ask the leader of %s: %w", stream, err)
	}
	rctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	reply, err := js.Conn().RequestWithContext(rctx, APIPrefix(js)+"STREAM.MSG.GET."+stream, body)
	if err != nil {
		return LeaderMsg{}, false, fmt.Errorf("ask the leader of %s for %+v: %w: %w", stream, req, ErrUnavailable, err)
	}
	var resp struct {
		Message *LeaderMsg `json:"message"`
		Error   *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return LeaderMsg{}, false, fmt.Errorf("ask the leader of %s: %w", stream, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == errCodeNoMessage:
		return LeaderMsg{}, false, nil
	case resp.Error != nil:
		return LeaderMsg{}, false, fmt.Errorf("ask the leader of %s for %+v: %w: %s (%d)", stream, req, ErrUnavailable, resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return LeaderMsg{}, false, fmt.Errorf("ask the leader of %s for %+v: %w: an empty answer", stream, req, ErrUnavailable)
	}
	return *resp.Message, true, nil
}

// getMsg reads the message of the events stream that req names (see GetMsg).
func (s *Store) getMsg(ctx context.Context, req MsgRequest) (*jetstream.RawStreamMsg, error) {
	return GetMsg(ctx, s.js, s.stream, req)
}

// GetMsg reads the message of stream that req names, or jetstream.ErrMsgNotFound: from
// the stream's leader when the stream is replicated, since the handle's own get is a
// direct get whenever the stream allows them, which a follower may answer from behind
// (what another replica has just written would read as missing); from the stream
// itself on a single replica.
func GetMsg(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream, req MsgRequest) (*jetstream.RawStreamMsg, error) {
	info := stream.CachedInfo()
	if info == nil {
		return nil, errors.New("eventstore: a stream handle without its info")
	}
	if info.Config.Replicas > 1 {
		return rawFromLeader(ctx, js, info.Config.Name, req)
	}
	switch {
	case req.LastFor != "":
		return stream.GetLastMsgForSubject(ctx, req.LastFor)
	case req.NextFor != "":
		return stream.GetMsg(ctx, req.Seq, jetstream.WithGetMsgSubject(req.NextFor))
	}
	return stream.GetMsg(ctx, req.Seq)
}

// rawFromLeader is GetFromLeader's message with its headers decoded, as the
// jetstream package returns one; jetstream.ErrMsgNotFound when there is none.
func rawFromLeader(ctx context.Context, js jetstream.JetStream, stream string, req MsgRequest) (*jetstream.RawStreamMsg, error) {
	m, ok, err := GetFromLeader(ctx, js, stream, req)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, jetstream.ErrMsgNotFound
	}
	raw := &jetstream.RawStreamMsg{Subject: m.Subject, Sequence: m.Seq, Data: m.Data, Time: m.Time}
	if len(m.Header) > 0 {
		if raw.Header, err = nats.DecodeHeadersMsg(m.Header); err != nil {
			return nil, fmt.Errorf("message %d of %s: headers: %w", m.Seq, stream, err)
		}
	}
	return raw, nil
}

// leaderNext asks the event stream's leader for the first message on subject at or
// after sequence from.
func (s *Store) leaderNext(ctx context.Context, subject string, from uint64) (LeaderMsg, bool, error) {
	return GetFromLeader(ctx, s.js, StreamName, MsgRequest{Seq: from, NextFor: subject})
}

// confirmAtLeader reads on through the leader (a cluster only) what a load of subject
// from sequence from, which read up to out.LastSeq, did not get: nothing, unless the
// direct gets were answered by a follower behind the log.
func (s *Store) confirmAtLeader(ctx context.Context, subject string, from, until uint64, out *Loaded) error {
	if s.reps <= 1 {
		return nil
	}
	next := max(from, out.LastSeq+1)
	for {
		m, ok, err := s.leaderNext(ctx, subject, next)
		if err != nil || !ok || (until > 0 && m.Seq > until) {
			return err
		}
		if err := s.take(ctx, m.Seq, m.Data, out); err != nil {
			return err
		}
		next = m.Seq + 1
	}
}

// take opens the message stored at seq into out, the next of its history.
func (s *Store) take(ctx context.Context, seq uint64, data []byte, out *Loaded) error {
	recs, err := s.decode(ctx, seq, data)
	if err != nil {
		return err
	}
	s.loaded.Add(1)
	out.Events = append(out.Events, recs...)
	out.LastSeq = seq
	return nil
}

// APIPrefix is the subject prefix of js's JetStream API (its API prefix or domain).
func APIPrefix(js jetstream.JetStream) string {
	opts := js.Options()
	switch {
	case opts.APIPrefix != "":
		if strings.HasSuffix(opts.APIPrefix, ".") {
			return opts.APIPrefix
		}
		return opts.APIPrefix + "."
	case opts.Domain != "":
		return "$JS." + opts.Domain + ".API."
	}
	return "$JS.API."
}
