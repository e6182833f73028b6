package eventstore

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// decodePubAck is how jetstream reads a stream's answer to a publish (publishMsg in
// nats.go's jetstream/publish.go), the reference parsePubAck keeps to.
func decodePubAck(data []byte) (*jetstream.PubAck, error) {
	var answer struct {
		Type  string              `json:"type"`
		Error *jetstream.APIError `json:"error,omitempty"`
		*jetstream.PubAck
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return nil, jetstream.ErrInvalidJSAck
	}
	if answer.Error != nil {
		return nil, answer.Error
	}
	if answer.PubAck == nil || answer.PubAck.Stream == "" {
		return nil, jetstream.ErrInvalidJSAck
	}
	return answer.PubAck, nil
}

// pubAckAnswers are answers nats-server 2.15 writes (stream.go's pubAck template, the
// duplicate's suffix, its errors) and near misses of them.
var pubAckAnswers = []string{
	`{"stream":"KEYLEDGER_EVENTS","seq":1}`,
	`{"stream":"KEYLEDGER_EVENTS","seq":18446744073709551615}`,
	`{"stream":"KEYLEDGER_EVENTS","domain":"hub","seq":42}`,
	`{"stream":"KEYLEDGER_EVENTS","seq":7,"duplicate": true}`,
	`{"stream":"KEYLEDGER_EVENTS","domain":"hub","seq":7,"duplicate": true}`,
	`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"KEYLEDGER_EVENTS","seq":0}`,
	`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`,
	`{"stream":"KEYLEDGER_EVENTS","seq":7,"duplicate":true}`,
	`{"stream":"KEYLEDGER_EVENTS","seq":7,"batch":"b1","count":3}`,
	`{"stream":"KEYLEDGER_EVENTS","seq":18446744073709551616}`,
	`{"stream":"KEYLEDGER_EVENTS","seq":007}`,
	`{"stream":"KEYLEDGER_EVENTS","seq":-1}`,
	`{"stream":"KEY\u004cEDGER","seq":3}`,
	`{"stream":"","seq":3}`,
	`{"stream":"KEYLEDGER_EVENTS","seq":3} `,
	`{"stream":"KEYLEDGER_EVENTS","seq":3`,
	`{"stream":"KEYLEDGER_EVENTS","seq":3,"val":"12"}`,
	`{"seq":3}`,
	``,
	`null`,
}

// parsePubAck answers every answer as jetstream does, the acknowledgements it reads by
// hand included; a refusal keeps its *jetstream.APIError for errors.As (wrapped in
// "nats: ", as jetstream wraps it).
func TestParsePubAckAnswersAsJetStreamDoes(t *testing.T) {
	for _, answer := range pubAckAnswers {
		got, gotErr := parsePubAck([]byte(answer))
		want, wantErr := decodePubAck([]byte(answer))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: parsed %+v, jetstream reads %+v", answer, got, want)
		}
		var wantAPI, gotAPI *jetstream.APIError
		switch {
		case errors.As(wantErr, &wantAPI):
			if !errors.As(gotErr, &gotAPI) || *gotAPI != *wantAPI {
				t.Errorf("%s: error %v, jetstream's is %v", answer, gotErr, wantErr)
			}
		case !errors.Is(gotErr, wantErr) && gotErr != wantErr:
			t.Errorf("%s: error %v, jetstream's is %v", answer, gotErr, wantErr)
		}
	}
	if _, ok := readPubAck([]byte(pubAckAnswers[0])); !ok {
		t.Fatal("the server's acknowledgement of a stored message was left to encoding/json")
	}
	dup, ok := readPubAck([]byte(pubAckAnswers[3]))
	if !ok || !dup.Duplicate || dup.Sequence != 7 {
		t.Fatalf("a duplicate's acknowledgement read as %+v, %v", dup, ok)
	}
}

// Whatever readPubAck reads by hand, encoding/json reads the same way.
func FuzzReadPubAck(f *testing.F) {
	for _, answer := range pubAckAnswers {
		f.Add([]byte(answer))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := readPubAck(data)
		if !ok {
			return
		}
		want, err := decodePubAck(data)
		if err != nil {
			t.Fatalf("%q: read %+v by hand, encoding/json fails: %v", data, got, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: read %+v by hand, encoding/json reads %+v", data, got, want)
		}
	})
}
