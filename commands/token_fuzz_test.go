package commands

import (
	"strings"
	"testing"
)

// FuzzParseToken: parsing never panics, and an issued token parses back to its id.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{"kl_st_", "kl_pat_0123456789abcdef0123456789abcdefSECRET", "kl_st_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzx", "Bearer x", ""} {
		f.Add(s)
	}
	id, tok, _, err := issueToken(ServiceTokenPrefix)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Fuzz(func(t *testing.T, s string) {
		prefix, gotID, secret, ok := parseToken(s)
		if !ok {
			return
		}
		if !strings.HasPrefix(s, prefix) || secret == "" || len(gotID) != 36 {
			t.Fatalf("parseToken(%q) = %q, %q, %q", s, prefix, gotID, secret)
		}
		if s == tok && gotID != id {
			t.Fatalf("issued token parsed to %s, want %s", gotID, id)
		}
	})
}
