package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// openFeed is one open change stream, read in the background.
type openFeed struct {
	notices chan map[string]any
	// ended is closed when the server ends the stream; endedAt is when.
	ended   chan struct{}
	endedAt time.Time
}

// openChanges opens GET /orgs/{org}/changes with the given header and returns once the
// stream's opening block has arrived.
func openChanges(t *testing.T, env *apitest.Env, orgID, header, value string) *openFeed {
	t.Helper()
	// The stream must outlive the whole test, subtests and cleanup included, however
	// slow the machine: a deadline that ends it first looks like nothing delivered.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", env.BaseURL+"/api/v1/orgs/"+orgID+"/changes", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("open changes: status %d", resp.StatusCode)
	}
	f := &openFeed{notices: make(chan map[string]any, 16), ended: make(chan struct{})}
	opened := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(resp.Body)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if line == "" && first {
				first = false
				close(opened)
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				var m map[string]any
				if json.Unmarshal([]byte(v), &m) == nil {
					f.notices <- m
				}
			}
		}
		// Only an end the server chose counts: not the test's own deadline.
		if ctx.Err() == nil {
			f.endedAt = time.Now()
			close(f.ended)
		}
	}()
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("the change stream did not open")
	}
	return f
}

// endsWithin fails the test unless the stream ends within d of since.
func (f *openFeed) endsWithin(t *testing.T, since time.Time, d time.Duration) {
	t.Helper()
	select {
	case <-f.ended:
		if took := f.endedAt.Sub(since); took > d {
			t.Fatalf("the stream ended %s after access was lost, want within %s", took, d)
		}
	case <-time.After(time.Until(since.Add(d + time.Second))):
		t.Fatalf("the stream was still open %s after access was lost", d+time.Second)
	}
}

// An open change stream ends within 5 s of its caller losing access: removed from the
// organization, personal token revoked or expired, session logged out. A caller who
// keeps access keeps the stream and gets names in clear.
func TestChangeStreamEndsWhenAccessIsLost(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	aliceFeed := openChanges(t, env, org.ID, "Authorization", "Bearer "+alice.Token)
	const limit = 5 * time.Second

	t.Run("member removed", func(t *testing.T) {
		t.Parallel()
		bob := env.SignUp(t, "bob@example.com", "Bob")
		alice.AddMember(t, org.ID, "bob@example.com", "viewer")
		feed := openChanges(t, env, org.ID, "Authorization", "Bearer "+bob.Token)
		alice.Do(t, "DELETE", "/orgs/"+org.ID+"/members/"+bob.UserID, nil).Expect(t, http.StatusNoContent)
		feed.endsWithin(t, time.Now(), limit)
	})
	t.Run("personal token revoked", func(t *testing.T) {
		t.Parallel()
		carol := env.SignUp(t, "carol@example.com", "Carol")
		alice.AddMember(t, org.ID, "carol@example.com", "viewer")
		var pat struct{ ID, Token string }
		carol.Do(t, "POST", "/auth/tokens", map[string]any{"name": "feed"}).Expect(t, http.StatusCreated).JSON(t, &pat)
		feed := openChanges(t, env, org.ID, "Authorization", "Bearer "+pat.Token)
		carol.Do(t, "DELETE", "/auth/tokens/"+pat.ID, nil).Expect(t, http.StatusNoContent)
		feed.endsWithin(t, time.Now(), limit)
	})
	t.Run("personal token expired", func(t *testing.T) {
		t.Parallel()
		erin := env.SignUp(t, "erin@example.com", "Erin")
		alice.AddMember(t, org.ID, "erin@example.com", "viewer")
		expires := time.Now().Add(4 * time.Second).UTC().Truncate(time.Second)
		var pat struct{ ID, Token string }
		erin.Do(t, "POST", "/auth/tokens", map[string]any{"name": "short", "expires_at": expires}).Expect(t, http.StatusCreated).JSON(t, &pat)
		feed := openChanges(t, env, org.ID, "Authorization", "Bearer "+pat.Token)
		feed.endsWithin(t, expires, limit)
	})
	t.Run("session logged out", func(t *testing.T) {
		t.Parallel()
		dave := env.SignUp(t, "dave@example.com", "Dave")
		alice.AddMember(t, org.ID, "dave@example.com", "viewer")
		// A browser: the session cookie, logged out with the cookie and CSRF header.
		feed := openChanges(t, env, org.ID, "Cookie", "keyledger_session="+dave.Cookie("keyledger_session"))
		dave.WithCookies(true).Do(t, "POST", "/auth/logout", nil).Expect(t, http.StatusNoContent)
		feed.endsWithin(t, time.Now(), limit)
	})

	// Alice kept access all along: her stream is open and names the secret in clear.
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		select {
		case <-aliceFeed.ended:
			t.Fatal("the owner's stream ended")
		default:
		}
		alice.CreateSecret(t, org.ID, "STILL_FOLLOWING", map[string]string{"production": "v-1"})
		select {
		case n := <-aliceFeed.notices:
			if n["name"] != "STILL_FOLLOWING" || n["name_sealed"] != nil {
				t.Fatalf("notice %+v, want the name in clear and nothing sealed", n)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the owner's stream delivered nothing")
		}
	})
}

// The SSE feed names the secret in clear while the stream on NATS stores the name
// sealed.
func TestChangeFeedNamesSecretsThatTheStreamStoresSealed(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	feed := openChanges(t, env, org.ID, "Authorization", "Bearer "+alice.Token)
	const marker = "FEED_MARKER_NAME_P3"
	alice.CreateSecret(t, org.ID, marker, map[string]string{"staging": "v-1"})
	select {
	case n := <-feed.notices:
		if n["name"] != marker || n["type"] != "secret.created" || n["name_sealed"] != nil {
			t.Fatalf("SSE notice %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notice on the SSE feed")
	}
	ctx := context.Background()
	msgs, err := jetstreamext.GetBatch(ctx, env.NATS.Store.JetStream(), changefeed.ChangesStream, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for m, err := range msgs {
		if err != nil {
			t.Fatal(err)
		}
		count++
		if strings.Contains(strings.ToUpper(string(m.Data)), marker) {
			t.Fatalf("the change stream stores the name in clear: %s", m.Data)
		}
		if !strings.Contains(string(m.Data), `"name_sealed":"kl2.`) {
			t.Fatalf("a stored notice has no sealed name: %s", m.Data)
		}
	}
	if count == 0 {
		t.Fatal("the change stream is empty")
	}
}
