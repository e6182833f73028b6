package projections

import (
	"reflect"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

func TestPgArgsMakesEveryTextFitPostgres(t *testing.T) {
	t.Parallel()
	name := "a\x00b"
	env := domain.Environment("prod\x00")
	in := []any{"ok", "a\x00b", "caf\xc3", &name, []string{"x", "\xff\x00"}, env, &env, 42, nil, (*string)(nil), []byte("\x00")}
	want := []any{"ok", "a\uFFFDb", "caf\uFFFD", ptrTo("a\uFFFDb"), []string{"x", "\uFFFD\uFFFD"}, "prod\uFFFD", ptrTo("prod\uFFFD"), 42, nil, (*string)(nil), []byte("\x00")}
	got := pgArgs(in)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pgArgs = %#v\nwant %#v", got, want)
	}
	if name != "a\x00b" || in[1] != "a\x00b" {
		t.Fatal("pgArgs changed its input")
	}
	clean := []any{"ok", 1}
	if out := pgArgs(clean); &out[0] != &clean[0] {
		t.Fatal("pgArgs copied arguments that needed nothing")
	}
	if out := pgArgs(nil); out != nil {
		t.Fatalf("pgArgs(nil) = %v", out)
	}
}

func ptrTo(s string) *string { return &s }

// Text that Postgres takes as it is goes through pgArgs without an allocation: the
// live projector passes every statement's arguments through it, and a *string
// argument cost one allocation each (its copy escaped whether it changed or not).
func TestPgArgsAllocatesNothingForTextThatFits(t *testing.T) {
	s, name := "plain text", "DATABASE_URL"
	args := []any{"org", &s, name, 42}
	if n := testing.AllocsPerRun(100, func() { _ = pgArgs(args) }); n != 0 {
		t.Fatalf("%v allocations for arguments that need no change, want 0", n)
	}
}
