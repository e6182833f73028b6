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
	got := commands.FetchedValues{Seq: 42, Values: []commands.NamedValue{
		{Name: "A", Value: domain.NewPlaintext(`quote " backslash \ slash /`)},
		{Name: "B", Value: domain.NewPlaintext("tab\tnewline\nreturn\rbell\x07nul\x00del\x7f")},
		{Name: "C", Value: domain.NewPlaintext("<script>&amp;</script>")},
		{Name: "D", Value: domain.NewPlaintext("ünïcødé ✓ 🔑")},
		{Name: "E_", Value: domain.NewPlaintext("postgres://u:p@h/db?sslmode=require")},
	}}
	m := map[string]string{}
	for _, v := range got.Values {
		m[v.Name] = v.Value.Reveal()
	}
	want, err := json.Marshal(wire.Values{Values: m, Seq: got.Seq})
	if err != nil {
		t.Fatal(err)
	}
	if b := encodeValues(got); !bytes.Equal(b, want) {
		t.Fatalf("encoded\n%s\nwant\n%s", b, want)
	}
	if b := encodeValues(commands.FetchedValues{Seq: 7}); string(b) != `{"values":{},"seq":7}` {
		t.Fatalf("empty: %s", b)
	}
}
