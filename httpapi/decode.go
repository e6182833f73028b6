package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/domain/jsonscan"
)

// decodeBody decodes the request body into dst (a pointer to a struct with json tags)
// strictly: a body that is not JSON is invalid_json; a field dst does not name (names
// are matched exactly, not case-insensitively as encoding/json would), a value of the
// wrong type or a body that is not an object is invalid_request. No part of the body
// is echoed back except the name of an offending field.
func decodeBody(c *fiber.Ctx, dst any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return errInvalidJSON("The request body is empty; send a JSON object.")
	}
	if !json.Valid(body) {
		return errInvalidJSON("The request body is not valid JSON.")
	}
	if !unicodeText(body) {
		return errInvalidJSON("The request body is not Unicode text: it holds bytes that are not UTF-8, or a \\u escape of half a surrogate pair.")
	}
	if key, twice := duplicateKey(body); twice {
		return errInvalidRequest(fmt.Sprintf("The request body names field %s twice.", quoteField(key)))
	}
	if t := reflect.TypeOf(dst); !knownCompact(body, t) {
		if err := checkFields(body, t, ""); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(body, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errInvalidRequest(fmt.Sprintf("Field %s has the wrong type.", quoteField(te.Field)))
		}
		return errInvalidRequest("The request body does not have the shape this endpoint expects.")
	}
	return nil
}

// unicodeText says whether a body json.Valid accepted holds Unicode text only: UTF-8
// throughout (RFC 8259 8.1), and no \u escape of a surrogate outside a high-low pair
// (RFC 7493 2.1). encoding/json decodes either into U+FFFD without a word, so a value
// sent with them was stored as something else than what was sent, and answered 201:
// values are stored and revealed byte for byte (API.md), so such a body is refused.
func unicodeText(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	// In valid JSON a backslash is in a string and starts an escape: \uXXXX, or two
	// bytes for any other.
	for i := bytes.IndexByte(body, '\\'); i >= 0; i = nextEscape(body, i) {
		if body[i+1] != 'u' {
			i += 2
			continue
		}
		r := hex4(body[i+2:])
		i += 6
		if !utf16.IsSurrogate(r) {
			continue
		}
		// Half a pair: the other half must follow at once, and the two must decode.
		if len(body) < i+6 || body[i] != '\\' || body[i+1] != 'u' ||
			utf16.DecodeRune(r, hex4(body[i+2:])) == utf8.RuneError {
			return false
		}
		i += 6
	}
	return true
}

// nextEscape is where the next backslash from i on is, -1 when there is none.
func nextEscape(body []byte, i int) int {
	if j := bytes.IndexByte(body[i:], '\\'); j >= 0 {
		return i + j
	}
	return -1
}

// duplicateKey finds a key that an object of a body (valid JSON) names twice.
// encoding/json keeps the last of the two values; whatever read the body before the
// server (a proxy's rules, a gateway's log) may have kept the first, so a body that
// says two things about one field is refused instead of read either way. Compact bodies
// are walked in place (jsonscan, no allocation); anything else, escaped keys among it,
// token by token.
func duplicateKey(body []byte) (string, bool) {
	s := jsonscan.New(body)
	var dup []byte
	if scanKeys(&s, 0, &dup) && s.Done() {
		return "", false
	}
	if dup != nil {
		return string(dup), true
	}
	return decodeKeys(json.NewDecoder(bytes.NewReader(body)))
}

// maxScanKeys is the most keys scanKeys compares within one object; an object with
// more goes to decodeKeys, which keeps them in a map.
const maxScanKeys = 16

// scanKeys reads one value under s, setting dup to a key an object in it names twice;
// false when it found one, or when s cannot read the value.
func scanKeys(s *jsonscan.Scanner, depth int, dup *[]byte) bool {
	if depth > maxScanDepth {
		return false
	}
	switch s.Peek() {
	case '{':
		var seen [maxScanKeys][]byte
		n := 0
		return s.Object(func(key []byte) bool {
			for _, k := range seen[:n] {
				if bytes.Equal(k, key) {
					*dup = key
					return false
				}
			}
			if n == len(seen) {
				return false
			}
			seen[n] = key
			n++
			return scanKeys(s, depth+1, dup)
		})
	case '[':
		return s.Array(func() bool { return scanKeys(s, depth+1, dup) })
	}
	return s.Skip()
}

// maxScanDepth bounds the objects and arrays scanKeys walks inside one another; a body
// nested deeper goes to decodeKeys, which encoding/json bounds.
const maxScanDepth = 64

// decodeKeys reads one value from dec, token by token, for a key an object in it names
// twice (after unescaping: "n\u0061me" is "name").
func decodeKeys(dec *json.Decoder) (string, bool) {
	tok, err := dec.Token()
	if err != nil {
		// json.Valid took the body: nothing more to read.
		return "", false
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return "", false
			}
			key, _ := k.(string)
			if seen[key] {
				return key, true
			}
			seen[key] = true
			if dup, twice := decodeKeys(dec); twice {
				return dup, true
			}
		}
		_, _ = dec.Token() // the closing brace
	case json.Delim('['):
		for dec.More() {
			if dup, twice := decodeKeys(dec); twice {
				return dup, true
			}
		}
		_, _ = dec.Token() // the closing bracket
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape that json.Valid accepted.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// checkFields walks data alongside t and rejects object keys that t does not declare.
func checkFields(data []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A type that decodes itself (time.Time, say) is not walked as an object.
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return nil
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if path == "" {
			return errInvalidRequest("The request body must be a JSON object.")
		}
		return errInvalidRequest(fmt.Sprintf("Field %s must be an object.", quoteField(path)))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return errInvalidRequest("The request body does not have the shape this endpoint expects.")
	}
	fields := jsonFields(t)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := k
		if path != "" {
			name = path + "." + k
		}
		ft, ok := fields[k]
		if !ok {
			return errInvalidRequest(fmt.Sprintf("Unknown field %s.", quoteField(name)))
		}
		if err := checkFields(obj[k], ft, name); err != nil {
			return err
		}
	}
	return nil
}

// knownCompact is checkFields' fast path for the bodies clients send most, compact JSON
// without escapes (jsonscan's): true when body is one such object whose keys t
// declares, at every depth checkFields walks. It reads the body once, in place, where
// checkFields decodes every object it walks into a map of raw values (with the JSON
// checks before and the decode after, a twentieth of a create's server CPU). False
// says nothing: checkFields decides, and words the refusal. FuzzKnownCompactAgrees
// holds it to never accepting what checkFields refuses.
func knownCompact(body []byte, t reflect.Type) bool {
	s := jsonscan.New(body)
	return knownObject(&s, t) && s.Done()
}

// knownObject reads the value under s as checkFields walks one of type t.
func knownObject(s *jsonscan.Scanner, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return s.Skip()
	}
	return s.Object(func(key []byte) bool {
		ft, ok := jsonField(t, key)
		return ok && knownObject(s, ft)
	})
}

// jsonField is the type of t's field whose JSON name is key, if t has one: what
// jsonFields(t)[key] says, without making the map for every request's every object.
func jsonField(t reflect.Type, key []byte) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, ok := jsonName(f); ok && name == string(key) {
			return f.Type, true
		}
	}
	return nil, false
}

// jsonFields maps a struct's JSON names to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name, ok := jsonName(f); ok {
			out[name] = f.Type
		}
	}
	return out
}

// jsonName is the name encoding/json gives field f, unless it skips the field.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		return f.Name, true
	}
	return name, true
}

// quoteField quotes a field name for an error detail, cut short so that a huge key is
// not sent back.
func quoteField(name string) string {
	const maxLen = 64
	if len(name) > maxLen {
		cut := maxLen
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "…"
	}
	return strconv.Quote(name)
}
