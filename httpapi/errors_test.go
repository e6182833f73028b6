package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestErrorTable drives every row of the error table with an error that belongs to it
// and checks the status, the code and that the problem is complete.
func TestErrorTable(t *testing.T) {
	t.Parallel()
	cases := map[string]error{
		codeInvalidJSON:                         errInvalidJSON("The request body is not valid JSON."),
		codeInvalidRequest:                      errInvalidRequest("Unknown field \"x\"."),
		string(domain.CodeUnauthenticated):      errUnauthenticated(),
		string(domain.CodeForbidden):            domain.Errorf(domain.CodeForbidden, "Your role does not allow creating secrets."),
		string(domain.CodeRevealDisabled):       domain.Errorf(domain.CodeRevealDisabled, "Revealing values is disabled in this organization."),
		codeCSRF:                                &apiError{code: codeCSRF, detail: "Send the CSRF header."},
		string(domain.CodeNotFound):             errNotFound(),
		codeMethodNotAllowed:                    fiber.ErrMethodNotAllowed,
		string(domain.CodeSecretNameTaken):      domain.Errorf(domain.CodeSecretNameTaken, "A secret named %q already exists in this organization.", "X"),
		string(domain.CodeVersionConflict):      fmt.Errorf("append: %w", eventstore.ErrVersionConflict),
		string(domain.CodeLastOwner):            domain.Errorf(domain.CodeLastOwner, "The organization must keep at least one owner."),
		string(domain.CodeEmailTaken):           domain.Errorf(domain.CodeEmailTaken, "An account with this email already exists."),
		string(domain.CodeTooLarge):             fiber.ErrRequestEntityTooLarge,
		string(domain.CodeIdempotencyKeyReused): domain.Errorf(domain.CodeIdempotencyKeyReused, "This Idempotency-Key was sent with another request."),
		codeUnsupportedMediaType:                &apiError{code: codeUnsupportedMediaType, detail: "Send JSON."},
		string(domain.CodeValidation):           domain.Invalid("name", "is required"),
		codeRateLimited:                         &apiError{code: codeRateLimited, detail: "Too many failed logins."},
		codeInternal:                            errors.New("pq: connection refused to 10.0.0.1 with password hunter2"),
		codeUnavailable:                         fmt.Errorf("load kl.events.x: %w", eventstore.ErrUnavailable),
	}
	if len(cases) != len(errorTable) {
		t.Fatalf("%d cases for %d rows: cover every row", len(cases), len(errorTable))
	}
	for _, row := range errorTable {
		t.Run(row.Code, func(t *testing.T) {
			err, ok := cases[row.Code]
			if !ok {
				t.Fatalf("no case for row %q", row.Code)
			}
			p, internal := toProblem(err, eventstore.IsUnavailable)
			if p.Code != row.Code || p.Status != row.Status {
				t.Fatalf("got %d %q, want %d %q", p.Status, p.Code, row.Status, row.Code)
			}
			if p.Type == "" || p.Title == "" || p.Detail == "" {
				t.Fatalf("incomplete problem %+v", p)
			}
			if internal != (row.Code == codeInternal) {
				t.Fatalf("internal = %v", internal)
			}
			if row.Code == string(domain.CodeValidation) && (len(p.Errors) != 1 || p.Errors[0].Field != "name") {
				t.Fatalf("validation errors %+v", p.Errors)
			}
		})
	}
}

func TestErrorMappingDetails(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"internal never echoes", errors.New("secret value sk_live_123"), http.StatusInternalServerError, codeInternal},
		{"fiber 404 hides the path", fiber.NewError(http.StatusNotFound, "Cannot GET /api/v1/<script>"), http.StatusNotFound, "not_found"},
		{"fiber 400", fiber.NewError(http.StatusBadRequest, "malformed"), http.StatusBadRequest, codeInvalidRequest},
		{"fiber 415", fiber.NewError(http.StatusUnsupportedMediaType, "malformed"), http.StatusUnsupportedMediaType, codeUnsupportedMediaType},
		{"too large value", domain.ValidateValue(domain.Production, domain.NewPlaintext(string(make([]byte, domain.MaxValueBytes+1)))), http.StatusRequestEntityTooLarge, "too_large"},
		{"audited refusal keeps its code", &commands.AuditedError{Err: domain.Errorf(domain.CodeForbidden, "no"), Seq: 7}, http.StatusForbidden, "forbidden"},
		{"domain version conflict", domain.Errorf(domain.CodeVersionConflict, "stale"), http.StatusConflict, "version_conflict"},
		{"unknown domain code is internal", &domain.Error{Code: "mystery", Message: "x"}, http.StatusInternalServerError, codeInternal},
		{"no response from stream", fmt.Errorf("append: %w", jetstream.ErrNoStreamResponse), http.StatusServiceUnavailable, codeUnavailable},
		{"session bucket timeout", fmt.Errorf("KEYLEDGER_SESSIONS get: %w", context.DeadlineExceeded), http.StatusServiceUnavailable, codeUnavailable},
		{"nats timeout", fmt.Errorf("stream info: %w", nats.ErrTimeout), http.StatusServiceUnavailable, codeUnavailable},
		{"no responders", fmt.Errorf("load: %w", nats.ErrNoResponders), http.StatusServiceUnavailable, codeUnavailable},
		{"connection closed", fmt.Errorf("publish: %w", nats.ErrConnectionClosed), http.StatusServiceUnavailable, codeUnavailable},
		{"connection reconnecting", fmt.Errorf("publish: %w", nats.ErrConnectionReconnecting), http.StatusServiceUnavailable, codeUnavailable},
		{"jetstream 503", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, http.StatusServiceUnavailable, codeUnavailable},
		{"cancelled is not unavailable", fmt.Errorf("load: %w", context.Canceled), http.StatusInternalServerError, codeInternal},
		{"read models' database unreachable", fmt.Errorf("list members: %w: %w", projections.ErrUnavailable, errors.New("dial tcp 10.0.0.5:5432: connection refused")), http.StatusServiceUnavailable, codeUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := toProblem(tc.err, eventstore.IsUnavailable)
			if p.Status != tc.status || p.Code != tc.code {
				t.Fatalf("got %d %q, want %d %q", p.Status, p.Code, tc.status, tc.code)
			}
			if tc.code == codeUnavailable && errors.Is(tc.err, projections.ErrUnavailable) != strings.Contains(p.Detail, "database") {
				t.Fatalf("detail %q does not say which store is unavailable", p.Detail)
			}
			for _, leak := range []string{"sk_live", "<script>", "hunter2", "malformed", "mystery", "10.0.0.5"} {
				if strings.Contains(p.Detail, leak) {
					t.Fatalf("detail %q echoes %q", p.Detail, leak)
				}
			}
		})
	}
}
