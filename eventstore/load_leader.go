package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// On a clustered log, a direct get may be answered by any replica of the stream,
// among them a follower that has not applied the newest messages yet: a load through
// direct gets alone could miss an event the log has acknowledged (a token's
// revocation, the update a reveal must not answer from before). Commands would catch
// that at their expected-sequence append; what answers from a load without appending
// (authentication, reveals, replayed answers) would not. So on a cluster every load
// ends by asking the stream's leader, which answers from the log as acknowledged,
// for the aggregate's next message after the last one read, and reads on through the
// leader whatever the direct gets missed. The embedded, single-server log answers
// every direct get itself and is not asked twice.

// leaderTimeout bounds one request to the stream's leader.
const leaderTimeout = 5 * time.Second

// errCodeNoMessage is JetStream's "no message found".
const errCodeNoMessage = 10037

// leaderMsg is one message as the stream's leader returns it.
type leaderMsg struct {
	Subject string `json:"subject"`
	Seq     uint64 `json:"seq"`
	Data    []byte `json:"data"`
}

// leaderNext asks the stream's leader for the first message on subject (a wildcard
// allowed) at or after sequence from; ok is false when there is none.
func (s *Store) leaderNext(ctx context.Context, subject string, from uint64) (leaderMsg, bool, error) {
	req, err := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj"`
	}{from, subject})
	if err != nil {
		return leaderMsg{}, false, fmt.Errorf("ask the leader for %s: %w", subject, err)
	}
	// Without a leader (an election) the request gets no answer at all: bounded, as
	// the direct gets are, it is then the log being unavailable.
	rctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	reply, err := s.nc.RequestWithContext(rctx, s.apiPrefix()+"STREAM.MSG.GET."+StreamName, req)
	if err != nil {
		return leaderMsg{}, false, fmt.Errorf("ask the leader for %s from %d: %w: %w", subject, from, ErrUnavailable, err)
	}
	var resp struct {
		Message *leaderMsg `json:"message"`
		Error   *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return leaderMsg{}, false, fmt.Errorf("ask the leader for %s: %w", subject, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == errCodeNoMessage:
		return leaderMsg{}, false, nil
	case resp.Error != nil:
		return leaderMsg{}, false, fmt.Errorf("ask the leader for %s from %d: %w: %s (%d)", subject, from, ErrUnavailable, resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return leaderMsg{}, false, fmt.Errorf("ask the leader for %s from %d: %w: an empty answer", subject, from, ErrUnavailable)
	}
	return *resp.Message, true, nil
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
		recs, err := s.decode(ctx, m.Seq, m.Data)
		if err != nil {
			return err
		}
		s.loaded.Add(1)
		out.Events = append(out.Events, recs...)
		out.LastSeq = m.Seq
		next = m.Seq + 1
	}
}

// apiPrefix is the subject prefix of the connection's JetStream API.
func (s *Store) apiPrefix() string {
	opts := s.js.Options()
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
