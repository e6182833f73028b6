package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestOneLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want string
	}{
		{errors.New("no master key"), "no master key"},
		{errors.New("failed to connect to `user=x`:\n  127.0.0.1:1: refused\n  ::1: refused\n"), "failed to connect to `user=x`: 127.0.0.1:1: refused; ::1: refused"},
		{errors.Join(errors.New("first"), errors.New("second")), "first; second"},
	}
	for _, tc := range cases {
		if got := oneLine(tc.err); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestRedactNATSURL(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"nats://127.0.0.1:4222":                          "nats://127.0.0.1:4222",
		"nats://user:secret@a:4222, nats://token@b:4222": "nats://a:4222,nats://b:4222",
		"tls://secret@nats.example.com":                  "tls://nats.example.com",
		"nats://us er:sec ret@a:4222":                    "(unparsable URL)",
	}
	for in, want := range cases {
		if got := redactNATSURL(in); got != want {
			t.Errorf("redactNATSURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJetStreamHint(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		hinted bool
	}{
		{fmt.Errorf("create stream: %w", nats.ErrNoResponders), true},
		{fmt.Errorf("create stream: %w", jetstream.ErrJetStreamNotEnabled), true},
		{fmt.Errorf("create stream: %w", context.DeadlineExceeded), true},
		{errors.New("permissions violation"), false},
	}
	for _, tc := range cases {
		if got := jetStreamHint(tc.err); (got != "") != tc.hinted {
			t.Errorf("jetStreamHint(%v) = %q, want a hint: %v", tc.err, got, tc.hinted)
		}
	}
}
