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
