package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// canary is a value no output of these tests may contain.
const canary = "sk_live_CANARY_7f3a9c"

// exported and unexported hold a plaintext the way command and result structs do; such
// structs end up in log lines and error messages by accident.
type (
	exported   struct{ Value domain.Plaintext }
	unexported struct{ value domain.Plaintext }
	byPointer  struct{ value *domain.Plaintext }
)

func TestPlaintextRevealAndLen(t *testing.T) {
	t.Parallel()
	p := domain.NewPlaintext("héllo")
	if p.Reveal() != "héllo" {
		t.Fatalf("Reveal() did not return the value")
	}
	if p.Len() != 6 {
		t.Fatalf("Len() = %d, want 6 bytes", p.Len())
	}
	var zero domain.Plaintext
	if zero.Reveal() != "" || zero.Len() != 0 {
		t.Fatalf("the zero Plaintext is not empty")
	}
}

func TestPlaintextIsRedactedByFmt(t *testing.T) {
	t.Parallel()
	p := domain.NewPlaintext(canary)
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10.4s", "%d", "%t", "%p", "%08d", "%e", "%U", "%c", "%b", "%o"}
	for _, verb := range verbs {
		t.Run(verb, func(t *testing.T) {
			t.Parallel()
			for _, arg := range []any{p, &p} {
				assertRedacted(t, fmt.Sprintf(verb, arg))
			}
		})
	}
}

func TestPlaintextIsRedactedWhenNested(t *testing.T) {
	t.Parallel()
	p := domain.NewPlaintext(canary)
	values := []struct {
		name string
		arg  any
	}{
		{"exported field", exported{Value: p}},
		{"unexported field", unexported{value: p}},
		{"pointer in unexported field", byPointer{value: &p}},
		{"pointer to struct with unexported field", &unexported{value: p}},
		{"slice", []domain.Plaintext{p}},
		{"map value", map[domain.Environment]domain.Plaintext{domain.Production: p}},
		{"map of pointers", map[domain.Environment]*domain.Plaintext{domain.Production: &p}},
		{"anonymous struct", struct {
			env   domain.Environment
			value domain.Plaintext
		}{domain.Production, p}},
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d"} {
			t.Run(v.name+" "+verb, func(t *testing.T) {
				t.Parallel()
				assertRedacted(t, fmt.Sprintf(verb, v.arg))
			})
		}
	}
}

func TestPlaintextIsRedactedInJSON(t *testing.T) {
	t.Parallel()
	p := domain.NewPlaintext(canary)
	values := []struct {
		name string
		arg  any
	}{
		{"value", p},
		{"pointer", &p},
		{"exported field", exported{Value: p}},
		{"map", map[string]domain.Plaintext{"v": p}},
		{"slice", []domain.Plaintext{p}},
	}
	for _, v := range values {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(v.arg)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			assertRedacted(t, string(b))
			if !strings.Contains(string(b), `"[redacted]"`) {
				t.Fatalf("JSON %s does not say [redacted]", b)
			}
		})
	}
	if b, _ := json.Marshal(p); string(b) != `"[redacted]"` {
		t.Fatalf("json.Marshal(Plaintext) = %s, want \"[redacted]\"", b)
	}
}

func TestPlaintextIsRedactedInLogsAndErrors(t *testing.T) {
	t.Parallel()
	p := domain.NewPlaintext(canary)
	var buf bytes.Buffer
	logger := log.New(&buf, "", 0)
	logger.Printf("value %v in %+v", p, unexported{value: p})
	logger.Println(p, exported{Value: p})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("text", "value", p, "holder", exported{Value: p})
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("json", "value", p, "holder", exported{Value: p})
	err := fmt.Errorf("seal %v: %w", p, errors.New("boom"))
	buf.WriteString(err.Error())
	assertRedacted(t, buf.String())
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Fatalf("log output does not say [redacted]:\n%s", buf.String())
	}
}

// assertRedacted fails when out contains the canary value. It never prints out itself,
// so that a failing test does not put the value in the test output either.
func assertRedacted(tb testing.TB, out string) {
	tb.Helper()
	if strings.Contains(out, canary) || strings.Contains(out, canary[8:]) {
		tb.Fatalf("output contains the plaintext value (%d bytes of output)", len(out))
	}
}

// Plaintexts, many values in one buffer, reveals each and is redacted like Plaintext:
// by every verb, nested in the structs results are made of, and in JSON.
func TestPlaintextsRevealEachAndAreRedacted(t *testing.T) {
	t.Parallel()
	p := domain.NewPlaintexts(3, 8)
	for _, v := range []string{"a", "", canary} {
		p.Add([]byte(v))
	}
	if p.Len() != 3 || p.Reveal(0) != "a" || p.Reveal(1) != "" || p.Reveal(2) != canary {
		t.Fatalf("Len %d, values in order: %v", p.Len(), p.Reveal(0) == "a" && p.Reveal(1) == "")
	}
	if (domain.Plaintexts{}).Len() != 0 {
		t.Fatal("the zero Plaintexts is not empty")
	}
	type holder struct {
		names  []string
		values domain.Plaintexts
	}
	for _, arg := range []any{p, &p, holder{[]string{"A", "B", "C"}, p}, &holder{values: p}, []domain.Plaintexts{p}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			assertRedacted(t, fmt.Sprintf(verb, arg))
		}
	}
	b, err := json.Marshal(struct{ Values domain.Plaintexts }{p})
	if err != nil || string(b) != `{"Values":"[redacted]"}` {
		t.Fatalf("JSON %s, err %v", b, err)
	}
}
