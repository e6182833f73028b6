package jsonscan_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain/jsonscan"
)

// skipsWhole is whether Skip reads all of data as one value.
func skipsWhole(data string) bool {
	s := jsonscan.New([]byte(data))
	return s.Skip() && s.Done()
}

// Skip reads compact JSON values of every kind, and nothing that is not JSON; like
// the rest of the package it leaves whitespace and escapes to encoding/json.
func TestSkip(t *testing.T) {
	t.Parallel()
	for _, data := range []string{
		`"x"`, `""`, `"é•"`, `0`, `-0`, `12`, `-1.5`, `1e9`, `2.5E-3`, `1e+2`, `true`, `false`, `null`,
		`{}`, `[]`, `{"a":[1,{"b":null}],"c":"d"}`, `[[],[{}]]`,
	} {
		if !skipsWhole(data) {
			t.Errorf("%s: not read", data)
		}
	}
	for _, data := range []string{
		``, `x`, `"x`, `"a\"b"`, "\"\x01\"", `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `tru`, `nul`, `{`, `{"a"}`,
		`{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{ }`, `[ 1]`, `{1:2}`,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		if skipsWhole(data) {
			t.Errorf("%q: read", data)
		}
	}
	if !skipsWhole(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)) {
		t.Error("10,000 arrays inside one another: not read")
	}
}

// Whatever Skip reads whole is JSON.
func FuzzSkipReadsOnlyJSON(f *testing.F) {
	for _, seed := range []string{`{"a":[1,-2.5e3,{"b":null}],"c":"d"}`, `[true,false]`, `-0.1E+9`, `"é"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := jsonscan.New(data)
		if s.Skip() && s.Done() && !json.Valid(data) {
			t.Fatalf("Skip read %q, which is not JSON", data)
		}
	})
}
