package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"
)

// chainHashByMarshal is chainHash as every stored chain was hashed before
// chainContent: the content by json.Marshal of the fields as a []any.
func chainHashByMarshal(prev string, e AuditEntry) string {
	content, _ := json.Marshal([]any{
		e.OrgID, e.Seq, e.Idx, e.EventID, e.At.UTC().Format(time.RFC3339Nano), e.Action, e.Outcome,
		e.ActorID, e.ActorEmail, e.SecretID, e.Env, e.Details, e.IP, e.UserAgent, e.Names,
	})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

func chainSample() AuditEntry {
	return AuditEntry{
		OrgID: "6f1c2d3e-0000-4000-8000-000000000001", Seq: 18446744073709551615, Idx: 3, EventID: "01JEXAMPLE",
		At: time.Date(2026, 12, 2, 19, 7, 28, 123456000, time.FixedZone("x", 3600)), Action: "secret.revealed", Outcome: "success",
		ActorID: "a", ActorEmail: "owner@example.com", SecretID: "s", Env: "production", Details: "version 2",
		IP: "10.1.2.3", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", PrevHash: "ignored", Hash: "ignored",
	}
}

// The chain's content written directly is byte for byte what json.Marshal wrote, so
// chains already stored keep verifying: for plain fields, for every character that
// encoding/json escapes (quotes, backslashes, control characters, <, > and &, U+2028
// and U+2029, DEL), non-ASCII text and invalid UTF-8, and for no names, empty names
// and some.
func TestChainContentMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	odd := []string{"", "plain", `a"b`, `a\b`, "tab\there", "nl\nx\r\b\f", "\x00\x01\x1f", "<script>&amp;</script>",
		"\u2028\u2029", "\x7f", "caf\u00e9 \U0001F511", "bad \xff\xfe utf8", "trunc \xe2\x82", "~ !#$%'()*+,-./:;=?@[]^_`{|}"}
	var cases []AuditEntry
	base := chainSample()
	cases = append(cases, base)
	for _, s := range odd {
		e := base
		e.ActorEmail, e.Details, e.UserAgent, e.SecretID = s, s+"x", "y"+s, s
		e.Names = []string{s, "OK_NAME", s + s}
		cases = append(cases, e)
	}
	e := base
	e.Names = []string{}
	cases = append(cases, e)
	e = base
	e.Seq, e.Idx, e.At = 0, -1, time.Unix(0, 0)
	cases = append(cases, e)
	for i, c := range cases {
		want, _ := json.Marshal([]any{
			c.OrgID, c.Seq, c.Idx, c.EventID, c.At.UTC().Format(time.RFC3339Nano), c.Action, c.Outcome,
			c.ActorID, c.ActorEmail, c.SecretID, c.Env, c.Details, c.IP, c.UserAgent, c.Names,
		})
		if got := chainContent(nil, c); string(got) != string(want) {
			t.Fatalf("case %d: chainContent\n%s\nwant\n%s", i, got, want)
		}
		if got, want := chainHash("prev", c), chainHashByMarshal("prev", c); got != want {
			t.Fatalf("case %d: chainHash %s, by json.Marshal %s", i, got, want)
		}
	}
}

func FuzzChainContentMatchesEncodingJSON(f *testing.F) {
	f.Add("owner@example.com", "version 2", "curl/8", "KEY", uint64(7), 0)
	f.Add("a\"<>&\\", "\u2028\x00", "\xff", "", uint64(0), -3)
	f.Add("e", "d", "a", "", uint64(253402300798), 999999999)
	f.Fuzz(func(t *testing.T, email, details, agent, name string, seq uint64, idx int) {
		e := chainSample()
		e.ActorEmail, e.Details, e.UserAgent, e.Seq, e.Idx = email, details, agent, seq, idx
		// The time from the numbers too, any nanosecond of years 1 to 9999 (the
		// range json.Marshal wrote a time in) in any zone.
		e.At = time.Unix(-62135596800+int64(seq%253402300799), int64(uint(idx)%1e9)).In(time.FixedZone("z", (idx%50400)-25200))
		if name != "" {
			e.Names = []string{name, details}
		}
		if got, want := chainHash("p", e), chainHashByMarshal("p", e); got != want {
			t.Fatalf("chainHash %s, by json.Marshal %s, for %+v", got, want, e)
		}
	})
}

// A link of the chain costs one allocation, its string: a rebuild hashes one per
// audit entry, and a hash.Hash and the time's string made two more.
func TestChainHashAllocatesItsLinkOnly(t *testing.T) {
	e := chainSample()
	if n := testing.AllocsPerRun(1000, func() { _ = chainHash("prev", e) }); n > 1 {
		t.Fatalf("%.0f allocations per link, want 1", n)
	}
}
