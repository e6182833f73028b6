package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// jsonString writes s as a JSON string literal the way a hostile client would: quotes,
// backslashes and control characters escaped (or the body would not be JSON at all),
// every other byte as it is, invalid UTF-8 included.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzHostileText drives every command that takes text with arbitrary strings (NUL,
// control characters, invalid UTF-8, huge) and holds the server to the contract: no
// answer is 5xx, the projector reaches the log's head after every input (one request
// must never stall the read models for everyone), and a value is revealed exactly as
// the server decoded it. `go test` runs the seeds; `make fuzz` runs TestStressHostileText,
// which draws random hostile strings for as long as it is given.
func FuzzHostileText(f *testing.F) {
	for _, s := range []string{
		"evil\x00name", "\x00", "\xff\xfe\xfd", "ok\xc3", "tab\tnew\nline\r", "\x1b[31mred\x7f", "\u2028\u2029", "\u0085",
		"=HYPERLINK(\"http://x\")", "%_\\", "STRIPE_KEY", " padded ", "", strings.Repeat("A", 70_000), strings.Repeat("\x00", 300),
	} {
		f.Add(s)
	}
	h := newHostileRig(f)
	f.Fuzz(func(t *testing.T, s string) { h.check(t, s) })
}

// hostileRig is one server that hostile inputs are thrown at, input after input.
type hostileRig struct {
	env   *apitest.Env
	owner *apitest.Client
	org   apitest.Org
	n     atomic.Int64
}

func newHostileRig(tb testing.TB) *hostileRig {
	env := apitest.New(tb)
	owner := env.SignUp(tb, "owner@example.com", "Owner")
	return &hostileRig{env: env, owner: owner, org: owner.CreateOrg(tb, "Hostile")}
}

// check throws s at every command that takes text and holds the server to the
// contract (see FuzzHostileText).
func (hr *hostileRig) check(t *testing.T, s string) {
	t.Helper()
	env, owner, org := hr.env, hr.owner, hr.org
	i := hr.n.Add(1)
	h := jsonString(s)
	answered := func(what string, r *apitest.Response) *apitest.Response {
		t.Helper()
		if r.Status >= 500 {
			t.Fatalf("%s with %q answered %d %s", what, s, r.Status, r.Body)
		}
		return r
	}
	orgPath := "/orgs/" + org.ID
	anon := env.Anonymous()
	answered("signup name", anon.Do(t, "POST", "/auth/signup", fmt.Sprintf(`{"email":"u%d@example.com","password":%q,"name":%s}`, i, apitest.Password, h)))
	answered("signup email", anon.Do(t, "POST", "/auth/signup", fmt.Sprintf(`{"email":%s,"password":%q,"name":"N"}`, h, apitest.Password)))
	answered("signup password", anon.Do(t, "POST", "/auth/signup", fmt.Sprintf(`{"email":"p%d@example.com","password":%s,"name":"N"}`, i, h)))
	answered("login", anon.Do(t, "POST", "/auth/login", fmt.Sprintf(`{"email":%s,"password":%s}`, h, h)))
	answered("create org", owner.Do(t, "POST", "/orgs", `{"name":`+h+`}`))
	answered("rename org", owner.Do(t, "PATCH", orgPath, `{"name":`+h+`}`))
	answered("add member", owner.Do(t, "POST", orgPath+"/members", `{"email":`+h+`,"role":"viewer"}`))
	answered("create secret", owner.Do(t, "POST", orgPath+"/secrets", `{"name":`+h+`,"description":`+h+`,"values":{"production":`+h+`}}`))
	r := answered("create secret with hostile text", owner.Do(t, "POST", orgPath+"/secrets",
		fmt.Sprintf(`{"name":"HOSTILE_%d","description":%s,"values":{"development":%s,"production":%s}}`, i, h, h, h)))
	var decoded string
	_ = json.Unmarshal([]byte(h), &decoded)
	if r.Status == http.StatusCreated {
		var sec apitest.Secret
		r.JSON(t, &sec)
		path := orgPath + "/secrets/" + sec.ID
		var rev struct {
			Value string `json:"value"`
		}
		answered("reveal", owner.Do(t, "POST", path+"/reveal", map[string]any{"env": "production"})).JSON(t, &rev)
		if rev.Value != decoded {
			t.Fatalf("value %q revealed as %q", decoded, rev.Value)
		}
		answered("update secret", owner.Do(t, "PATCH", path, `{"description":`+h+`,"values":{"staging":`+h+`}}`))
	}
	answered("service token", owner.Do(t, "POST", orgPath+"/service-tokens", `{"name":`+h+`,"environments":["production"]}`))
	answered("personal token", owner.Do(t, "POST", "/auth/tokens", `{"name":`+h+`}`))
	answered("webhook", owner.Do(t, "POST", orgPath+"/webhooks", `{"url":"https://93.184.215.14/","description":`+h+`}`))
	answered("idempotency key", owner.Do(t, "POST", orgPath+"/secrets", fmt.Sprintf(`{"name":"IDEM_%d"}`, i), "Idempotency-Key", headerValue(s)))
	answered("list q", owner.Do(t, "GET", orgPath+"/secrets?q="+urlQuery(s), nil))
	answered("audit filter", owner.Do(t, "GET", orgPath+"/audit?actor="+urlQuery(s)+"&cursor="+urlQuery(s), nil))

	head, err := env.NATS.Store.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := env.DB.Progress.WaitFor(ctx, head); err != nil {
		t.Fatalf("after %q the projector did not reach the log's head %d: %v", s, head, err)
	}
}

// headerValue is s as a header can carry it: no control characters, valid UTF-8, and
// short enough for a request head (a 70 KB header is refused by the transport before
// the API sees it, as it should be, which a client sees as a reset connection).
func headerValue(s string) string {
	v := strings.ToValidUTF8(strings.Map(dropControl, s), "")
	if len(v) > 1000 {
		v = strings.ToValidUTF8(v[:1000], "")
	}
	return v
}

// dropControl removes what an HTTP header cannot carry.
func dropControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

func urlQuery(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}
