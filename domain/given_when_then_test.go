package domain_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// This file holds the machinery of the aggregate tests: "given these events, when this
// decision, then these events or this error code".

// epoch is the time of the first given event; each later event is one minute later, so
// that tests can tell which event a timestamp came from.
var epoch = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

// at is the time the i-th given event (0-based) is recorded at.
func at(i int) time.Time { return epoch.Add(time.Duration(i) * time.Minute) }

// aggregate is what every aggregate under test has in common: replaying events into it.
type aggregate interface {
	Apply(domain.Recorded)
}

// scenario is one given/when/then case of an aggregate A.
type scenario[A aggregate] struct {
	name  string
	given []domain.Event
	when  func(A) ([]domain.Event, error)
	// then is the events the decision must return; nil or empty means none.
	then []domain.Event
	// err is the error code the decision must fail with; "" means it must succeed.
	err domain.Code
	// field, when set, is the field the validation error must name.
	field string
}

// given replays events into agg, the i-th at at(i), and returns agg.
func given[A aggregate](tb testing.TB, agg A, events ...domain.Event) A {
	tb.Helper()
	for i, e := range events {
		agg.Apply(domain.Recorded{Seq: uint64(i + 1), Time: at(i), Event: e})
	}
	return agg
}

// runScenarios runs each scenario against a fresh aggregate from fresh.
func runScenarios[A aggregate](t *testing.T, fresh func() A, scenarios []scenario[A]) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			agg := given(t, fresh(), sc.given...)
			got, err := sc.when(agg)
			if sc.err != "" {
				thenCode(t, err, sc.err)
				if sc.field != "" {
					thenField(t, err, sc.field)
				}
				if len(got) != 0 {
					t.Fatalf("a refused decision returned events: %#v", got)
				}
				return
			}
			thenEvents(t, got, err, sc.then...)
		})
	}
}

// one adapts a decision that returns at most one event to the scenario signature.
func one(e domain.Event, err error) ([]domain.Event, error) {
	if e == nil {
		return nil, err
	}
	return []domain.Event{e}, err
}

// thenEvents asserts that a decision succeeded with exactly want.
func thenEvents(tb testing.TB, got []domain.Event, err error, want ...domain.Event) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("decision failed: %v", err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("events:\n got  %#v\n want %#v", got, want)
	}
}

// thenCode asserts that err is a domain error with code want ("" means no error).
func thenCode(tb testing.TB, err error, want domain.Code) {
	tb.Helper()
	if want == "" {
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if got := domain.ErrorCode(err); got != want {
		tb.Fatalf("error code = %q (err: %v), want %q", got, err, want)
	}
}

// thenField asserts that err names field as the one that broke a rule.
func thenField(tb testing.TB, err error, field string) {
	tb.Helper()
	var de *domain.Error
	if !errors.As(err, &de) {
		tb.Fatalf("error %v is not a *domain.Error", err)
	}
	if len(de.Fields) != 1 || de.Fields[0].Field != field {
		tb.Fatalf("error fields = %+v, want exactly field %q", de.Fields, field)
	}
	if de.Fields[0].Message == "" {
		tb.Fatalf("field error %q has no message", field)
	}
}

// thenValid asserts a validation outcome: wantCode "" means err must be nil, otherwise err
// must carry wantCode and, for field-level rules, name field.
func thenValid(tb testing.TB, err error, wantCode domain.Code, field string) {
	tb.Helper()
	thenCode(tb, err, wantCode)
	if wantCode != "" && field != "" {
		thenField(tb, err, field)
	}
}
