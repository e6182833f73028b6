package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/webhooks"
)

// webhookSink is a receiver that takes its time (so that a kill lands mid-delivery)
// and records every request in the order it arrived.
type webhookSink struct {
	mu   sync.Mutex
	got  []sunk
	busy time.Duration
}

type sunk struct {
	delivery, signature string
	body                []byte
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	time.Sleep(s.busy)
	s.mu.Lock()
	s.got = append(s.got, sunk{delivery: r.Header.Get(webhooks.HeaderDelivery), signature: r.Header.Get(webhooks.HeaderSignature), body: body})
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *webhookSink) received() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.got...)
}

type noticeKey struct {
	secret string
	seq    uint64
	env    string
}

func keyOf(t *testing.T, body []byte) noticeKey {
	t.Helper()
	var n struct {
		SecretID string `json:"secret_id"`
		Seq      uint64 `json:"seq"`
		Env      string `json:"env"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatalf("notice %s: %v", body, err)
	}
	return noticeKey{n.SecretID, n.Seq, n.Env}
}

// TestWebhooksSurviveKillNine kills the server (SIGKILL) while writers change secrets
// and a slow receiver takes deliveries, then restarts it: the receiver ends up with
// every change notice of the feed at least once, none missing, each signed, in order
// per secret.
func TestWebhooksSurviveKillNine(t *testing.T) {
	t.Parallel()
	sink := &webhookSink{busy: 80 * time.Millisecond}
	receiver := httptest.NewServer(sink)
	defer receiver.Close()

	srv := newFaultServer(t, "")
	srv.start(t)
	c, orgID := srv.loginAndCreateOrg(t, "Hooks")
	var hook struct {
		ID            string `json:"id"`
		SigningSecret string `json:"signing_secret"`
	}
	a := c.do("POST", "/orgs/"+orgID+"/webhooks", map[string]any{"url": receiver.URL + "/hook"}, "")
	if a.status != http.StatusCreated || json.Unmarshal(a.body, &hook) != nil {
		t.Fatalf("create webhook: %d %s", a.status, a.body)
	}
	hookSeq, _ := strconv.ParseUint(a.seq, 10, 64)

	var retries atomic.Int64
	logs, stop := startWriters(c, orgID, 3, &retries)
	const kills = 3
	for range kills {
		time.Sleep(1200 * time.Millisecond)
		srv.kill()
		srv.start(t)
	}
	time.Sleep(time.Second)
	stop()
	srv.kill()
	srv.start(t)

	// The last write the writers were told about: every notice up to it is owed.
	var last uint64
	for _, l := range logs {
		for _, ack := range l.acked {
			if s, _ := strconv.ParseUint(ack.answer.seq, 10, 64); s > last {
				last = s
			}
		}
	}
	want := feedUntil(t, c, orgID, hookSeq, last)

	deadline := time.Now().Add(3 * time.Minute)
	var got []sunk
	for {
		got = sink.received()
		seen := map[string]bool{}
		for _, g := range got {
			seen[string(g.body)] = true
		}
		missing := 0
		for _, w := range want {
			if !seen[w] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d kills: %d of %d notices never reached the receiver (%d requests)", kills, missing, len(want), len(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
	lastOf := map[string]noticeKey{}
	dupes := 0
	seenBody := map[string]bool{}
	for i, g := range got {
		if !webhooks.Verify(hook.SigningSecret, g.signature, g.body, 10*time.Minute, time.Now()) {
			t.Fatalf("request %d: bad signature %q", i, g.signature)
		}
		k := keyOf(t, g.body)
		if p, ok := lastOf[k.secret]; ok && k.seq < p.seq {
			t.Errorf("secret %s: notice of event %d arrived after one of event %d", k.secret, k.seq, p.seq)
		}
		lastOf[k.secret] = k
		if seenBody[string(g.body)] {
			dupes++
		}
		seenBody[string(g.body)] = true
	}
	fmt.Printf("webhook kill -9 fault test: %d kills under 3 writers; %d notices owed, all received; %d requests (%d repeats after crashes)\n",
		kills, len(want), len(got), dupes)
}

// feedUntil reads the organization's SSE change feed from after event sequence from
// until the last notice of event last, and returns each notice's data.
func feedUntil(t *testing.T, c *faultClient, orgID string, from, last uint64) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/orgs/"+orgID+"/changes", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Last-Event-ID", strconv.FormatUint(from, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		// The id line comes just before the data of an event's last notice.
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok && len(out) > 0 {
			if n, _ := strconv.ParseUint(id, 10, 64); n >= last {
				done = true
			}
		}
		if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, v)
			if done {
				return out
			}
		}
	}
	t.Fatalf("the change feed ended before event %d (%d notices read)", last, len(out))
	return nil
}
