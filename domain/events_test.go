package domain_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// everyEvent has one fully populated value of each event type, keyed by its type name.
func everyEvent() map[string]domain.Event {
	expires := time.Date(2027, 6, 30, 12, 0, 0, 0, time.UTC)
	return map[string]domain.Event{
		"UserRegistered":      domain.UserRegistered{Email: "alice@example.com", Name: "Alice Ünïcode", PasswordHash: "$argon2id$v=19$...", Superadmin: true},
		"OrganizationCreated": domain.OrganizationCreated{Name: "Acme", OwnerID: "u-1"},
		"OrganizationUpdated": domain.OrganizationUpdated{Name: ptr("Acme Corp"), RevealPolicy: ptr(domain.RevealDisabled)},
		"DataKeyRotated":      domain.DataKeyRotated{Version: 2, Automatic: true},
		"MemberAdded":         domain.MemberAdded{UserID: "u-2", Role: domain.RoleEditor},
		"MemberRoleChanged":   domain.MemberRoleChanged{UserID: "u-2", From: domain.RoleEditor, To: domain.RoleOwner},
		"MemberRemoved":       domain.MemberRemoved{UserID: "u-2", Role: domain.RoleOwner},
		"SecretCreated": domain.SecretCreated{Name: "STRIPE_SECRET_KEY", Description: "Stripe <live> & \"quoted\"", OwnerID: "u-1",
			Values: values(domain.Development, vv(1, "d"), domain.Production, vv(1, "p"))},
		"SecretUpdated": domain.SecretUpdated{Description: ptr(""), Set: values(domain.Staging, vv(4, "s")),
			Removed: []domain.Environment{domain.Development, domain.Production}},
		"SecretValueDeleted":   domain.SecretValueDeleted{Env: domain.Production, Version: 7},
		"SecretDeleted":        domain.SecretDeleted{Name: "STRIPE_SECRET_KEY"},
		"SecretRolledBack":     domain.SecretRolledBack{Env: domain.Production, FromVersion: 2, Value: vv(8, "p2")},
		"SecretRevealed":       domain.SecretRevealed{SecretID: "s-1", Env: domain.Staging, Version: 3},
		"AccessDenied":         domain.AccessDenied{Action: domain.AuditSecretRevealed, SecretID: "s-1", Env: domain.Production, Code: domain.CodeRevealDisabled},
		"ServiceTokenCreated":  domain.ServiceTokenCreated{Name: "ci", Environments: []domain.Environment{domain.Staging, domain.Production}, ExpiresAt: &expires, SecretHash: "h"},
		"ServiceTokenRevoked":  domain.ServiceTokenRevoked{Name: "ci"},
		"PersonalTokenCreated": domain.PersonalTokenCreated{UserID: "u-1", Name: "laptop", ExpiresAt: &expires, SecretHash: "h"},
		"PersonalTokenRevoked": domain.PersonalTokenRevoked{},
		"SecretsFetched":       domain.SecretsFetched{Env: domain.Production, Names: []string{"A", "B_2"}},
		"OrganizationErased":   domain.OrganizationErased{OrgID: "o-1"},
		"WebhookCreated":       domain.WebhookCreated{URL: "https://hooks.example.com/k?token=abc", Environments: []domain.Environment{domain.Production}, Description: "deploys", SigningSecret: "whsec_x"},
		"WebhookDeleted":       domain.WebhookDeleted{},
	}
}

// minimalEvents have every optional field empty, to check that omitted fields decode to
// the zero value they were.
func minimalEvents() []domain.Event {
	return []domain.Event{
		domain.OrganizationUpdated{Name: ptr("only name")},
		domain.OrganizationUpdated{RevealPolicy: ptr(domain.RevealAllowed)},
		domain.SecretCreated{Name: "BARE", OwnerID: "u-1"},
		domain.SecretUpdated{Description: ptr("only description")},
		domain.SecretUpdated{Removed: []domain.Environment{domain.Staging}},
		domain.AccessDenied{Action: domain.AuditMemberAdded, Code: domain.CodeForbidden},
		domain.ServiceTokenCreated{Name: "forever", Environments: []domain.Environment{domain.Development}, SecretHash: "h"},
		domain.PersonalTokenCreated{UserID: "u-1", Name: "forever", SecretHash: "h"},
		domain.WebhookCreated{URL: "https://example.com/", SigningSecret: "whsec_x"},
	}
}

func TestDecodeEventRoundTripsEveryType(t *testing.T) {
	t.Parallel()
	for typ, ev := range everyEvent() {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			if ev.EventType() != typ {
				t.Fatalf("EventType() = %q, want %q", ev.EventType(), typ)
			}
			assertRoundTrip(t, ev)
		})
	}
	for _, ev := range minimalEvents() {
		t.Run("minimal "+ev.EventType(), func(t *testing.T) {
			t.Parallel()
			assertRoundTrip(t, ev)
		})
	}
}

func assertRoundTrip(tb testing.TB, ev domain.Event) {
	tb.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		tb.Fatalf("json.Marshal: %v", err)
	}
	got, err := domain.DecodeEvent(ev.EventType(), domain.SchemaVersion(ev.EventType()), data)
	if err != nil {
		tb.Fatalf("DecodeEvent(%s): %v", data, err)
	}
	if !reflect.DeepEqual(got, ev) {
		tb.Fatalf("round trip through %s:\n got  %#v\n want %#v", data, got, ev)
	}
}

// TestEveryRegisteredEventTypeIsRoundTripped reads DecodeEvent's registry from its source
// and checks that everyEvent covers exactly the types it knows, so that a new event type
// cannot be added without a round-trip test.
func TestEveryRegisteredEventTypeIsRoundTripped(t *testing.T) {
	t.Parallel()
	registered := registeredEventTypes(t)
	var tested []string
	for typ := range everyEvent() {
		tested = append(tested, typ)
	}
	slices.Sort(registered)
	slices.Sort(tested)
	if !slices.Equal(registered, tested) {
		t.Fatalf("DecodeEvent knows %v\nbut the round-trip table has %v", registered, tested)
	}
}

// registeredEventTypes returns the string cases of DecodeEvent's switch in events.go.
func registeredEventTypes(tb testing.TB) []string {
	tb.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "events.go", nil, 0)
	if err != nil {
		tb.Fatalf("parse events.go: %v", err)
	}
	var types []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "DecodeEvent" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			for _, e := range cc.List {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						tb.Fatalf("unquote %s: %v", lit.Value, err)
					}
					types = append(types, s)
				}
			}
			return true
		})
	}
	if len(types) == 0 {
		tb.Fatalf("found no event types in DecodeEvent")
	}
	return types
}

func TestDecodeEventRejects(t *testing.T) {
	t.Parallel()
	valid := []byte(`{"user_id":"u-2","role":"editor"}`)
	tests := []struct {
		name   string
		typ    string
		schema int
		data   []byte
	}{
		{"unknown type", "SecretExploded", 1, valid},
		{"empty type", "", 1, valid},
		{"type in another case", "memberadded", 1, valid},
		{"schema 0", "MemberAdded", 0, valid},
		{"negative schema", "MemberAdded", -1, valid},
		{"schema from the future", "MemberAdded", domain.SchemaVersion("MemberAdded") + 1, valid},
		{"malformed JSON", "MemberAdded", 1, []byte(`{"user_id":`)},
		{"wrong field type", "SecretValueDeleted", 1, []byte(`{"env":"production","version":"seven"}`)},
		{"not an object", "SecretDeleted", 1, []byte(`["STRIPE"]`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := domain.DecodeEvent(tt.typ, tt.schema, tt.data)
			if err == nil {
				t.Fatalf("DecodeEvent accepted it: %#v", ev)
			}
			if ev != nil {
				t.Fatalf("DecodeEvent returned an event with its error: %#v", ev)
			}
		})
	}
}

func TestDecodeEventErrorsNameWhatFailed(t *testing.T) {
	t.Parallel()
	_, err := domain.DecodeEvent("SecretExploded", 1, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "SecretExploded") {
		t.Fatalf("unknown type error %v does not name the type", err)
	}
	_, err = domain.DecodeEvent("MemberAdded", 99, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "99") {
		t.Fatalf("unknown schema error %v does not name the schema", err)
	}
}

func TestAuditAction(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"UserRegistered":       "",
		"OrganizationCreated":  "",
		"OrganizationUpdated":  "org.updated",
		"DataKeyRotated":       "", // recorded on the organization, not an audit action
		"MemberAdded":          "member.added",
		"MemberRoleChanged":    "member.role_changed",
		"MemberRemoved":        "member.removed",
		"SecretCreated":        "secret.created",
		"SecretUpdated":        "secret.updated",
		"SecretValueDeleted":   "secret.deleted",
		"SecretDeleted":        "secret.deleted",
		"SecretRolledBack":     "secret.rolled_back",
		"SecretRevealed":       "secret.revealed",
		"AccessDenied":         "secret.revealed", // the action that was refused
		"ServiceTokenCreated":  "token.created",
		"ServiceTokenRevoked":  "token.revoked",
		"PersonalTokenCreated": "",
		"PersonalTokenRevoked": "",
		"SecretsFetched":       "secrets.fetched",
		"OrganizationErased":   "",
		"WebhookCreated":       "webhook.created",
		"WebhookDeleted":       "webhook.deleted",
	}
	for typ, ev := range everyEvent() {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			w, ok := want[typ]
			if !ok {
				t.Fatalf("no expected audit action for %s", typ)
			}
			if got := domain.AuditAction(ev); got != w {
				t.Fatalf("AuditAction(%s) = %q, want %q", typ, got, w)
			}
		})
	}
}
