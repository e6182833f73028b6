package subscriber_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// The projector publishes eventstore.ChangeNotice and subscribers decode
// wire.SealedChangeNotice: every field the stream stores must survive that decoding
// unchanged, and the wire type must know no field the stream lacks. (eventstore still
// declares its own struct; this test keeps the two in step until it uses the wire one.)
func TestStoredNoticeHasTheWireShape(t *testing.T) {
	t.Parallel()
	stored := eventstore.ChangeNotice{
		Type: "secret.updated", OrgID: "o", SecretID: "s", Name: "", NameSealed: "sealed", Env: "production",
		OldVersion: 1, NewVersion: 2, ActorID: "u", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seq: 9, Part: 1, Parts: 2,
	}
	data, err := json.Marshal(stored)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var n wire.SealedChangeNotice
	if err := dec.Decode(&n); err != nil {
		t.Fatalf("the stored notice %s does not decode as wire.SealedChangeNotice: %v", data, err)
	}
	again, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &b); err != nil {
		t.Fatal(err)
	}
	if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
		t.Fatalf("shapes differ:\nstored %s\nwire   %s", ja, jb)
	}
}

// mustJSON renders v with sorted keys, for comparison.
func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}
