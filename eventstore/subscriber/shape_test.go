package subscriber_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// The change stream's payload is wire.SealedChangeNotice, the type subscribers decode:
// what Publish stores decodes strictly (no field the wire type lacks), every field
// survives, and the name is stored sealed only.
func TestStoredNoticeHasTheWireShape(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	const org = "44444444-4444-4444-4444-444444444444"
	// The organization has a data key, as it does once it has events.
	if _, err := env.Store.Keyring().Seal(ctx, org, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	changes, err := changefeed.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	published := wire.ChangeNotice{
		Type: "secret.updated", OrgID: org, SecretID: "s", Name: "API_KEY", Env: "production",
		OldVersion: 1, NewVersion: 2, ActorID: "u", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seq: 9, Part: 1, Parts: 2,
	}
	if err := changes.Publish(ctx, published); err != nil {
		t.Fatal(err)
	}
	st, err := env.Store.JetStream().Stream(ctx, changefeed.ChangesStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Data))
	dec.DisallowUnknownFields()
	var stored wire.SealedChangeNotice
	if err := dec.Decode(&stored); err != nil {
		t.Fatalf("the stored notice %s does not decode as wire.SealedChangeNotice: %v", raw.Data, err)
	}
	if stored.NameSealed == "" || stored.Name != "" {
		t.Fatalf("stored name %q, sealed %q: want it sealed only", stored.Name, stored.NameSealed)
	}
	want := published
	want.Name = ""
	if stored.ChangeNotice != want {
		t.Fatalf("stored %+v, want %+v", stored.ChangeNotice, want)
	}
	if raw.Subject != changefeed.Subject(published) {
		t.Fatalf("subject %q, want %q", raw.Subject, changefeed.Subject(published))
	}
}
