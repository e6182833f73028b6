package client

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadEvents(t *testing.T) {
	t.Parallel()
	stream := ": keep-alive\n" +
		"retry: 2500\n\n" +
		"id: 41\r\nevent: change\r\ndata: {\"type\":\"secret.updated\",\"org_id\":\"o\",\"secret_id\":\"s\",\"name\":\"A\",\r\n" +
		"data: \"env\":\"production\",\"old_version\":1,\"new_version\":2,\"actor_id\":\"u\",\"at\":\"2026-01-02T03:04:05Z\",\"seq\":41}\r\n\r\n" +
		"id: 42\rdata: {\"type\":\"secret.deleted\",\"name\":\"B\",\"env\":\"staging\",\"old_version\":3,\"new_version\":null}\r\r" +
		"data: not json\n\n" +
		"data:{\"type\":\"secret.created\",\"name\":\"C\"}\n\n" +
		"data: {\"type\":\"secret.created\",\"name\":\"unterminated\"}"
	// One byte at a time, so that a CR at the end of a read must wait for the next.
	var events []sseEvent
	err := readEvents(iotest.OneByteReader(strings.NewReader(stream)), func(ev sseEvent) bool {
		events = append(events, ev)
		return true
	})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("readEvents: %v", err)
	}
	if len(events) != 5 {
		t.Fatalf("%d events: %+v", len(events), events)
	}
	if events[0].retry != 2500*time.Millisecond || events[0].data != "" {
		t.Errorf("retry event %+v", events[0])
	}
	var notices []Notice
	for _, ev := range events {
		if n, ok := ev.notice(); ok {
			notices = append(notices, n)
		}
	}
	want := []Notice{
		{Type: "secret.updated", OrgID: "o", SecretID: "s", Name: "A", Env: "production", OldVersion: 1, NewVersion: 2,
			ActorID: "u", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seq: 41},
		{Type: "secret.deleted", Name: "B", Env: "staging", OldVersion: 3, Seq: 42},
		// The last id stays the event's id until another comes.
		{Type: "secret.created", Name: "C", Seq: 42},
	}
	if len(notices) != len(want) {
		t.Fatalf("notices %+v", notices)
	}
	for i := range want {
		if notices[i] != want[i] {
			t.Errorf("notice %d = %+v, want %+v", i, notices[i], want[i])
		}
	}
}

func TestReadEventsStops(t *testing.T) {
	t.Parallel()
	n := 0
	err := readEvents(strings.NewReader("data: 1\n\ndata: 2\n\n"), func(sseEvent) bool { n++; return false })
	if err != nil || n != 1 {
		t.Fatalf("err %v after %d events", err, n)
	}
}

func TestStreamPositionResumesWithoutLossOrRepeats(t *testing.T) {
	t.Parallel()
	dev := Notice{Type: "secret.created", SecretID: "s", Env: "development", Seq: 5}
	prod := dev
	prod.Env = "production"
	next := Notice{Type: "secret.updated", SecretID: "s", Env: "development", Seq: 6}

	p := streamPosition{last: 4}
	if p.resumeAfter() != 4 || !p.admit(dev) {
		t.Fatal("a fresh stream refused its first notice")
	}
	// The connection breaks after dev: resume before 5 and skip dev the second time.
	if p.resumeAfter() != 4 {
		t.Fatalf("resume after %d, want 4", p.resumeAfter())
	}
	if p.admit(dev) || !p.admit(prod) || p.admit(prod) || !p.admit(next) || p.admit(dev) {
		t.Fatal("a notice was repeated or lost")
	}
	if p.resumeAfter() != 5 {
		t.Fatalf("resume after %d, want 5", p.resumeAfter())
	}
	// A caller's own Last-Event-ID is taken as fully seen.
	q := streamPosition{last: 5}
	if q.admit(dev) || q.resumeAfter() != 5 || !q.admit(next) {
		t.Fatal("notices of the caller's last sequence were delivered again")
	}
}
