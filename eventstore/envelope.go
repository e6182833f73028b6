package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// Header names that travel in clear beside the sealed payload. Ids and the type only:
// names, descriptions and values are inside the payload.
const (
	headerType    = "Kl-Type"
	headerEventID = "Kl-Event-Id"
)

// envelope is the stored form of one event. Payload is the event's JSON sealed with the
// organization's data key and bound to org, aggregate, version and type.
type envelope struct {
	ID      string       `json:"id"`
	Type    string       `json:"type"`
	Schema  int          `json:"schema"`
	Org     string       `json:"org"`
	AggType string       `json:"agg_type"`
	AggID   string       `json:"agg_id"`
	Version int          `json:"version"`
	Time    time.Time    `json:"time"`
	Actor   domain.Actor `json:"actor"`
	Payload string       `json:"payload"`
}

func (e envelope) aad() []byte {
	return []byte("keyledger/event/" + e.Org + "/" + e.AggType + "/" + e.AggID + "/" + strconv.Itoa(e.Version) + "/" + e.Type)
}

func (s *Store) sealEnvelope(ctx context.Context, env envelope, ev domain.Event) ([]byte, error) {
	plain, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", env.Type, err)
	}
	env.Payload, err = s.keys.Seal(ctx, env.Org, plain, env.aad())
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", env.Type, err)
	}
	return json.Marshal(env)
}

// decode opens one stored message into a recorded event.
func (s *Store) decode(ctx context.Context, seq uint64, data []byte) (domain.Recorded, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return domain.Recorded{}, fmt.Errorf("event %d: envelope: %w", seq, err)
	}
	plain, err := s.keys.Open(ctx, env.Org, env.Payload, env.aad())
	if err != nil {
		return domain.Recorded{}, fmt.Errorf("event %d (%s): %w", seq, env.Type, err)
	}
	ev, err := domain.DecodeEvent(env.Type, env.Schema, plain)
	if err != nil {
		return domain.Recorded{}, fmt.Errorf("event %d: %w", seq, err)
	}
	return domain.Recorded{
		Seq: seq, EventID: env.ID, OrgID: env.Org, AggregateType: env.AggType,
		AggregateID: env.AggID, Time: env.Time, Actor: env.Actor, Event: ev,
	}, nil
}
