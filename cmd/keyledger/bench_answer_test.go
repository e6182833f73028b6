package main

import "testing"

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

// The answers the server writes (compact, as encoding/json writes them) are read by
// jsonscan, not handed to encoding/json: the fast path is the one the phases take.
func TestBenchAnswersTakeTheScan(t *testing.T) {
	t.Parallel()
	row := secretRow("0193a5b2-7c1d", "BENCH_SEED_0000042", 12)
	if a, ok := scanSecretAnswer([]byte(row)); !ok || string(a.id) != "0193a5b2-7c1d" || string(a.name) != "BENCH_SEED_0000042" || a.version != 12 {
		t.Fatalf("%s: %+v, %v", row, a, ok)
	}
	if values := `{"values":{"A":"bench_00ff","B":"é"},"seq":9}`; !scanValuesAnswer([]byte(values)) {
		t.Fatalf("%s: not read", values)
	}
}
