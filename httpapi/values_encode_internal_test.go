package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// The values fetch writes its JSON by hand (no map, no sort): byte for byte what
// encoding/json writes for the same values, tricky text included.
func TestEncodeValuesMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	names := []string{"A", "B", "C", "D", "E_"}
	values := []string{
		`quote " backslash \ slash /`,
		"tab\tnewline\nreturn\rbell\x07nul\x00del\x7f",
		"<script>&amp;</script>",
		"ünïcødé ✓ 🔑",
		"postgres://u:p@h/db?sslmode=require",
	}
	got := commands.FetchedValues{AsOf: 40, Seq: 42, Names: names, Values: domain.NewPlaintexts(len(values), 0)}
	m := map[string]string{}
	for i, v := range values {
		got.Values.Add([]byte(v))
		m[names[i]] = v
	}
	want, err := json.Marshal(wire.Values{Values: m, Seq: got.AsOf})
	if err != nil {
		t.Fatal(err)
	}
	if b := encodeValues(got); !bytes.Equal(b, want) {
		t.Fatalf("encoded\n%s\nwant\n%s", b, want)
	}
	// The answer's seq is the log's point the values are as of, not the audit record's.
	if b := encodeValues(commands.FetchedValues{AsOf: 7, Seq: 9}); string(b) != `{"values":{},"seq":7}` {
		t.Fatalf("empty: %s", b)
	}
}
