package eventstore

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

func sampleEnvelopes() []envelope {
	at := time.Date(2026, 12, 2, 19, 7, 28, 123456789, time.UTC)
	full := envelope{
		ID: "01JEXAMPLE0000000000000000", Type: "secret.revealed", Schema: 1, Org: "6f1c2d3e-0000-4000-8000-000000000001",
		AggType: domain.AggregateAccess, AggID: "6f1c2d3e-0000-4000-8000-000000000002", Position: 17, Time: at,
		Actor:   domain.Actor{UserID: "u", TokenID: "t", IP: "10.1.2.3", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) é"},
		Payload: "v1:AAECAwQFBgcICQ==",
		More: []envelopeEvent{
			{ID: "E2", Type: "secret.revealed", Schema: 1, Payload: "v1:BB=="},
			{ID: "E3", Type: "secret.revealed", Schema: 2, Payload: "v1:CC==", Own: &eventOwner{Position: 1, Time: at.Add(time.Second),
				Actor: domain.Actor{TokenID: "tok"}, Idem: &domain.IdempotencyMark{Key: "k", Request: "r"}}},
		},
		Idem: &domain.IdempotencyMark{Key: "key"},
	}
	plain := envelope{ID: "A", Type: "user.registered", Schema: 1, Org: domain.PlatformScope, AggType: domain.AggregateUser,
		AggID: "x", Position: 0, Time: at.In(time.FixedZone("CET", 3600)), Payload: "p"}
	return []envelope{full, plain, {}}
}

// What the store writes (json.Marshal of an envelope, with every field, a coalesced
// message's owners and idempotency marks, non-ASCII text) is read without encoding/
// json, into exactly what encoding/json reads.
func TestScanEnvelopeReadsWhatTheStoreWrites(t *testing.T) {
	t.Parallel()
	for i, e := range sampleEnvelopes() {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var fast, want envelope
		if !scanEnvelope(data, &fast) {
			t.Fatalf("envelope %d is left to encoding/json: %s", i, data)
		}
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("envelope %d:\n%+v\nencoding/json:\n%+v", i, fast, want)
		}
	}
}

// Input in any other shape is left to encoding/json, whose result or error it gets.
func TestScanEnvelopeLeavesTheRestToEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"id":"a\"b"}`, `{"id":"caf\u00e9"}`, `{"ID":"x"}`, `{ "id":"x"}`, `{"id":"x"} `, `{"id":"x","id":"y"}`,
		`{"schema":1.0}`, `{"schema":01}`, `{"schema":-1}`, `{"schema":1e2}`, `{"schema":99999999999999999999}`,
		`{"idem":null}`, `{"more":null}`, `{"time":"yesterday"}`, `{"id":"\xff"}`, `{"id":"x"`, `{"unknown":1}`,
		`{"actor":{"user_id":"u","user_id":"v"}}`, `{"more":[{"own":{"version":1},"own":{"time":"2026-01-01T00:00:00Z"}}]}`,
		`[]`, ``, `{"id":"tab	inside"}`,
	} {
		var fast envelope
		if scanEnvelope([]byte(in), &fast) {
			t.Fatalf("%q was read without encoding/json", in)
		}
		var got, want envelope
		gotErr := unmarshalEnvelope([]byte(in), &got)
		wantErr := json.Unmarshal([]byte(in), &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %+v, %v; encoding/json %+v, %v", in, got, gotErr, want, wantErr)
		}
	}
}

// Whatever the input, what is read without encoding/json is what encoding/json reads.
func FuzzScanEnvelopeMatchesEncodingJSON(f *testing.F) {
	for _, e := range sampleEnvelopes() {
		data, _ := json.Marshal(e)
		f.Add(data)
	}
	f.Add([]byte(`{"id":"x","schema":0,"version":12,"time":"2026-12-02T19:07:28.1+01:00","more":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast envelope
		if !scanEnvelope(data, &fast) {
			return
		}
		var want envelope
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("%q read without encoding/json, which refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%q:\n%+v\nencoding/json:\n%+v", data, fast, want)
		}
	})
}

func BenchmarkUnmarshalEnvelope(b *testing.B) {
	data, _ := json.Marshal(sampleEnvelopes()[0])
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e envelope
			if err := unmarshalEnvelope(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e envelope
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
