package changefeed

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
)

var noticeHostile = []string{
	"", "secret.updated", "production", "01J0000000000000000000000A", `quote " backslash \ /`,
	"tab\tnl\nnul\x00", "<&>", "ünïcødé 🔑", "line\u2028para\u2029", "bad \xff\xc3", "\xe2\x82",
}

func checkMarshalSealedNotice(t *testing.T, n *wire.SealedChangeNotice) {
	t.Helper()
	want, wantErr := json.Marshal(n)
	got, err := marshalSealedNotice(n)
	if (err != nil) != (wantErr != nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("error %v, encoding/json's %v", err, wantErr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("marshalSealedNotice:\n got %s\nwant %s", got, want)
	}
}

func randomSealedNotice(rnd *rand.Rand) *wire.SealedChangeNotice {
	pick := func() string { return noticeHostile[rnd.IntN(len(noticeHostile))] }
	num := func() int { return []int{0, 1, -1, 3, math.MaxInt, math.MinInt}[rnd.IntN(6)] }
	at := []time.Time{
		{}, time.Unix(rnd.Int64N(4_000_000_000), rnd.Int64N(1_000_000_000)).UTC(),
		time.Date(2026, 12, 7, 14, 3, 9, 5, time.FixedZone("X", -7200)), time.Date(10_000, 1, 1, 0, 0, 0, 0, time.UTC),
	}[rnd.IntN(4)]
	return &wire.SealedChangeNotice{
		ChangeNotice: wire.ChangeNotice{
			Type: pick(), OrgID: pick(), SecretID: pick(), Name: pick(), Env: pick(),
			OldVersion: num(), NewVersion: num(), ActorID: pick(), At: at,
			Seq: []uint64{0, 1, math.MaxUint64}[rnd.IntN(3)], Part: num(), Parts: num(),
		},
		NameSealed: pick(),
	}
}

// The change stream's bytes do not change with the encoder.
func TestMarshalSealedNoticeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(5, 8))
	for range 20_000 {
		checkMarshalSealedNotice(t, randomSealedNotice(rnd))
	}
}

func FuzzMarshalSealedNoticeMatchesEncodingJSON(f *testing.F) {
	f.Add("secret.created", "production", "c2VhbGVk", uint64(1))
	f.Add(`"\`, "<>&", "\xff\u2028", uint64(0))
	f.Fuzz(func(t *testing.T, typ, env, sealed string, seed uint64) {
		n := randomSealedNotice(rand.New(rand.NewPCG(seed, 2)))
		n.Type, n.Env, n.NameSealed = typ, env, sealed
		checkMarshalSealedNotice(t, n)
	})
}
