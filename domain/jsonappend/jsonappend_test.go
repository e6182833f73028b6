package jsonappend_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain/jsonappend"
)

// hostile are the strings a hand-written encoder gets wrong.
var hostile = []string{
	"", "plain", `quote " backslash \ slash /`, "tab\tnewline\nreturn\rbell\x07nul\x00del\x7f\b\f",
	"<script>&amp;</script>", "ünïcødé ✓ 🔑", "line\u2028para\u2029end", "bad \xff\xfe utf-8 \xc3", "\xe2\x82",
	"\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 above U+10FFFF", "\u00a0\ufeff\U0001f600",
}

func checkString(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	prefix := []byte("x,")
	got := jsonappend.String(prefix, s)
	if !bytes.Equal(got[len(prefix):], want) || string(got[:len(prefix)]) != "x," {
		t.Fatalf("String(%q) = %s, want %s", s, got[len(prefix):], want)
	}
}

func TestStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range hostile {
		checkString(t, s)
	}
	for c := range 256 {
		checkString(t, string([]byte{byte(c)}))
		checkString(t, "a"+string([]byte{byte(c)})+"b")
	}
}

func FuzzStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(checkString)
}

func TestNumbersMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{0, 1, -1, 42, math.MaxInt64, math.MinInt64} {
		want, _ := json.Marshal(v)
		if got := jsonappend.Int(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("Int(%d) = %s, want %s", v, got, want)
		}
	}
	for _, v := range []uint64{0, 7, math.MaxUint64} {
		want, _ := json.Marshal(v)
		if got := jsonappend.Uint(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("Uint(%d) = %s, want %s", v, got, want)
		}
	}
	for _, v := range []bool{false, true} {
		want, _ := json.Marshal(v)
		if got := jsonappend.Bool(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("Bool(%v) = %s, want %s", v, got, want)
		}
	}
}

// Time writes what time.Time's MarshalJSON writes, for times in UTC (its own
// digits) and in any other zone, of any year MarshalJSON accepts.
func TestTimeMatchesMarshalJSON(t *testing.T) {
	t.Parallel()
	times := []time.Time{
		{}, time.Unix(0, 0), time.Unix(-1, 0), time.Unix(-1, 999_999_999), time.Unix(1, 1),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 100_000_000, time.UTC), time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 15, 36, 12, 526_096_000, time.FixedZone("X", 3600)),
		time.Date(1600, 2, 29, 23, 59, 59, 10, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	rnd := rand.New(rand.NewPCG(13, 14))
	for range 20_000 {
		// Any second of the years 0 to 9999, and nanoseconds with a random count of
		// trailing zeros.
		sec := rnd.Int64N(253402300800+62167219200) - 62167219200
		ns, p := rnd.Int64N(1_000_000_000), int64(1)
		for range rnd.IntN(10) {
			p *= 10
		}
		ns = ns / p * p
		times = append(times, time.Unix(sec, ns))
	}
	for _, at := range times {
		for _, tt := range []time.Time{at.UTC(), at.In(time.FixedZone("Y", -5*3600))} {
			want, err := tt.MarshalJSON()
			if err != nil {
				continue
			}
			if got := jsonappend.Time(nil, tt); !bytes.Equal(got, want) {
				t.Fatalf("%v: got %s, want %s", tt, got, want)
			}
		}
	}
}

// MarshaledTime writes what json.Marshal writes for a time, and fails where it fails,
// with its error.
func TestMarshaledTimeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []time.Time{
		{}, time.Unix(1_796_650_316, 479_416_000).UTC(), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10_000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 7, 14, 3, 9, 5, time.FixedZone("X", -7200)),
		time.Date(2026, 12, 7, 14, 3, 9, 5, time.FixedZone("Y", 25*3600)),
	} {
		want, wantErr := json.Marshal(tt)
		got, err := jsonappend.MarshaledTime([]byte("x"), tt)
		if (err != nil) != (wantErr != nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("%v: error %v, encoding/json's %v", tt, err, wantErr)
		}
		if err == nil && string(got) != "x"+string(want) {
			t.Fatalf("%v: got %s, want x%s", tt, got, want)
		}
	}
}
