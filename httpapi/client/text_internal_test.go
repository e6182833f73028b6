package client

import (
	"encoding/json"
	"testing"
)

// replacedBytes tells the escapes json.Marshal writes for bytes that are not UTF-8 from
// a real U+FFFD (written as itself) and from an escaped backslash before "ufffd".
func TestReplacedBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		v    any
		want bool
	}{
		{"text", map[string]string{"v": "héllo"}, false},
		{"a real U+FFFD", map[string]string{"v": "a\uFFFDb"}, false},
		{`a backslash before "ufffd"`, map[string]string{"v": `\ufffd`}, false},
		{`two backslashes before "ufffd"`, map[string]string{"v": `\\ufffd`}, false},
		{"a byte that is not UTF-8", map[string]string{"v": "a\xffb"}, true},
		{"after a backslash", map[string]string{"v": "\\\xff"}, true},
		{"in a key", map[string]string{"k\xfe": "v"}, true},
		{"in a nested value", map[string]any{"values": map[string]*string{"production": ptr("sk_\xff")}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := replacedBytes(b); got != c.want {
				t.Errorf("replacedBytes(%s) = %v, want %v", b, got, c.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }
