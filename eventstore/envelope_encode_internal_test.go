package eventstore

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// encodeHostile are strings an envelope may carry (a user agent, an IP, a type read
// back from an old message) that a hand-written encoder gets wrong.
var encodeHostile = []string{
	"", "01J0000000000000000000000A", "secret.created", `quote " backslash \ /`, "tab\tnl\ncr\rnul\x00del\x7f",
	"<script>&amp;</script>", "Mozilla/5.0 (ünïcødé ✓ 🔑)", "line\u2028para\u2029", "bad \xff\xfe utf-8 \xc3", "\xe2\x82",
}

func checkMarshalEnvelope(t *testing.T, env *envelope) {
	t.Helper()
	want, wantErr := json.Marshal(env)
	got, err := marshalEnvelope(env)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("error %v, encoding/json's %v", err, wantErr)
	}
	if err != nil {
		if err.Error() != wantErr.Error() {
			t.Fatalf("error %q, encoding/json's %q", err, wantErr)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("marshalEnvelope:\n got %s\nwant %s", got, want)
	}
}

func randomActor(rnd *rand.Rand, pick func() string) domain.Actor {
	var a domain.Actor
	for i, f := range []*string{&a.UserID, &a.TokenID, &a.IP, &a.UserAgent} {
		if rnd.IntN(3) > 0 || i == 0 && rnd.IntN(2) == 0 {
			*f = pick()
		}
	}
	return a
}

func randomIdem(rnd *rand.Rand, pick func() string) *domain.IdempotencyMark {
	if rnd.IntN(2) == 0 {
		return nil
	}
	m := &domain.IdempotencyMark{Key: pick()}
	if rnd.IntN(2) == 0 {
		m.Request = pick()
	}
	return m
}

func randomTime(rnd *rand.Rand) time.Time {
	switch rnd.IntN(8) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(2026, 12, 7, 14, 3, 9, 123_456_000, time.FixedZone("X", 3600))
	case 2:
		return time.Date(10_000, 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses it
	case 3:
		return time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		return time.Unix(rnd.Int64N(4_000_000_000), rnd.Int64N(1_000_000)*1000).UTC()
	}
}

func randomEnvelope(rnd *rand.Rand) *envelope {
	pick := func() string { return encodeHostile[rnd.IntN(len(encodeHostile))] }
	num := func() int {
		return []int{0, 1, -1, 7, 1 << 40, math.MaxInt, math.MinInt}[rnd.IntN(7)]
	}
	env := &envelope{
		ID: pick(), Type: pick(), Schema: num(), Org: pick(), AggType: pick(), AggID: pick(), Position: num(),
		Time: randomTime(rnd), Actor: randomActor(rnd, pick), Payload: pick(), Idem: randomIdem(rnd, pick),
	}
	if rnd.IntN(4) == 0 {
		env.More = []envelopeEvent{} // empty: omitted, as omitempty omits it
	}
	for range rnd.IntN(4) {
		e := envelopeEvent{ID: pick(), Type: pick(), Schema: num(), Payload: pick()}
		if rnd.IntN(2) == 0 {
			e.Own = &eventOwner{Position: num(), Time: randomTime(rnd), Actor: randomActor(rnd, pick), Idem: randomIdem(rnd, pick)}
		}
		env.More = append(env.More, e)
	}
	return env
}

// The log's bytes do not change with the encoder: marshalEnvelope writes what
// json.Marshal wrote for every envelope, and fails where it failed.
func TestMarshalEnvelopeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(31, 7))
	for range 20_000 {
		checkMarshalEnvelope(t, randomEnvelope(rnd))
	}
}

func FuzzMarshalEnvelopeMatchesEncodingJSON(f *testing.F) {
	f.Add("01J0000000000000000000000A", "secret.created", "Mozilla/5.0", "127.0.0.1", "c2VhbGVk", int64(1), uint64(3))
	f.Add(`"\`, "<>&", "\xff", "\u2028", "", int64(-1), uint64(0))
	f.Fuzz(func(t *testing.T, id, typ, agent, ip, payload string, position int64, seed uint64) {
		rnd := rand.New(rand.NewPCG(seed, 1))
		env := randomEnvelope(rnd)
		env.ID, env.Type, env.Actor.UserAgent, env.Actor.IP, env.Payload = id, typ, agent, ip, payload
		env.Position = int(position)
		if len(env.More) > 0 {
			env.More[0].Payload, env.More[0].Type = payload, typ
		}
		checkMarshalEnvelope(t, env)
	})
}

// BenchmarkMarshalEnvelope encodes a create's envelope (a payload of ~600 bytes
// sealed, a browser's user agent, an idempotency mark) both ways.
func BenchmarkMarshalEnvelope(b *testing.B) {
	env := &envelope{
		ID: "01JEXAMPLE0000000000000000", Type: "secret.created", Schema: 1,
		Org: "0193a7c2-6f1e-7a10-9c4b-2d6f0e8a1b3c", AggType: "secret", AggID: "0193a7c2-6f1e-7a10-9c4b-2d6f0e8a1b3d",
		Position: 1, Time: time.Date(2026, 12, 7, 14, 3, 9, 123_456_000, time.UTC),
		Actor: domain.Actor{UserID: "0193a7c2-6f1e-7a10-9c4b-2d6f0e8a1b3e", IP: "203.0.113.7",
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"},
		Payload: "v1." + string(bytes.Repeat([]byte("A"), 800)),
		Idem:    &domain.IdempotencyMark{Key: "3f1c0b6e", Request: "9a0d4c2b7e1f"},
	}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("by-hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshalEnvelope(env); err != nil {
				b.Fatal(err)
			}
		}
	})
}
