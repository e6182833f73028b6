package domain

import (
	"encoding/json"
	"reflect"
	"testing"
)

// scannedTypes are the event types scanEvent reads, each with a zero event of it.
var scannedTypes = []Event{SecretRevealed{}, SecretCreated{}, SecretUpdated{}, SecretDeleted{}}

func sampleScannedEvents() []Event {
	desc := "Stripe — live key"
	empty := ""
	return []Event{
		SecretRevealed{SecretID: "6f1c2d3e-0000-4000-8000-000000000002", Env: Production, Version: 17},
		SecretRevealed{},
		SecretCreated{Name: "STRIPE_KEY", Description: "clé", OwnerID: "u1", Values: map[Environment]ValueVersion{
			Development: {Version: 1, Mask: "sk_t…ab", Sealed: "v2.AQAAAAFhYmM"}, Production: {Version: 1, Mask: "••••", Sealed: "v2.AQAAAAJkZWY"}}},
		SecretCreated{Name: "EMPTY"},
		SecretUpdated{Description: &desc, Set: map[Environment]ValueVersion{Staging: {Version: 3, Mask: "x", Sealed: "s"}}, Removed: []Environment{Development}},
		SecretUpdated{Description: &empty},
		SecretUpdated{},
		SecretDeleted{Name: "OLD_KEY"},
	}
}

// What the store writes (json.Marshal of the event) is read without encoding/json,
// into exactly what encoding/json reads.
func TestScanEventReadsWhatTheStoreWrites(t *testing.T) {
	t.Parallel()
	for _, e := range sampleScannedEvents() {
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		fast, ok := scanEvent(e.EventType(), data)
		if !ok {
			t.Fatalf("%s %s is left to encoding/json", e.EventType(), data)
		}
		want, err := jsonDecode(data, e)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, want) || !reflect.DeepEqual(fast, e) {
			t.Fatalf("%s:\n%#v\nencoding/json:\n%#v", data, fast, want)
		}
	}
}

// Input in any other shape, and every other type, is left to encoding/json, whose
// result or error DecodeEvent gives.
func TestScanEventLeavesTheRestToEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ typ, in string }{
		{"SecretRevealed", `{"secret_id":"a\"b"}`}, {"SecretRevealed", `{"Secret_ID":"x"}`}, {"SecretRevealed", `{ "env":"x"}`},
		{"SecretRevealed", `{"version":-1}`}, {"SecretRevealed", `{"version":1.5}`}, {"SecretRevealed", `{"version":null}`},
		{"SecretRevealed", `{"env":"production","env":"staging"}`}, {"SecretRevealed", `{"unknown":1}`}, {"SecretRevealed", `{}x`},
		{"SecretRevealed", `{"secret_id":"\xff"}`}, {"SecretRevealed", `[]`}, {"SecretRevealed", ``},
		{"SecretCreated", `{"values":null}`}, {"SecretCreated", `{"values":{"dev":{"version":1},"dev":{"mask":"m"}}}`},
		{"SecretCreated", `{"values":{"dev":{"version":1,"version":2}}}`}, {"SecretCreated", `{"values":{"dev":null}}`},
		{"SecretUpdated", `{"description":null}`}, {"SecretUpdated", `{"removed":null}`}, {"SecretUpdated", `{"removed":["a",1]}`},
		{"SecretUpdated", `{"removed":["a",]}`}, {"SecretDeleted", `{"name":"A","name":"B"}`},
		{"UserRegistered", `{"email":"a@example.com"}`}, {"MemberAdded", `{"user_id":"u","role":"viewer"}`},
	} {
		if _, ok := scanEvent(tc.typ, []byte(tc.in)); ok {
			t.Fatalf("%s %q was read without encoding/json", tc.typ, tc.in)
		}
		got, gotErr := DecodeEvent(tc.typ, 1, []byte(tc.in))
		want, wantErr := decodeByType(tc.typ, []byte(tc.in))
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s %q: %#v, %v; encoding/json %#v, %v", tc.typ, tc.in, got, gotErr, want, wantErr)
		}
	}
}

// jsonDecode is encoding/json's Unmarshal into a new event of zero's type.
func jsonDecode(data []byte, zero Event) (Event, error) {
	p := reflect.New(reflect.TypeOf(zero))
	if err := json.Unmarshal(data, p.Interface()); err != nil {
		return nil, err
	}
	return p.Elem().Interface().(Event), nil
}

// decodeByType is encoding/json's reading of a payload of one of the scanned types
// (and of the two others the test names).
func decodeByType(typ string, data []byte) (Event, error) {
	for _, zero := range append(scannedTypes, UserRegistered{}, MemberAdded{}) {
		if zero.EventType() == typ {
			return jsonDecode(data, zero)
		}
	}
	return nil, nil
}

// Whatever the input, what is read without encoding/json is what encoding/json reads.
func FuzzScanEventMatchesEncodingJSON(f *testing.F) {
	for _, e := range sampleScannedEvents() {
		data, _ := json.Marshal(e)
		for i, zero := range scannedTypes {
			if zero.EventType() == e.EventType() {
				f.Add(uint8(i), data)
			}
		}
	}
	f.Add(uint8(0), []byte(`{"secret_id":"x","env":"production","version":01}`))
	f.Add(uint8(1), []byte(`{"name":"A","values":{}}`))
	f.Add(uint8(2), []byte(`{"set":{"production":{"version":2,"mask":"m","sealed":"s"}},"removed":["staging"]}`))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		zero := scannedTypes[int(which)%len(scannedTypes)]
		fast, ok := scanEvent(zero.EventType(), data)
		if !ok {
			return
		}
		want, err := jsonDecode(data, zero)
		if err != nil {
			t.Fatalf("%s %q was read without encoding/json, which refuses it: %v", zero.EventType(), data, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%s %q:\n%#v\nencoding/json:\n%#v", zero.EventType(), data, fast, want)
		}
	})
}

func BenchmarkDecodeSecretRevealed(b *testing.B) {
	data, _ := json.Marshal(SecretRevealed{SecretID: "6f1c2d3e-0000-4000-8000-000000000002", Env: Production, Version: 17})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvent("SecretRevealed", 1, data); err != nil {
			b.Fatal(err)
		}
	}
}
