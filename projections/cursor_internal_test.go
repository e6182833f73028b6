package projections

import (
	"encoding/base64"
	"testing"
)

// TestCursorsRefuseGarbage: a cursor the server did not write is refused, even when it
// happens to be valid base64 (which most short strings are).
func TestCursorsRefuseGarbage(t *testing.T) {
	t.Parallel()
	b64 := base64.RawURLEncoding.EncodeToString
	grid := []struct {
		cursor string
		ok     bool
	}{
		{encodeCursor("API_KEY"), true},
		{encodeCursor("_X9"), true},
		{"garbage", false},
		{"abc", false},
		{"not-a-cursor", false},
		{"%%%", false},
		{b64([]byte("api_key")), false},
		{b64([]byte("9LIVES")), false},
		{b64([]byte("A\x00B")), false},
		{base64.RawURLEncoding.EncodeToString([]byte("API_KEY")) + "==", false},
	}
	for _, tc := range grid {
		_, err := decodeCursor(tc.cursor)
		if (err == nil) != tc.ok {
			t.Errorf("grid cursor %q: err %v, want ok=%v", tc.cursor, err, tc.ok)
		}
	}
	audit := []struct {
		cursor string
		ok     bool
	}{
		{encodeAuditCursor(AuditEntry{Seq: 42, Idx: 1}), true},
		{"garbage", false},
		{"abc", false},
		{b64([]byte("-1.0")), false},
		{b64([]byte("1.-1")), false},
		{b64([]byte("+1.0")), false},
		{b64([]byte("01.0")), false},
		{b64([]byte("1.")), false},
		{b64([]byte("99999999999999999999.0")), false},
	}
	for _, tc := range audit {
		_, _, err := decodeAuditCursor(tc.cursor)
		if (err == nil) != tc.ok {
			t.Errorf("audit cursor %q: err %v, want ok=%v", tc.cursor, err, tc.ok)
		}
	}
}
