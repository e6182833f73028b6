package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// OrgOf finds the organization an aggregate belongs to when only its type and id are
// known: a service token names its own id and nothing else, but its events live under
// its organization's subjects (kl.events.<org>.service_token.<id>). It asks the log for
// the aggregate's first message under any organization and reads the organization from
// that message's subject; nothing is decrypted. ok is false when no organization holds
// such an aggregate.
//
// The answer only says where to look: whoever asks must still load the aggregate from
// that organization and check it (a token's secret hash), as for any other request.
func (s *Store) OrgOf(ctx context.Context, aggregateType, id string) (orgID string, ok bool, err error) {
	if !subjectToken(aggregateType) || !subjectToken(id) {
		return "", false, nil
	}
	raw, err := s.getMsg(ctx, MsgRequest{Seq: 1, NextFor: Subject("*", aggregateType, id)})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("find the organization of %s %s: %w", aggregateType, id, err)
	}
	rest, found := strings.CutPrefix(raw.Subject, SubjectPrefix+".")
	org, tail, _ := strings.Cut(rest, ".")
	if !found || tail != aggregateType+"."+id {
		return "", false, fmt.Errorf("find the organization of %s %s: the log answered with subject %q", aggregateType, id, raw.Subject)
	}
	return org, true, nil
}

// subjectToken reports whether s can stand as one literal token of a subject: a
// wildcard or a dot in an id would widen the filter to other aggregates.
func subjectToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}
