package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// requestTypes are bodies the API decodes, for the fast path's tests: flat ones, one
// with a nested object it walks (values), one whose nested values it does not (a map).
var requestTypes = []reflect.Type{
	reflect.TypeFor[*createSecretRequest](),
	reflect.TypeFor[*updateSecretRequest](),
	reflect.TypeFor[*revealRequest](),
	reflect.TypeFor[*createWebhookRequest](),
	reflect.TypeFor[*signupRequest](),
}

// The bodies clients send most (compact JSON, as browsers' JSON.stringify and Go's
// Marshal write it) take the fast path; anything it cannot read as checkFields would,
// or that checkFields refuses, goes to checkFields.
func TestKnownCompactTakesTheBodiesClientsSend(t *testing.T) {
	t.Parallel()
	create := reflect.TypeFor[*createSecretRequest]()
	update := reflect.TypeFor[*updateSecretRequest]()
	for _, tc := range []struct {
		name string
		t    reflect.Type
		body string
		fast bool
	}{
		{"a create", create, `{"name":"STRIPE_SECRET_KEY","description":"live key","values":{"production":"sk_live_51HxyzTESTRgA1","staging":"sk_test"}}`, true},
		{"a create without values", create, `{"name":"K"}`, true},
		{"an empty object", create, `{}`, true},
		{"an update with a null value and a version", update, `{"values":{"staging":null,"production":"v2"},"expected_version":3}`, true},
		{"a key of its own in an update's values (not walked)", update, `{"values":{"qa":"x"}}`, true},
		{"an unknown field", create, `{"name":"K","owner":"x"}`, false},
		{"an unknown field in values", create, `{"name":"K","values":{"qa":"x"}}`, false},
		{"a field in another case", create, `{"Name":"K"}`, false},
		{"values null", create, `{"name":"K","values":null}`, false},
		{"whitespace", create, `{"name": "K"}`, false},
		{"an escape", create, `{"name":"K","description":"a \"quoted\" word"}`, false},
		{"an escaped key", create, `{"n\u0061me":"K"}`, false},
		{"not an object", create, `["name"]`, false},
		{"something after the object", create, `{"name":"K"}{}`, false},
		{"invalid UTF-8", create, "{\"name\":\"\xff\"}", false},
	} {
		if got := knownCompact([]byte(tc.body), tc.t); got != tc.fast {
			t.Errorf("%s: knownCompact(%s) = %v, want %v", tc.name, tc.body, got, tc.fast)
		}
	}
}

// The fast path never accepts a body that checkFields refuses, nor one that is not
// JSON: whatever it lets through, checkFields would have let through.
func FuzzKnownCompactAgrees(f *testing.F) {
	for _, seed := range []string{
		`{"name":"K","description":"d","values":{"production":"v"}}`,
		`{"values":{"staging":null},"expected_version":1}`,
		`{"env":"production"}`,
		`{"url":"https://example.com/hook","environments":["production"],"description":"x"}`,
		`{"email":"a@example.com","password":"correct horse","name":"A"}`,
		`{"name":"K","values":{"qa":"x"}}`,
		`{"name":{"nested":[1,2,{"a":null}]}}`,
		`{"values":{"production":{"x":1}}}`,
		`{"name":"K","name":"L"}`,
		`{"a":-0.5e+3}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, typ := range requestTypes {
			if !knownCompact(body, typ) {
				continue
			}
			if !json.Valid(body) {
				t.Fatalf("%v: the fast path took %q, which is not JSON", typ, body)
			}
			if err := checkFields(body, typ, ""); err != nil {
				t.Fatalf("%v: the fast path took %q, which checkFields refuses: %v", typ, body, err)
			}
		}
	})
}

// The fast path of the body check allocates nothing for a create's body: it ran on
// every create and made a map of the type's fields for every object in the body
// (672 bytes in 4 allocations a create, some 1 % of a create phase's allocations).
func TestKnownCompactAllocatesNothing(t *testing.T) {
	body := []byte(`{"name":"STRIPE_SECRET_KEY","description":"live key","values":{"development":"sk_test_1","staging":"sk_test_2","production":"sk_live_51HxyzTESTRgA1"}}`)
	typ := reflect.TypeOf(&createSecretRequest{})
	if !knownCompact(body, typ) {
		t.Fatal("a create's body did not take the fast path")
	}
	if n := testing.AllocsPerRun(100, func() { knownCompact(body, typ) }); n != 0 {
		t.Fatalf("the body check of a create allocated %.0f times, want none", n)
	}
}

// unicodeText refuses bytes that are not UTF-8 and \u escapes of half a surrogate pair,
// and takes everything else json.Valid takes, escaped backslashes before a "u" included.
func TestUnicodeText(t *testing.T) {
	for _, c := range []struct {
		name, body string
		ok         bool
	}{
		{"ascii", `{"v":"plain"}`, true},
		{"multi-byte", `{"v":"héllo ☃ 😀"}`, true},
		{"escapes", `{"v":"a\"b\\c\n\t\u0000\u00e9"}`, true},
		{"a pair", `{"v":"\ud83d\ude00"}`, true},
		{"a pair in upper case", `{"v":"\uD83D\uDE00x"}`, true},
		{"an escaped backslash before u", `{"v":"\\ud800"}`, true},
		{"an escaped backslash, then a pair", `{"v":"\\\ud83d\ude00"}`, true},
		{"a surrogate in a key's pair", `{"\ud83d\ude00":"v"}`, true},
		{"bytes that are not UTF-8", "{\"v\":\"\xff\xfe\"}", false},
		{"a truncated sequence", "{\"v\":\"\xe2\x98\"}", false},
		{"an encoded surrogate", "{\"v\":\"\xed\xa0\x80\"}", false},
		{"a lone high surrogate", `{"v":"\ud800"}`, false},
		{"a lone high surrogate at the end", `{"v":"x\udbff"}`, false},
		{"a lone low surrogate", `{"v":"\udc00"}`, false},
		{"a high surrogate before a letter", `{"v":"\ud800\u0041"}`, false},
		{"a high surrogate before another", `{"v":"\ud800\ud800"}`, false},
		{"a high surrogate before an escape", `{"v":"\ud800\n"}`, false},
		{"a lone surrogate in a key", `{"\udfff":"v"}`, false},
		{"a lone surrogate after a pair", `{"v":"\ud83d\ude00\ude00"}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !json.Valid([]byte(c.body)) {
				t.Fatalf("%q is not JSON: the test's mistake", c.body)
			}
			if got := unicodeText([]byte(c.body)); got != c.ok {
				t.Errorf("unicodeText(%q) = %v, want %v", c.body, got, c.ok)
			}
		})
	}
}

// What unicodeText takes, encoding/json decodes without a replacement character it
// was not sent: every string of the body comes back the same when encoded again.
func FuzzUnicodeTextLosesNothing(f *testing.F) {
	for _, s := range []string{`{"v":"\ud83d\ude00"}`, `{"v":"\\ud800"}`, `{"v":"\ud800"}`, "{\"v\":\"\xff\"}", `["\uFFFD"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) || !unicodeText(body) {
			return
		}
		// Numbers as written: a float64 cannot hold every number JSON can (1e700).
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("unmarshal %q: %v", body, err)
		}
		sent := strings.Count(string(body), "\uFFFD") + strings.Count(strings.ToLower(string(body)), `\ufffd`)
		got, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if kept := strings.Count(string(got), "\uFFFD"); kept > sent {
			t.Fatalf("%q decoded with %d replacement characters, %d sent", body, kept, sent)
		}
	})
}

// duplicateKey finds a key named twice in any object of a body, compact or not, escaped
// or not, nested or not; keys repeated in different objects are no duplicate.
func TestDuplicateKey(t *testing.T) {
	many := func(n int, last string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"k%d":%d,`, i, i)
		}
		b.WriteString(`"` + last + `":0}`)
		return b.String()
	}
	for _, c := range []struct {
		name, body, dup string
	}{
		{"none", `{"name":"A","values":{"production":"x"}}`, ""},
		{"top level", `{"name":"A","name":"B"}`, "name"},
		{"nested", `{"name":"A","values":{"production":"x","production":"y"}}`, "production"},
		{"in an array's object", `{"items":[{"a":1},{"a":2,"a":3}]}`, "a"},
		{"the same key in two objects", `{"a":{"b":1},"b":{"a":2},"c":[{"a":1},{"a":1}]}`, ""},
		{"escaped", `{"name":"A","n\u0061me":"B"}`, "name"},
		{"with whitespace", "{ \"env\" : \"development\" ,\n \"env\" : \"production\" }", "env"},
		{"an empty key twice", `{"":1,"":2}`, ""},
		{"many keys", many(20, "k20"), ""},
		{"many keys, the last again", many(20, "k3"), "k3"},
		{"deep", strings.Repeat(`{"a":`, 100) + `{"b":1,"b":2}` + strings.Repeat("}", 100), "b"},
		{"deep, none", strings.Repeat(`[`, 100) + `{"b":1}` + strings.Repeat("]", 100), ""},
		{"not an object", `"name"`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !json.Valid([]byte(c.body)) {
				t.Fatalf("%q is not JSON: the test's mistake", c.body)
			}
			dup, twice := duplicateKey([]byte(c.body))
			want := c.dup != "" || c.name == "an empty key twice"
			if twice != want || dup != c.dup {
				t.Errorf("duplicateKey(%q) = %q, %v; want %q, %v", c.body, dup, twice, c.dup, want)
			}
		})
	}
}

// The compact bodies clients send are checked for duplicate keys without allocating.
func TestDuplicateKeyAllocatesNothing(t *testing.T) {
	body := []byte(`{"name":"STRIPE_KEY","description":"Stripe","values":{"development":"d","staging":"s","production":"p"}}`)
	if n := testing.AllocsPerRun(100, func() { duplicateKey(body) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// What duplicateKey lets through, encoding/json decodes without merging two members:
// an object decodes into a map of as many keys as its members.
func FuzzDuplicateKeyAgrees(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `[{"a":{"a":1}}]`, `{"a":1}`, "{ \"b\" : [ {\"c\":1 , \"c\":2} ] }"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		_, twice := duplicateKey(body)
		if twice != hasMergedMember(t, json.NewDecoder(strings.NewReader(string(body)))) {
			t.Fatalf("duplicateKey(%q) = %v", body, twice)
		}
	})
}

// hasMergedMember says, independently of duplicateKey, whether an object of the value
// under dec has more members than keys once decoded.
func hasMergedMember(t *testing.T, dec *json.Decoder) bool {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	var walk func(v json.RawMessage) bool
	walk = func(v json.RawMessage) bool {
		v = json.RawMessage(strings.TrimSpace(string(v)))
		switch {
		case len(v) > 0 && v[0] == '{':
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				t.Fatal(err)
			}
			d := json.NewDecoder(strings.NewReader(string(v)))
			if _, err := d.Token(); err != nil { // the opening brace
				t.Fatal(err)
			}
			members := 0
			for d.More() {
				var value json.RawMessage
				if _, err := d.Token(); err != nil { // the key
					t.Fatal(err)
				}
				if err := d.Decode(&value); err != nil {
					t.Fatal(err)
				}
				members++
			}
			if members != len(m) {
				return true
			}
			for _, sub := range m {
				if walk(sub) {
					return true
				}
			}
		case len(v) > 0 && v[0] == '[':
			var a []json.RawMessage
			if err := json.Unmarshal(v, &a); err != nil {
				t.Fatal(err)
			}
			for _, sub := range a {
				if walk(sub) {
					return true
				}
			}
		}
		return false
	}
	return walk(raw)
}
