package main

import (
	"encoding/json"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

// validJSONCorpus is JSON and near-JSON: every kind of value, and the mistakes a
// scanner can let through.
var validJSONCorpus = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `1`, `-`, `01`, `1.`, `.5`, `1.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-1.5e-3`, `+1`,
	`true`, `false`, `null`, `tru`, `nul`, `True`, `nulll`, `truefalse`,
	`"a"`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u00e9"`, `"\u00E9"`, `"\u00g9"`, `"\u00e"`, `"\x"`, `"a`, `"\"`, "\"\x01\"", "\"\x7f\"", "\"é\"", "\"\xff\"",
	`{"a":1}`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a":}`, `{a:1}`, `{"a":1 "b":2}`, `{"a":1,"b":[1,2,{"c":null}]}`, ` { "a" : [ 1 , 2 ] } `,
	`[1,2]`, `[1,]`, `[,1]`, `[1 2]`, `[`, `]`, `[[[]]]`, `[[[]]`, `{"a":{"b":{}}}`, `{"a":{"b":{}}`, `{}}`, `{} {}`, `1 2`, "\t[1]\r\n",
	`{"values":{"A":"1","B":"2"},"seq":9}`,
}

// validJSON is json.Valid, on the corpus and on thousands of random cuts, splices and
// byte changes of it and of a secret row.
func TestValidJSONIsJSONValid(t *testing.T) {
	t.Parallel()
	corpus := append(append([]string(nil), validJSONCorpus...), secretRow("x", "BENCH_\"é\"", 3))
	check := func(s string) {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Fatalf("validJSON(%.200q) = %v, json.Valid %v", s, got, want)
		}
	}
	for _, s := range append(corpus, strings.Repeat("[", 10000)+strings.Repeat("]", 10000), strings.Repeat("[", 10001)+strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 10001)+"1"+strings.Repeat("}", 10001)) {
		check(s)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	const alphabet = "{}[]\":,\\ 0123456789-+.eEtrufalsn\x01\xff/ubx"
	for range 50000 {
		s := []byte(corpus[rng.IntN(len(corpus))])
		for range 1 + rng.IntN(3) {
			switch i := rng.IntN(len(s) + 1); rng.IntN(4) {
			case 0: // cut
				s = s[:i]
			case 1: // insert a byte
				s = append(s[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, s[i:]...)...)
			case 2: // change a byte
				if i < len(s) {
					s[i] = alphabet[rng.IntN(len(alphabet))]
				}
			case 3: // splice another value in
				other := corpus[rng.IntN(len(corpus))]
				s = append(s[:i], append([]byte(other), s[i:]...)...)
			}
		}
		check(string(s))
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range validJSONCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", b, got, want)
		}
	})
}

// A values fetch's check passes what the server writes and refuses what the typed
// client's decode into wire.Values refused, and a missing part besides.
func TestCheckValuesAnswer(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"values":{"A":"1","B":"x\"y"},"seq":9}`, `{"values":{},"seq":0}`, ` { "values" : { "A" : "1" } , "seq" : 12 } `} {
		if err := checkValuesAnswer([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	for _, body := range []string{
		`{"values":{"A":"1"},"seq":9`, `{"values":{"A":"1"},"seq":9} x`, `{"values":{"A":1},"seq":9}`, `{"values":["A"],"seq":9}`,
		`{"values":{"A":"1"},"seq":-1}`, `{"values":{"A":"1"},"seq":1.5}`, `{"values":{"A":"1"},"seq":"9"}`,
		`{"values":{"A":"1"}}`, `{"seq":9}`, `{"values":{"A":null},"seq":9}`, `[]`, ``,
	} {
		if err := checkValuesAnswer([]byte(body)); err == nil {
			t.Errorf("%s: passed", body)
		}
	}
}
